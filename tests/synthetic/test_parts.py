"""The procedural categories share aligned parts within each meta-class, so pose can carry from known to novel."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dataset_card import KNOWN_CATEGORIES, META_CLASS_OF, META_CLASSES
from modeling.synthetic.categories import MODELS, synthetic_categories_paragraph
from modeling.synthetic.generator import DEFAULT_CATEGORIES
from modeling.synthetic.meshes import (
    ACCENT,
    MESH_CATEGORIES,
    SYMMETRIC_CATEGORIES,
    Mesh,
    build_mesh,
    front_part,
    num_cad_models,
    off_text,
)

SHARED_PART_DISTANCE = 0.35
"""Most that a shared part's centre may move between two categories of a meta-class (meshes are 1 unit across)."""
SIDE_MARGIN = 0.1
"""A shared part may not sit on opposite sides of an axis in two categories, both farther than this from it."""
FRONT_QUARTER = 0.25
"""The front part lies in the front-most quarter of the object's depth (y extent)."""


def _centre(points: np.ndarray) -> np.ndarray:
    """Bounding-box centre (3,): unlike the vertex mean, it does not depend on how finely a part is tessellated."""
    return (points.min(0) + points.max(0)) / 2


def _meshes(categories: list[str] | tuple[str, ...]) -> dict[str, list[Mesh]]:
    return {c: [build_mesh(c, i) for i in range(1, num_cad_models(c) + 1)] for c in categories}


def _front_problems(category: str, mesh: Mesh, front: str) -> list[str]:
    """Why the front part is not the front-most part on −y (empty when it is)."""
    centre = _centre(mesh.part_vertices(front))
    others = [_centre(mesh.part_vertices(name))[1] for name in mesh.part_names if name != front]
    y_min, y_max = mesh.vertices[:, 1].min(), mesh.vertices[:, 1].max()
    problems = []
    if not centre[1] < min(others):
        problems.append(f"{category}: part {front} is not the front-most part")
    if not (centre[1] - y_min) / (y_max - y_min) < FRONT_QUARTER:
        problems.append(f"{category}: part {front} is not in the front quarter of the depth")
    if not abs(centre[0]) < abs(centre[1]):
        problems.append(f"{category}: part {front} points along x, not −y")
    return problems


def _shared_part_problems(meshes: dict[str, list[Mesh]]) -> list[str]:
    """Pairs of categories of one meta-class whose part of the same name sits in a different place."""
    problems = []
    for meta in META_CLASSES:
        centres: dict[str, list[tuple[str, np.ndarray]]] = {}
        for category, variants in meshes.items():
            if META_CLASS_OF[category] != meta:
                continue
            for mesh in variants:
                for name in mesh.part_names:
                    if name != front_part(category):
                        centres.setdefault(name, []).append((category, _centre(mesh.part_vertices(name))))
        for name, placed in centres.items():
            for (cat_a, a), (cat_b, b) in itertools.combinations(placed, 2):
                if cat_a == cat_b:
                    continue
                opposite = (a * b < 0) & (np.minimum(abs(a), abs(b)) > SIDE_MARGIN)
                if np.linalg.norm(a - b) > SHARED_PART_DISTANCE or opposite.any():
                    problems.append(f"{meta}: {name} of {cat_a} at {a.round(2)} but of {cat_b} at {b.round(2)}")
    return problems


def _turned(mesh: Mesh, angle: float) -> Mesh:
    """The mesh turned about z by ``angle`` radians (what a category modelled in another frame would look like)."""
    c, s = np.cos(angle), np.sin(angle)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return Mesh(mesh.vertices @ rotation.T, mesh.faces, mesh.materials, mesh.part_names, mesh.face_parts)


def test_every_face_belongs_to_a_named_part():
    for category, variants in _meshes(MESH_CATEGORIES).items():
        for mesh in variants:
            assert mesh.face_parts is not None and mesh.face_parts.shape == (len(mesh.faces),)
            assert len(set(mesh.part_names)) == len(mesh.part_names) >= 2, category
            assert set(np.unique(mesh.face_parts)) == set(range(len(mesh.part_names))), category
    with pytest.raises(KeyError, match="no part 'wings'"):
        build_mesh("car", 1).part_vertices("wings")


def test_the_front_part_is_the_front_most_on_minus_y():
    assert set(SYMMETRIC_CATEGORIES) == {c for c in MESH_CATEGORIES if front_part(c) is None} == {"bottle"}
    for category, variants in _meshes(MESH_CATEGORIES).items():
        front = front_part(category)
        for mesh in variants if front else ():
            assert not _front_problems(category, mesh, front)
            # The accent material marks the front: most accent faces belong to the front part.
            accent = mesh.materials == ACCENT
            in_front = mesh.face_parts[accent] == mesh.part_names.index(front)
            assert accent.any() and in_front.mean() > 0.5, category


def test_shared_parts_sit_in_the_same_place_across_a_meta_class():
    meshes = _meshes(MESH_CATEGORIES)
    assert not _shared_part_problems(meshes)


def test_the_checks_catch_a_category_in_another_frame():
    """A novel category modelled facing +x or +y instead of −y fails the checks (they can fail)."""
    meshes = _meshes(DEFAULT_CATEGORIES)
    for category in ("chair", "kettle", "tvmonitor", "violin", "power_drill", "skateboard", "ambulance"):
        for angle in (np.pi / 2, np.pi, -np.pi / 2):
            turned = {**meshes, category: [_turned(m, angle) for m in meshes[category]]}
            assert _front_problems(category, turned[category][0], front_part(category)), (category, angle)
            # Where shared parts sit off the centre (a back, a handle, a screen, tail lights), they show it too.
            if category in ("chair", "kettle", "tvmonitor", "ambulance") and angle == np.pi:
                assert _shared_part_problems(turned), (category, angle)


def test_every_meta_class_has_known_and_novel_categories_that_share_parts():
    for meta in META_CLASSES:
        members = [c for c in DEFAULT_CATEGORIES if META_CLASS_OF[c] == meta]
        known = [c for c in members if c in KNOWN_CATEGORIES]
        novel = [c for c in members if c not in KNOWN_CATEGORIES]
        assert known and novel, meta
        for category in novel:
            parts = set(build_mesh(category, 1).part_names)
            shared = max(len(parts & set(build_mesh(k, 1).part_names)) for k in known)
            assert shared >= 2, (meta, category, parts)


def test_meshes_are_deterministic():
    for category in ("teapot", "fire_truck", "violin"):
        for cad_index in range(1, num_cad_models(category) + 1):
            assert off_text(build_mesh.__wrapped__(category, cad_index)) == off_text(build_mesh(category, cad_index))


def test_the_card_paragraph_names_known_and_novel_categories():
    text = synthetic_categories_paragraph(DEFAULT_CATEGORIES)
    assert "known" in text and "novel" in text
    for category in DEFAULT_CATEGORIES:
        assert category in text
    assert "chair" in text.split("novel, only evaluated")[1] and "chair" not in text.split("novel, only")[0]
    text = synthetic_categories_paragraph(["car", "chair", "bench"])
    assert "known, trained on in Task 2: car, bench;" in text
    assert text.endswith("Furniture: chair (legs, seat, back, front as bench).")
    assert synthetic_categories_paragraph(["car", "bench"]).endswith("cross-category alignment argues.")  # no ". ."
    assert set(MODELS) == set(MESH_CATEGORIES)


def test_the_built_card_says_which_synthetic_categories_are_known_and_novel(small_dataset):
    card = (small_dataset / "README.md").read_text(encoding="utf-8")
    assert synthetic_categories_paragraph(DEFAULT_CATEGORIES) in card

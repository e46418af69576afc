"""Procedural CAD meshes for the synthetic release: the categories' named parts joined into one mesh per model.

Each category is assembled from its meta-class's shared parts (``modeling.synthetic.parts``, put together in
``modeling.synthetic.categories``) in the official object frame: z up, the object's front facing −y, so azimuth 0
looks at the front (camera centre at d·(0, −1, 0)). Meshes are centred on their bounding-box centre and scaled so
the farthest vertex lies 0.5 from the origin, like the unit-size CADs of the real release.

Every face carries a *material* index (body, trim, dark, glass, accent, metal) so the renderer can colour parts
differently (the accent marks the front), and a *part* index into the mesh's part names, which the OFF file does
not store. Vertices are rounded to the precision of the OFF text, so the mesh that is rendered is exactly the mesh
that is written to ``CAD/<category>/NN.off``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from modeling.synthetic.categories import MODELS
from modeling.synthetic.primitives import ACCENT, BODY, DARK, GLASS, METAL, TRIM

OFF_DECIMALS = 6


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh: vertices (N, 3) float64, faces (F, 3) int64 (outward winding), materials (F,) int64; and,
    when built from parts, ``part_names`` and ``face_parts`` (F,) int64, the index of each face's part."""

    vertices: np.ndarray
    faces: np.ndarray
    materials: np.ndarray
    part_names: tuple[str, ...] = ()
    face_parts: np.ndarray | None = None

    def part_vertices(self, name: str) -> np.ndarray:
        """The vertices (K, 3) of the faces of part ``name``; raises KeyError when the mesh has no such part."""
        if name not in self.part_names or self.face_parts is None:
            raise KeyError(f"no part {name!r}; parts: {', '.join(self.part_names)}")
        faces = self.faces[self.face_parts == self.part_names.index(name)]
        return self.vertices[np.unique(faces)]


MESH_CATEGORIES: tuple[str, ...] = tuple(sorted(MODELS))
"""Categories with a procedural model."""
SYMMETRIC_CATEGORIES: tuple[str, ...] = tuple(c for c in MESH_CATEGORIES if MODELS[c].front is None)
"""Rotationally symmetric about z: azimuth cannot be read from pixels (as for real bottles)."""


def num_cad_models(category: str) -> int:
    """How many CAD variants (``01.off`` … ``NN.off``) a category has; KeyError for a category without a model."""
    return MODELS[category].count


def front_part(category: str) -> str | None:
    """The name of the part that marks the category's front (at −y), None when it is rotationally symmetric."""
    return MODELS[category].front


@cache
def build_mesh(category: str, cad_index: int) -> Mesh:
    """The normalised mesh of ``CAD/<category>/<cad_index:02d>.off`` (cad_index is 1-based); ValueError when the
    category has no such model."""
    model = MODELS[category]
    if not 1 <= cad_index <= model.count:
        raise ValueError(f"{category} has CAD models 1..{model.count}, not {cad_index}")
    named = model.build(cad_index - 1)
    names = tuple(named)
    pieces = [(piece, k) for k, name in enumerate(names) for piece in named[name]]
    offsets = np.cumsum([0] + [len(p[0]) for p, _ in pieces])
    vertices = np.concatenate([p[0] for p, _ in pieces])
    faces = np.concatenate([p[1] + off for (p, _), off in zip(pieces, offsets)]).astype(np.int64)
    materials = np.concatenate([np.full(len(p[1]), p[2]) for p, _ in pieces]).astype(np.int64)
    face_parts = np.concatenate([np.full(len(p[1]), k) for p, k in pieces]).astype(np.int64)
    vertices = vertices - (vertices.min(0) + vertices.max(0)) / 2
    vertices = vertices * (0.5 / np.linalg.norm(vertices, axis=1).max())
    # Round to what the OFF text stores, so rendering the arrays equals rendering the file.
    vertices = np.round(vertices, OFF_DECIMALS) + 0.0
    for array in (vertices, faces, materials, face_parts):
        array.setflags(write=False)
    return Mesh(vertices, faces, materials, names, face_parts)


def off_text(mesh: Mesh) -> str:
    """The mesh as OFF text in the layout the official loader expects (single spaces, "3 i j k" faces)."""
    lines = ["OFF", f"{len(mesh.vertices)} {len(mesh.faces)} 0"]
    lines += [f"{x:.{OFF_DECIMALS}f} {y:.{OFF_DECIMALS}f} {z:.{OFF_DECIMALS}f}" for x, y, z in mesh.vertices]
    lines += [f"3 {i} {j} {k}" for i, j, k in mesh.faces]
    return "\n".join(lines) + "\n"


def read_off(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) float64 and faces (F, 3) int64 of an OFF file (triangles only)."""
    tokens = Path(path).read_text(encoding="ascii").split()
    if not tokens or tokens[0] != "OFF":
        raise ValueError(f"{path}: not an OFF file")
    n_vertices, n_faces = int(tokens[1]), int(tokens[2])
    start = 4
    vertices = np.array(tokens[start:start + 3 * n_vertices], dtype=np.float64).reshape(n_vertices, 3)
    faces = np.array(tokens[start + 3 * n_vertices:start + 3 * n_vertices + 4 * n_faces], dtype=np.int64)
    faces = faces.reshape(n_faces, 4)
    if np.any(faces[:, 0] != 3):
        raise ValueError(f"{path}: only triangle faces are supported")
    return vertices, faces[:, 1:]


__all__ = ["ACCENT", "BODY", "DARK", "GLASS", "MESH_CATEGORIES", "METAL", "SYMMETRIC_CATEGORIES", "TRIM", "Mesh",
           "build_mesh", "front_part", "num_cad_models", "off_text", "read_off"]

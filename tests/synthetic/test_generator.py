"""The synthetic release: official layout, official annotation types, pixels that agree with the poses."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dataset_card import CATEGORIES, KNOWN_CATEGORIES, META_CLASS_OF, META_CLASSES, NOVEL_CATEGORIES
from modeling.cli import main
from modeling.geometry import TWO_PI, project_points
from modeling.synthetic.generator import (
    DEFAULT_CATEGORIES,
    QUIRKS,
    SYMMETRIC_CATEGORIES,
    generate_release,
    summarize_release,
    synthesize_image,
)
from modeling.synthetic.meshes import ACCENT, MESH_CATEGORIES, build_mesh, read_off
from modeling.utils.errors import ImageNet3DError

POSE_KEYS = ("azimuth", "elevation", "theta", "distance", "px", "py")
STATUSES = {"status_good", "status_partially", "status_barely", "status_bad"}


def _annotations(path: Path) -> np.ndarray:
    # How the official scripts read them (allow_pickle is fine here: we wrote the file ourselves).
    return dict(np.load(path, allow_pickle=True))["annotations"]


def _manifest(root: Path) -> dict:
    return json.loads((root / "synthetic.json").read_text())


def _release_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_default_categories_span_the_taxonomy():
    assert len(DEFAULT_CATEGORIES) >= 12 and set(DEFAULT_CATEGORIES) <= set(CATEGORIES)
    assert {META_CLASS_OF[c] for c in DEFAULT_CATEGORIES} == set(META_CLASSES)
    for meta in META_CLASSES:  # the official open-vocabulary split: known and novel categories in every meta-class
        members = {c for c in DEFAULT_CATEGORIES if META_CLASS_OF[c] == meta}
        assert members & set(KNOWN_CATEGORIES) and members & set(NOVEL_CATEGORIES), meta
    assert len(set(DEFAULT_CATEGORIES) & set(KNOWN_CATEGORIES)) >= 6
    assert len(set(DEFAULT_CATEGORIES) & set(NOVEL_CATEGORIES)) >= 4
    assert SYMMETRIC_CATEGORIES and set(SYMMETRIC_CATEGORIES) <= set(DEFAULT_CATEGORIES)


def test_meshes_are_unit_size_with_the_front_at_minus_y():
    for category in DEFAULT_CATEGORIES:
        mesh = build_mesh(category, 1)
        assert np.linalg.norm(mesh.vertices, axis=1).max() == pytest.approx(0.5, abs=1e-5)
        assert 50 <= len(mesh.faces) <= 2000
    car = build_mesh("car", 1)
    headlights = car.vertices[car.faces[car.materials == ACCENT]].reshape(-1, 3)
    assert headlights[:, 1].max() < car.vertices[:, 1].min() + 0.05


def test_layout(synthetic_release):
    root = synthetic_release
    assert sorted(p.name for p in (root / "images").iterdir()) == sorted(DEFAULT_CATEGORIES)
    for category in DEFAULT_CATEGORIES:
        listed = []
        for split in ("train", "val"):
            ids = (root / "lists" / f"{category}_imagenet_{split}.txt").read_text().split()
            assert ids, (category, split)
            listed += ids
        assert len(listed) == len(set(listed))
        assert sorted(p.stem for p in (root / "images" / category).iterdir()) == sorted(listed)
        assert sorted(p.stem for p in (root / "annotations" / category).iterdir()) == sorted(listed)
        for image_id in listed:
            assert image_id.startswith("n") and image_id.split("_")[-1].isdigit()
            with Image.open(root / "images" / category / f"{image_id}.JPEG") as img:
                assert img.format == "JPEG" and img.mode == "RGB"
            for obj in _annotations(root / "annotations" / category / f"{image_id}.npz"):
                if "cad_index" in obj:
                    assert (root / "CAD" / category / f"{obj['cad_index']:02d}.off").is_file()


def test_off_files_have_the_official_layout(synthetic_release):
    indices = set()
    for path in sorted((synthetic_release / "CAD").glob("*/*.off")):
        lines = path.read_text().splitlines()
        n_vertices, n_faces, zero = (int(v) for v in lines[1].split(" "))
        assert lines[0] == "OFF" and zero == 0 and len(lines) == 2 + n_vertices + n_faces
        assert all(line.startswith("3 ") for line in lines[2 + n_vertices:])
        vertices, faces = read_off(path)
        assert faces.max() < n_vertices and vertices.shape == (n_vertices, 3)
        indices.add(path.stem)
    assert {"01", "02"} <= indices


def test_zip_mirrors_the_folder(synthetic_release):
    folder = _release_files(synthetic_release)
    del folder["imagenet3d_v1.zip"]
    with zipfile.ZipFile(synthetic_release / "imagenet3d_v1.zip") as archive:
        names = archive.namelist()
        assert all(name.startswith("imagenet3d_v1/") for name in names)
        members = {n.removeprefix("imagenet3d_v1/"): archive.read(n) for n in names if not n.endswith("/")}
        assert {"imagenet3d_v1/images/", "imagenet3d_v1/annotations/", "imagenet3d_v1/lists/",
                "imagenet3d_v1/CAD/"} <= set(names)
    assert members == folder


def test_annotation_keys_and_types(synthetic_release):
    seen = 0
    for path in sorted((synthetic_release / "annotations").glob("*/*.npz")):
        objects = _annotations(path)
        assert isinstance(objects, np.ndarray) and objects.dtype == object and len(objects) >= 1
        with Image.open(synthetic_release / "images" / path.parent.name / f"{path.stem}.JPEG") as img:
            width, height = img.size
        for obj in objects:
            assert obj["class"] == path.parent.name
            bbox = obj["bbox"]
            assert isinstance(bbox, np.ndarray) and bbox.shape == (4,) and bbox.dtype == np.float64
            assert 0 <= bbox[0] <= bbox[2] < width and 0 <= bbox[1] <= bbox[3] < height
            if "azimuth" not in obj:
                assert set(obj) == {"bbox", "class"}
                continue
            seen += 1
            for key in POSE_KEYS:
                assert isinstance(obj[key], float), key
            assert isinstance(obj["principal"], np.ndarray) and obj["principal"].tolist() == [obj["px"], obj["py"]]
            assert obj["focal"] == 1.0 and obj["viewport"] == 2000 and isinstance(obj["viewport"], int)
            assert type(obj["height"]) is np.uint16 and type(obj["width"]) is np.uint16
            assert (int(obj["width"]), int(obj["height"])) == (width, height)
            assert isinstance(obj["cad_index"], int) and obj["cad_index"] >= 1
            assert obj["object_status"] in STATUSES
            assert obj["dense"] in ("dense_yes", "dense_no")
            assert obj["ignore"] == int(obj["object_status"] == "status_bad" or obj["distance"] <= 0)
    assert seen > 50


def _supersampled_fill(uv: np.ndarray, faces: np.ndarray, size: tuple[int, int], factor: int = 4) -> np.ndarray:
    """Independent silhouette: PIL polygon fill of every face, 4x supersampled, pixel centres at integers."""
    width, height = size
    canvas = Image.new("L", (width * factor, height * factor))
    draw = ImageDraw.Draw(canvas)
    scaled = factor * (uv + 0.5) - 0.5
    for face in faces:
        draw.polygon([tuple(p) for p in scaled[face]], fill=1)
    return np.asarray(canvas).reshape(height, factor, width, factor).mean(axis=(1, 3)) >= 0.5


def _check_silhouettes(root: Path, categories: tuple[str, ...] | list[str], images_per_category: int) -> int:
    """Project the written OFF with the written pose, fill it, compare with the renderer's silhouette; returns the
    number of objects checked."""
    manifest = _manifest(root)
    checked = 0
    for category in categories:
        for index in range(images_per_category):
            size = tuple(manifest["image_size"]) if manifest["image_size"] else None
            sample = synthesize_image(category, index, manifest["seed"], size, manifest["quirk_rate"])
            written = _annotations(root / "annotations" / category / f"{sample.image_id}.npz")
            assert len(written) == len(sample.annotations)
            for obj, full, visible in zip(written, sample.full_masks, sample.visible_masks):
                assert not (visible & ~full).any()
                ys, xs = np.nonzero(visible)
                assert obj["bbox"].tolist() == [xs.min(), ys.min(), xs.max(), ys.max()]
                if "azimuth" not in obj or obj["distance"] <= 0:
                    continue
                vertices, faces = read_off(root / "CAD" / category / f"{obj['cad_index']:02d}.off")
                uv, depth = project_points(vertices, *(obj[k] for k in POSE_KEYS), obj["viewport"])
                assert (depth > 0).all()
                fill = _supersampled_fill(uv, faces, (int(obj["width"]), int(obj["height"])))
                iou = (fill & full).sum() / (fill | full).sum()
                assert iou >= 0.9, (category, sample.image_id, iou)
                checked += 1
    return checked


def test_rendered_silhouettes_match_the_annotated_pose(synthetic_release):
    """Every default category: the renderer's silhouette is the official projection of the written CAD model."""
    count = _manifest(synthetic_release)["images_per_category"]
    assert _check_silhouettes(synthetic_release, DEFAULT_CATEGORIES, count) > 50


def test_silhouettes_of_the_other_procedural_categories(tmp_path):
    """The categories outside the default release (``--categories`` can ask for them) render as they project too."""
    others = [c for c in MESH_CATEGORIES if c not in DEFAULT_CATEGORIES]
    assert others
    root = generate_release(tmp_path / "r", others, images_per_category=2, image_size=(240, 180), progress=False)
    assert _check_silhouettes(root, others, 2) >= len(others)


def test_status_follows_visibility():
    statuses = {}
    for index in range(30):
        sample = synthesize_image("chair", index, seed=5, quirk_rate=0.0)
        for obj, fraction in zip(sample.annotations, sample.visible_fractions):
            statuses.setdefault(obj["object_status"], []).append(fraction)
    assert min(statuses["status_good"]) >= 0.9
    assert max(statuses.get("status_partially", [0.6])) < 0.9


def test_quirks_at_rate_and_absent_at_zero():
    objects, quirks, statuses = 0, [], set()
    for category in ("car", "bottle"):
        for index in range(40):
            sample = synthesize_image(category, index, seed=1, image_size=(200, 150), quirk_rate=0.3)
            objects += len(sample.annotations)
            quirks += [q for q in sample.quirks if q]
            statuses |= {obj.get("object_status") for obj in sample.annotations}
            for obj, quirk in zip(sample.annotations, sample.quirks):
                if quirk == "pose_missing":
                    assert set(obj) == {"bbox", "class"}
                elif quirk == "distance_zero":
                    assert obj["distance"] == 0.0 and obj["ignore"] == 1
                elif quirk == "angles_unwrapped":
                    assert any(not 0 <= obj[k] < TWO_PI for k in ("azimuth", "elevation", "theta"))
    assert set(quirks) == set(QUIRKS)
    assert 0.15 < len(quirks) / objects < 0.45
    assert STATUSES <= statuses
    for index in range(20):
        sample = synthesize_image("car", index, seed=1, image_size=(200, 150), quirk_rate=0.0)
        assert not any(sample.quirks)
        for obj in sample.annotations:
            assert obj["distance"] > 0 and all(0 <= obj[k] < TWO_PI for k in ("azimuth", "elevation", "theta"))


def test_summary_counts_quirks(synthetic_release):
    summary = summarize_release(synthetic_release)
    manifest = _manifest(synthetic_release)
    assert summary["images"] == len(DEFAULT_CATEGORIES) * manifest["images_per_category"]
    assert summary["splits"]["train"] + summary["splits"]["val"] == summary["images"]
    assert sum(summary["object_status"].values()) == summary["objects"]
    injected = summary.get("quirks_injected", {})
    for kind in ("pose_missing", "distance_zero", "angles_unwrapped"):
        assert summary["quirks"].get(kind, 0) == injected.get(kind, 0)
    json.dumps(summary)


def test_deterministic(tmp_path):
    kwargs = dict(categories=["cup", "laptop"], images_per_category=4, progress=False, make_zip=True)
    first = _release_files(generate_release(tmp_path / "a", seed=3, **kwargs))
    second = _release_files(generate_release(tmp_path / "b", seed=3, num_proc=2, **kwargs))
    assert first == second
    other = _release_files(generate_release(tmp_path / "c", seed=4, **kwargs))
    assert set(other) != set(first) or any(other[k] != first[k] for k in first if k.endswith(".JPEG"))


def test_cli_synthesize(tmp_path, capsys):
    out = tmp_path / "release"
    code = main(["synthesize", str(out), "--categories", "car", "bottle", "--images-per-category", "2",
                 "--image-size", "320x240", "--no-progress", "--zip", "--num-proc", "1"])
    assert code == 0
    assert "images/s" in capsys.readouterr().out
    assert (out / "imagenet3d_v1.zip").is_file()
    for path in (out / "images").glob("*/*.JPEG"):
        with Image.open(path) as img:
            assert img.size == (320, 240)
    # Regenerating into an earlier synthetic release replaces it.
    assert main(["synthesize", str(out), "--categories", "car", "--images-per-category", "1", "--no-progress"]) == 0
    assert sorted(p.name for p in (out / "images").iterdir()) == ["car"]


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["synthesize", "--help"])
    assert exc.value.code == 0
    assert "--images-per-category" in capsys.readouterr().out


def test_cli_bad_arguments(tmp_path, capsys):
    assert main(["synthesize", str(tmp_path / "x"), "--categories", "spaceship", "--no-progress"]) == 2
    assert "spaceship" in capsys.readouterr().err
    assert main(["synthesize", str(tmp_path / "y"), "--categories", "yurt", "--no-progress"]) == 2
    assert "without a procedural model" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["synthesize", str(tmp_path / "z"), "--image-size", "big"])
    assert exc.value.code == 2
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    assert main(["synthesize", str(tmp_path / "busy"), "--no-progress"]) == 2
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_generate_release_validates_input(tmp_path):
    with pytest.raises(ImageNet3DError):
        generate_release(tmp_path / "a", ["car"], images_per_category=0, progress=False)
    with pytest.raises(ImageNet3DError):
        generate_release(tmp_path / "b", ["car"], quirk_rate=2.0, progress=False)


def test_images_per_category_can_differ_per_category(tmp_path):
    root = generate_release(tmp_path / "r", ["car", "cup"], images_per_category={"car": 10, "cup": 5},
                            quirk_rate=0.0, progress=False)
    for category, count in (("car", 10), ("cup", 5)):
        train = (root / "lists" / f"{category}_imagenet_train.txt").read_text().split()
        val = (root / "lists" / f"{category}_imagenet_val.txt").read_text().split()
        assert len(train) + len(val) == count and len(val) == round(0.2 * count)
        assert len(list((root / "images" / category).glob("*.JPEG"))) == count
    assert json.loads((root / "synthetic.json").read_text())["images_per_category"] == {"car": 10, "cup": 5}
    # Image i of a category does not depend on how many are rendered.
    small = generate_release(tmp_path / "s", ["cup"], images_per_category=3, quirk_rate=0.0, progress=False)
    for path in (small / "images" / "cup").glob("*.JPEG"):
        assert path.read_bytes() == (root / "images" / "cup" / path.name).read_bytes()
    with pytest.raises(ImageNet3DError, match="lacks"):
        generate_release(tmp_path / "m", ["car", "cup"], images_per_category={"car": 3}, progress=False)
    with pytest.raises(ImageNet3DError, match="cup"):
        generate_release(tmp_path / "z", ["car", "cup"], images_per_category={"car": 3, "cup": 0}, progress=False)


def test_cli_novel_images_per_category(tmp_path, capsys):
    out = tmp_path / "release"
    assert main(["synthesize", str(out), "--categories", "car", "sofa", "--images-per-category", "4",
                 "--novel-images-per-category", "2", "--no-progress", "--num-proc", "1"]) == 0
    assert "car" in KNOWN_CATEGORIES and "sofa" not in KNOWN_CATEGORIES
    assert len(list((out / "images" / "car").glob("*.JPEG"))) == 4
    assert len(list((out / "images" / "sofa").glob("*.JPEG"))) == 2

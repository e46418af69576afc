"""Objects the official filter keeps are in `pose`, whatever their box: a box past the image border (a truncated
object), inverted, NaN, malformed or missing is kept as found, named in `flags` and counted in the report."""

import json
import math
from collections import Counter

import datasets
import numpy as np
import pytest
from datasets import load_dataset

import imagenet3d
from modeling import cli
from modeling.synthetic.generator import generate_release
from tests.helpers.dataset import expected_objects, listed_images, npz_objects, official_filter

WIDTH, HEIGHT = 200, 120
CROP = 32
NAN = float("nan")
# (name, box written into the npz (None: no bbox key), the flags it gets)
BOXES = [
    ("past the right border", [120.0, 30.0, 204.0, 100.0], ["bbox_outside_image"]),
    ("past the top-left corner", [-3.0, -2.0, 80.0, 90.0], ["bbox_outside_image"]),
    ("inverted", [80.0, 30.0, 20.0, 100.0], ["bbox_inverted"]),
    ("inverted and past the border", [250.0, 30.0, 20.0, 100.0], ["bbox_inverted", "bbox_outside_image"]),
    ("NaN corner", [NAN, 30.0, 80.0, 100.0], ["bbox_not_finite"]),
    ("two numbers", [1.0, 2.0], ["bbox_malformed"]),
    ("missing", None, ["bbox_missing"]),
    ("on the border (rounding)", [-1.0, 0.0, 201.0, 120.0], []),
]


def _rewrite(release, category, image_id, boxes):
    objects = npz_objects(release, category, image_id)
    for index, box in boxes.items():
        if box is None:
            del objects[index]["bbox"]
        else:
            objects[index]["bbox"] = np.asarray(box, dtype=np.float64)
    array = np.empty(len(objects), dtype=object)
    array[:] = objects
    np.savez(release / "annotations" / category / f"{image_id}.npz", annotations=array)


@pytest.fixture(scope="module")
def odd_boxes(tmp_path_factory):
    """A 200 × 120 release whose kept objects (and one filtered object) carry every odd box; built once."""
    root = tmp_path_factory.mktemp("odd_boxes")
    release = generate_release(root / "release", ["car", "chair"], images_per_category=8, image_size=(WIDTH, HEIGHT),
                               quirk_rate=0.3, progress=False)
    planted: dict[str, tuple[str, list | None, list[str]]] = {}  # object_id -> (split, box, flags)
    pending, filtered_done = list(BOXES), False
    for split, images in listed_images(release).items():
        for category, image_id in images:
            changes = {}
            for index, obj in enumerate(npz_objects(release, category, image_id)):
                if official_filter(obj) and pending:
                    _, box, flags = pending.pop(0)
                elif not official_filter(obj) and "bbox" in obj and not filtered_done:
                    box, flags, filtered_done = BOXES[0][1], BOXES[0][2], True
                else:
                    continue
                changes[index] = box
                planted[f"{image_id}_{index:02d}"] = (split, box, flags)
            if changes:
                _rewrite(release, category, image_id, changes)
    assert not pending and filtered_done, "the synthetic release has too few objects for this test"
    out = root / "out"
    assert cli.main(["build", str(release), str(out), "--configs", "pose", "image", "--crop-size", str(CROP),
                     "--no-progress"]) == 0
    return release, out, planted


def test_pose_holds_exactly_the_official_filter_set(odd_boxes):
    release, out, planted = odd_boxes
    pose = load_dataset(str(out), "pose")
    expected = expected_objects(release)
    for split in ("train", "validation"):
        assert sorted(pose[split]["object_id"]) == sorted(expected[split])
    kept = [object_id for object_id, (split, _, _) in planted.items() if object_id in expected[split]]
    assert len(kept) == len(BOXES)


def test_odd_boxes_are_kept_as_found_and_flagged(odd_boxes):
    release, out, planted = odd_boxes
    pose = load_dataset(str(out), "pose")
    rows = {row["object_id"]: row for split in pose.values() for row in split}
    assert all(row["flags"] == [] for object_id, row in rows.items() if object_id not in planted)
    for object_id, (_, box, flags) in planted.items():
        if object_id not in rows:
            continue
        row = rows[object_id]
        assert row["flags"] == flags, object_id
        if box is None or len(box) != 4:
            assert row["bbox"] is None and row["bbox_original"] is None
            continue
        np.testing.assert_array_equal(row["bbox_original"], box)  # NaN stays NaN
        # Moved into the crop as the official script moves it: scaled and shifted, never clipped.
        rate = row["resize_rate"]
        left, top = int(row["px_original"] * rate) - CROP // 2, int(row["py_original"] * rate) - CROP // 2
        np.testing.assert_allclose(row["bbox"], np.asarray(box) * rate - [left, top, left, top])


def test_image_objects_carry_the_flags_and_the_numbers_as_found(odd_boxes):
    release, out, planted = odd_boxes
    images = load_dataset(str(out), "image")
    objects = {o["object_id"]: o for split in images.values() for row in split for o in row["objects"]}
    for object_id, (_, box, flags) in planted.items():
        got = objects[object_id]
        assert got["flags"] == flags
        assert got["passes_filter"] == (object_id in {i for s in expected_objects(release).values() for i in s})
        if box is None:
            assert got["bbox"] is None
        else:
            np.testing.assert_array_equal(got["bbox"], box)  # two numbers stay two numbers


def test_flags_are_counted_and_listed_in_the_report_and_card(odd_boxes):
    _, out, planted = odd_boxes
    report = json.loads((out / "build_report.json").read_text())
    counts: dict[str, Counter] = {}
    for split, _, flags in planted.values():
        counts.setdefault(split, Counter()).update(flags)
    assert report["flagged"] == {split: dict(sorted(c.items())) for split, c in sorted(counts.items()) if c}
    listed = Counter((f["flag"], f["field"].startswith("annotations[") and f["field"].endswith("].bbox"))
                     for f in report["flags"])
    assert listed == Counter({(flag, True): n for c in counts.values() for flag, n in c.items()})
    assert all(f["file"].startswith("annotations/") for f in report["flags"])
    assert report["skipped"] == {}  # flags are not skips
    assert "objects kept with a flagged box" in (out / "README.md").read_text()


def test_strict_builds_a_release_with_odd_boxes(odd_boxes, tmp_path):
    release, _, _ = odd_boxes
    assert cli.main(["build", str(release), str(tmp_path / "strict"), "--configs", "pose", "--crop-size", "16",
                     "--strict", "--no-progress"]) == 0


def test_the_builder_as_python_has_the_same_flags(odd_boxes, tmp_path):
    release, out, _ = odd_boxes
    builder = imagenet3d.ImageNet3D(config_name="pose", data_dir=str(release), cache_dir=str(tmp_path / "cache"),
                                    crop_size=CROP)
    builder.download_and_prepare()
    ours = builder.as_dataset()
    parquet = load_dataset(str(out), "pose")
    for split in ours:
        assert ours[split].features == parquet[split].features == imagenet3d.config_features("pose")
        a, b = (d.cast_column("image", datasets.Image(decode=False)).select_columns(["object_id", "flags", "bbox"])
                for d in (ours[split], parquet[split]))
        for x, y in zip(a.to_list(), b.to_list()):
            assert x["object_id"] == y["object_id"] and x["flags"] == y["flags"]
            assert (x["bbox"] is None) == (y["bbox"] is None)
            if x["bbox"] is not None:
                assert all(p == q or (math.isnan(p) and math.isnan(q)) for p, q in zip(x["bbox"], y["bbox"]))

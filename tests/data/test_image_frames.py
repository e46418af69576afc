"""Issue 14 (1, 2): what a user decodes from the built dataset is in the frame of its annotations, and keeps the
levels of wide samples. A tiny release in the official layout with a JPEG turned by EXIF, one turned by XMP, a
grayscale JPEG turned by EXIF, and a 16-bit grayscale ramp named .JPEG; every row of ``image``, ``pose`` and
``captions`` is checked as ``load_dataset`` decodes it (the ``Image`` feature applies orientation metadata)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from datasets import Image as ImageFeature
from datasets import load_dataset
from PIL import Image

from modeling import cli
from modeling.data.crop import object_centric_crop, official_crop_geometry
from modeling.llava_pose.inference import decoding_notes, open_image, read_image
from tests.data.test_images import exif_block, jpeg, two_colour, xmp_packet

CATEGORY = "chair"
CROP = 256
"""Crop side: with distance 8 the crop is the image at scale 1 (target distance 4 · 512 / 256 = 8)."""
BBOX = [20.0, 20.0, 140.0, 100.0]
PX, PY = 130.0, 60.0
"""Inside the stored 200 × 120 frame, outside a frame turned to 120 × 200."""


def ramp16() -> bytes:
    """A 200 × 120 16-bit grayscale PNG whose 200 columns run from 0 to 65535."""
    values = np.linspace(0, 65535, 200).round().astype("<u2")
    buffer = io.BytesIO()
    Image.frombytes("I;16", (200, 120), np.repeat(values[None, :], 120, axis=0).tobytes()).save(buffer, format="PNG")
    return buffer.getvalue()


def gray_turned() -> bytes:
    buffer = io.BytesIO()
    two_colour().convert("L").save(buffer, format="JPEG", exif=exif_block(6))
    return buffer.getvalue()


IMAGES = {
    "n03001627_1": lambda: jpeg(two_colour(), exif=exif_block(6)),
    "n03001627_2": lambda: jpeg(two_colour(), xmp=xmp_packet(6)),
    "n03001627_3": gray_turned,
    "n03001627_4": ramp16,
}
PLAIN = "n03001627_5"


def annotation(px: float = PX, py: float = PY) -> dict:
    """One object with the official keys, annotated in the stored 200 × 120 frame."""
    return {"bbox": np.array(BBOX), "class": CATEGORY, "azimuth": 1.0, "elevation": 0.2, "theta": 0.1,
            "distance": 8.0, "px": px, "py": py, "principal": np.array([px, py]), "focal": 1.0, "viewport": 3000,
            "height": np.uint16(120), "width": np.uint16(200), "cad_index": 1, "object_status": "status_good",
            "dense": "dense_no", "ignore": 0}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("frames") / "release"
    for folder in ("images", "annotations"):
        (root / folder / CATEGORY).mkdir(parents=True)
    (root / "lists").mkdir()
    files = {**{image_id: make() for image_id, make in IMAGES.items()}, PLAIN: jpeg(two_colour())}
    for image_id, data in files.items():
        (root / "images" / CATEGORY / f"{image_id}.JPEG").write_bytes(data)
        objects = np.empty(1, dtype=object)
        objects[:] = [annotation(px=100.0) if image_id == "n03001627_4" else annotation()]
        np.savez(root / "annotations" / CATEGORY / f"{image_id}.npz", annotations=objects)
    (root / "lists" / f"{CATEGORY}_imagenet_train.txt").write_text("\n".join(IMAGES) + "\n")
    (root / "lists" / f"{CATEGORY}_imagenet_val.txt").write_text(PLAIN + "\n")
    return root


@pytest.fixture(scope="module")
def built(release, tmp_path_factory):
    out = tmp_path_factory.mktemp("frames_out") / "out"
    assert cli.main(["build", str(release), str(out), "--configs", "pose", "image", "captions", "--crop-size",
                     str(CROP), "--strict", "--no-progress"]) == 0
    return out


def stored_frame(release, image_id: str) -> Image.Image:
    """The source file's pixels as the official scripts see them (PIL, never turned), 8-bit RGB."""
    with Image.open(release / "images" / CATEGORY / f"{image_id}.JPEG") as image:
        return image.convert("RGB") if image.mode not in ("I;16", "I") else Image.fromarray(
            np.rint(np.asarray(image, dtype=np.float64) / 257).astype(np.uint8)).convert("RGB")


def test_every_conversion_is_counted(built, release):
    report = json.loads((built / "build_report.json").read_text())
    assert report["skipped"] == {}
    assert report["converted"] == {"JPEG L, orientation 6": 1, "JPEG RGB, orientation 6": 2, "PNG I;16": 1}
    by_file = {c["file"]: c["to"] for c in report["conversions"]}
    path = f"images/{CATEGORY}/{{}}.JPEG".format
    assert by_file == {
        path("n03001627_1"): "same JPEG, orientation set to 1 (EXIF 6); pixels unchanged",
        path("n03001627_2"): "same JPEG, orientation set to 1 (XMP 6); pixels unchanged",
        path("n03001627_3"): "RGB PNG, stored frame, no orientation metadata",
        path("n03001627_4"): "RGB PNG, I;16 samples 0..65535 / 257",
    }
    assert "orientation rewritten" in (built / "README.md").read_text()


def test_image_rows_are_in_the_frame_of_their_annotations(built, release):
    rows = load_dataset(str(built), "image", split="train")
    assert rows["image_id"] == list(IMAGES)
    for row in rows:
        image, obj = row["image"], row["objects"][0]
        assert image.size == (row["width"], row["height"]) == (200, 120), row["image_id"]
        x1, y1, x2, y2 = obj["bbox"]
        assert 0 <= x1 < x2 <= row["width"] and 0 <= y1 < y2 <= row["height"]
        assert 0 <= obj["px"] < row["width"] and 0 <= obj["py"] < row["height"] and obj["passes_filter"]
        expected = np.asarray(stored_frame(release, row["image_id"]), dtype=np.int16)
        assert np.abs(np.asarray(image.convert("RGB"), dtype=np.int16) - expected).max() <= 1  # same pixels
    # The JPEGs keep their bytes but for the orientation value.
    raw = rows.cast_column("image", ImageFeature(decode=False))
    for image_id in ("n03001627_1", "n03001627_2"):
        stored = raw[list(IMAGES).index(image_id)]["image"]["bytes"]
        source = (release / "images" / CATEGORY / f"{image_id}.JPEG").read_bytes()
        assert len(stored) == len(source) and sum(a != b for a, b in zip(stored, source)) == 1


def test_sixteen_bit_ramp_keeps_its_levels(built):
    rows = load_dataset(str(built), "image", split="train")
    image = rows[list(IMAGES).index("n03001627_4")]["image"]
    levels = np.asarray(image.convert("L"))[60]
    assert len(np.unique(levels)) == 200 and np.all(np.diff(levels.astype(int)) > 0)
    crop = load_dataset(str(built), "pose", split="train").filter(lambda r: r["image_id"] == "n03001627_4")[0]
    row = np.asarray(crop["image"].convert("L"), dtype=int)[CROP // 2]
    inside = row[28:228]  # the crop is the image at scale 1, shifted by 100 - 128 = -28 columns
    assert len(np.unique(inside)) >= 100 and np.corrcoef(inside, np.arange(200))[0, 1] > 0.99


def test_crops_are_cut_from_the_stored_frame(built, release):
    rows = load_dataset(str(built), "pose", split="train")
    assert sorted(rows["image_id"]) == sorted(IMAGES)
    for row in rows:
        assert (row["width_original"], row["height_original"]) == (200, 120)
        assert row["bbox_original"] == BBOX and row["image"].size == (CROP, CROP)
        source = stored_frame(release, row["image_id"])
        geometry = official_crop_geometry(200, 120, row["px_original"], row["py_original"], 8.0, CROP)
        expected = np.asarray(object_centric_crop(source, geometry), dtype=np.int16)
        got = np.asarray(row["image"].convert("RGB"), dtype=np.int16)
        assert np.abs(got - expected).mean() < 4, row["image_id"]  # JPEG noise; a turned source differs by ~100


def test_captions_pair_the_image_with_its_coordinates(built):
    rows = load_dataset(str(built), "captions", split="train")
    assert len(rows) == len(IMAGES)
    for row in rows:
        width, height = row["image"].size
        assert (width, height) == (200, 120)
        for entry in row["pose6d"]:
            assert 0 <= entry["px"] < width and 0 <= entry["py"] < height


def test_predict_reads_the_same_levels_and_turns_photos_upright(release):
    ramp = read_image(release / "images" / CATEGORY / "n03001627_4.JPEG")
    assert ramp.mode == "RGB" and len(np.unique(np.asarray(ramp)[60, :, 0])) == 200
    assert decoding_notes(open_image(release / "images" / CATEGORY / "n03001627_4.JPEG")) == [
        "PNG I;16 scaled to 8-bit RGB (I;16 samples 0..65535 / 257)"]
    for image_id in ("n03001627_1", "n03001627_2", "n03001627_3"):
        path = release / "images" / CATEGORY / f"{image_id}.JPEG"
        photo = read_image(path)
        assert photo.size == (120, 200)  # as viewers show it: the left (red) half is now on top
        top, bottom = np.asarray(photo, dtype=int)[10, 60], np.asarray(photo, dtype=int)[190, 60]
        if image_id == "n03001627_3":  # grayscale: red is the brighter half
            assert top.mean() > bottom.mean() + 20
        else:
            assert top[0] > top[2] + 100 and bottom[2] > bottom[0] + 100, image_id
        assert "applied the orientation 6" in decoding_notes(open_image(path))[0]

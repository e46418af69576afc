"""The crop a box gives (modeling/box_crop.py): calibrated on the training crops, clipped boxes, pixels and mapping."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from modeling.box_crop import BOX_FILL, BOX_FILL_MEASURE, box_crop, box_crop_geometry, clip_box, object_in_image
from modeling.data.crop import box_fill_ratios, measure_box_fill


def test_box_fill_is_what_the_training_crops_measure(small_dataset):
    """The constant, recomputed on the session's small synthetic release (5 images per category), within 10 %."""
    measured = measure_box_fill(small_dataset, "train", BOX_FILL_MEASURE)
    assert measured["count"] > 50
    assert measured["median"] == pytest.approx(BOX_FILL, rel=0.10), measured
    assert measured["q25"] < BOX_FILL < measured["q75"]


def test_box_fill_ratios_by_hand():
    boxes = [[0, 0, 128, 64], [10, 10, 10, 50], [0, 0, np.nan, 5], [0, 0, 64, 256]]
    distances = [4.0, 4.0, 4.0, 8.0]  # crops of 512, 512, 512 and 256 pixels
    np.testing.assert_allclose(box_fill_ratios(boxes, distances), [128 / 512, 256 / 256])  # bad boxes left out
    np.testing.assert_allclose(box_fill_ratios(boxes, distances, "sqrt_area"),
                               [math.sqrt(128 * 64) / 512, math.sqrt(64 * 256) / 256])
    assert box_fill_ratios([[0, 0, 10, 10]], [0.0]).size == 0  # no distance, no crop
    with pytest.raises(ValueError, match="measure: expected one of max_side, sqrt_area"):
        box_fill_ratios(boxes, distances, "area")


def test_the_crop_of_a_training_object_box_is_its_official_crop(small_dataset):
    """From an object's box alone, the crop has the official crop's size (up to the object's own fill) and centre."""
    from modeling.data.loading import load_split

    rows = load_split(small_dataset, "pose", "train").select_columns(
        ["bbox_original", "distance_original", "px_original", "py_original", "width_original", "height_original"])
    sides, shifts = [], []
    for row in rows:
        official = 2048 / row["distance_original"]
        where = box_crop_geometry(row["bbox_original"], (row["height_original"], row["width_original"]))
        if where.clipped:  # a truncated object: its clipped box says less about it
            continue
        sides.append(where.side / official)
        centre = where.left + where.side / 2, where.top + where.side / 2
        shifts.append(max(abs(centre[0] - row["px_original"]), abs(centre[1] - row["py_original"])) / official)
    assert len(sides) > 50
    assert np.median(sides) == pytest.approx(1.0, abs=0.1)
    assert np.quantile(sides, 0.1) > 0.75 and np.quantile(sides, 0.9) < 1.3
    assert np.median(shifts) < 0.05  # the box centre is the object's centre, to a few % of the crop


def test_clip_box_clips_what_reaches_past_and_refuses_what_is_not_a_box():
    assert clip_box([10, 20, 30, 40], (50, 60)) == ((10.0, 20.0, 30.0, 40.0), False)
    assert clip_box((-5, 20, 70, 40), (50, 60)) == ((0.0, 20.0, 60.0, 40.0), True)
    with pytest.raises(ValueError, match=r"boxes\[2\]: box \[70, 20, 90, 40\] lies outside the image \(60x50"):
        clip_box([70, 20, 90, 40], (50, 60), name="boxes[2]")
    with pytest.raises(ValueError, match=r"box: need x1 < x2 and y1 < y2"):
        clip_box([30, 20, 30, 40], (50, 60))
    with pytest.raises(ValueError, match="expected four finite numbers"):
        clip_box([1, 2, float("nan"), 4], (50, 60))
    with pytest.raises(ValueError, match="expected four finite numbers"):
        clip_box([1, 2, 3], (50, 60))
    with pytest.raises(ValueError, match="expected four numbers"):
        clip_box("1,2,3,4", (50, 60))


def test_crop_pixels_padding_and_the_way_back():
    pixels = np.random.default_rng(0).integers(1, 256, (60, 80, 3), dtype=np.uint8)  # no black pixel
    image = Image.fromarray(pixels)
    crop, where = box_crop(image, [60, 10, 76, 30])  # longer side 20 -> a 25-pixel crop reaching past the right
    assert where.side == round(20 / BOX_FILL) == crop.width == crop.height
    assert (where.left, where.top) == (round(68 - where.side / 2), round(20 - where.side / 2))
    array = np.asarray(crop)
    inside = 80 - where.left
    np.testing.assert_array_equal(array[:, :inside], pixels[where.top:where.top + where.side, where.left:])
    assert not array[:, inside:].any()  # black past the image, as the official crop pads
    x1, y1, x2, y2 = where.box_in_crop()
    assert (x1 + x2) / 2 == pytest.approx(where.side / 2, abs=0.5) and (y1 + y2) / 2 == pytest.approx(where.side / 2,
                                                                                                      abs=0.5)
    obj = object_in_image({"azimuth": 1.0, "px": x1, "py": y2, "distance": 123.0}, where)
    assert (obj["px"], obj["py"]) == (60.0, 30.0) and obj["azimuth"] == 1.0 and obj["box"] == [60, 10, 76, 30]
    assert obj["distance"] == pytest.approx(2048 / where.side)  # the box's distance, not the crop's

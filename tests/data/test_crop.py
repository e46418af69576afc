"""The official object-centric crop: geometry, and pixels against an independent re-implementation.

``official_crop`` below re-expresses the official preprocessing (``--center_and_resize`` of
``wufeim/imagenet3d_exp`` ``scripts/preprocess_data.py``, spec §2.2) step by step: resize the WHOLE
image with OpenCV-style bicubic (torch's bicubic: a = −0.75, half-pixel centres, no antialiasing),
zero-pad, then slice, with the official integer truncations. It shares no code with
``modeling.data.crop``.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

from modeling.data.crop import crop_geometry, object_centric_crop, official_crop_geometry


def official_crop(image: np.ndarray, px: float, py: float, distance: float, size: int, bbox: np.ndarray):
    """(crop, bbox as the official script moves it, (px, py) in the crop, padding, cropping)."""
    rate = distance / 4.0
    height, width = image.shape[:2]
    new_w, new_h = int(width * rate), int(height * rate)
    tensor = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].double()
    resized = F.interpolate(tensor, size=(new_h, new_w), mode="bicubic", align_corners=False)
    resized = resized[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
    cx, cy = int(px * rate), int(py * rate)
    padding = ((max(size // 2 - cy, 0), max(size // 2 + cy - new_h, 0)),
               (max(size // 2 - cx, 0), max(size // 2 + cx - new_w, 0)), (0, 0))
    padded = np.pad(resized, padding, mode="constant")
    cropping = ((max(cy - size // 2, 0), max(padded.shape[0] - cy - size // 2, 0)),
                (max(cx - size // 2, 0), max(padded.shape[1] - cx - size // 2, 0)))
    crop = padded[cropping[0][0]:cropping[0][0] + size, cropping[1][0]:cropping[1][0] + size]
    moved = np.asarray(bbox, dtype=np.float64) * rate
    moved[[0, 2]] += padding[1][0] - cropping[1][0]
    moved[1] += padding[0][0] - cropping[0][0]
    moved[3] += padding[0][1] - cropping[0][0]  # the official script's bug: bottom padding for y2
    return crop, moved, (size / 2, size / 2), padding, cropping


def smooth_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """A photo-like image: smooth colour fields with some edges (no noise-level detail)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    channels = [127 + 60 * np.sin(xs / rng.uniform(8, 30) + c) * np.cos(ys / rng.uniform(8, 30) - c) for c in range(3)]
    array = np.stack(channels, -1)
    array[(xs - width / 2) ** 2 + (ys - height / 2) ** 2 < (min(width, height) / 4) ** 2] *= 0.4
    return Image.fromarray(array.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.2))


CASES = [  # (width, height, px, py, distance, size): inside, near corners, far outside, shrinking
    (200, 150, 100.0, 75.0, 8.0, 128),
    (200, 150, 3.3, 140.9, 6.5, 96),
    (120, 180, 110.2, 5.7, 13.0, 64),
    (160, 120, 80.0, 60.0, 2.5, 96),
    (160, 120, -30.0, 200.0, 5.0, 64),
]


@pytest.mark.parametrize("width, height, px, py, distance, size", CASES)
def test_crop_matches_the_official_preprocessing(width, height, px, py, distance, size):
    image = smooth_image(width, height)
    bbox = np.array([px - 20, py - 15, px + 25, py + 10])
    reference, ref_bbox, ref_principal, padding, cropping = official_crop(np.asarray(image), px, py, distance, size,
                                                                          bbox)
    geometry = crop_geometry(width, height, px, py, distance, size)
    ours = np.asarray(object_centric_crop(image, geometry)).astype(int)
    assert ours.shape == reference.shape == (size, size, 3)
    # Same geometry: the zero padding covers exactly the same pixels ...
    outside = np.ones((size, size), bool)
    top, left = padding[0][0], padding[1][0]
    inside_h = min(size - top, int(height * distance / 4) - cropping[0][0])
    inside_w = min(size - left, int(width * distance / 4) - cropping[1][0])
    outside[max(top, 0):max(top, 0) + max(inside_h, 0), max(left, 0):max(left, 0) + max(inside_w, 0)] = False
    assert (ours[outside] == 0).all() and (reference[outside] == 0).all()
    # ... and no shift aligns the pixels better than none; they differ by interpolation noise only.
    diff = np.abs(ours - reference.astype(int))
    if (~outside).any():
        assert diff.mean() < 2.0 and np.percentile(diff[~outside], 99) <= 12
        for dy, dx in [(0, 1), (1, 0), (0, -1), (-1, 0)]:
            shifted = np.abs(np.roll(ours, (dy, dx), (0, 1)) - reference)[4:-4, 4:-4]
            assert shifted.mean() > diff[4:-4, 4:-4].mean()
    # Principal point and distance as the official script sets them; bbox moved the same, except y2.
    assert geometry.principal == ref_principal and geometry.distance == 4.0
    assert geometry.padding == (padding[0][0], padding[0][1], padding[1][0], padding[1][1])
    assert geometry.cropping == (cropping[0][0], cropping[0][1], cropping[1][0], cropping[1][1])
    ours_bbox = geometry.bbox_to_crop(bbox)
    np.testing.assert_allclose(ours_bbox[:3], ref_bbox[:3])
    np.testing.assert_allclose(ours_bbox[3] - ref_bbox[3], padding[0][0] - padding[0][1])


def _resize_then_crop(image: Image.Image, geometry, size: int, resize) -> np.ndarray:
    full = resize(np.asarray(image), geometry.resized_size).astype(int)
    expected = np.zeros((size, size, 3), int)
    ys, xs = np.arange(size) + geometry.top, np.arange(size) + geometry.left
    inside_y, inside_x = (ys >= 0) & (ys < full.shape[0]), (xs >= 0) & (xs < full.shape[1])
    expected[np.ix_(inside_y, inside_x)] = full[np.ix_(ys[inside_y], xs[inside_x])]
    return expected


def _pillow_resize(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(array).resize(size, Image.Resampling.BICUBIC))


def _opencv_resize(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(array, size, interpolation=cv2.INTER_CUBIC)


def test_window_resampling_equals_resize_then_crop():
    """Resampling only the window gives the pixels of resizing the whole image, up to rounding: OpenCV's resize
    (the official one) when the window is enlarged, Pillow's when it is shrunk."""
    image = smooth_image(150, 293, seed=3)
    for px, py, distance, resize in [(60.0, 140.0, 15.7, _opencv_resize), (5.0, 280.0, 9.0, _opencv_resize),
                                     (149.0, 0.0, 4.4, _opencv_resize), (75.0, 150.0, 2.0, _pillow_resize),
                                     (10.0, 20.0, 3.1, _pillow_resize)]:
        geometry = crop_geometry(150, 293, px, py, distance, 64)
        expected = _resize_then_crop(image, geometry, 64, resize)
        diff = np.abs(np.asarray(object_centric_crop(image, geometry)).astype(int) - expected)
        # Floating-point differences in the kernel positions flip a rounding now and then, in each pass.
        assert diff.max() <= 2 and diff.mean() < 0.1


def test_enlarged_windows_anywhere_are_the_official_resize_then_crop():
    """Windows in every corner, past every edge, in images of any shape (noise: every pixel counts): the part
    resampled from the nearest corner (mirrored for the far ones) gives OpenCV's whole-image resize, bar a rare
    rounding flip of one level."""
    rng = np.random.default_rng(1)
    differing = total = 0
    for _ in range(60):
        width, height = (int(v) for v in rng.integers(40, 400, 2))
        image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        size = int(rng.choice([33, 64, 128]))
        geometry = crop_geometry(width, height, float(rng.uniform(-40, width + 40)),
                                 float(rng.uniform(-40, height + 40)), float(rng.uniform(4, 20)), size)
        expected = _resize_then_crop(image, geometry, size, _opencv_resize)
        for source in (image, np.asarray(image)):  # a PIL image or its array: the same crop
            diff = np.abs(np.asarray(object_centric_crop(source, geometry)).astype(int) - expected)
            assert diff.max() <= 1
            differing, total = differing + int((diff > 0).sum()), total + diff.size
    assert differing <= total * 1e-3


def test_geometry_maps_the_object_centre_to_the_crop_centre():
    geometry = crop_geometry(500, 375, 321.7, 140.2, 10.0, 512)
    x, y = geometry.point_to_crop(321.7, 140.2)
    assert abs(x - 256) < 1 and abs(y - 256) < 1
    assert geometry.resize_rate == 2.5 and geometry.resized_size == (1250, 937)
    assert (geometry.left, geometry.top) == (int(321.7 * 2.5) - 256, int(140.2 * 2.5) - 256)


def test_window_outside_the_image_is_black():
    geometry = crop_geometry(100, 100, 5000.0, 5000.0, 4.0, 32)
    assert np.asarray(object_centric_crop(smooth_image(100, 100), geometry)).max() == 0
    with pytest.raises(ValueError):
        crop_geometry(100, 100, 50.0, 50.0, 0.0)


def test_smaller_crops_are_the_official_window_at_a_lower_resolution():
    """--crop-size N keeps the official 512 window's content (a bug once cut an N-pixel window instead, showing a
    zoomed-in eighth of the object at N = 64)."""
    image = smooth_image(400, 300, seed=5)
    official = object_centric_crop(image, crop_geometry(400, 300, 210.0, 140.0, 6.0, 512))
    for side in (64, 128):
        geometry = official_crop_geometry(400, 300, 210.0, 140.0, 6.0, side)
        assert geometry.distance == 4.0 * 512 / side and geometry.principal == (side / 2, side / 2)
        small = np.asarray(object_centric_crop(image, geometry)).astype(float)
        expected = np.asarray(official.resize((side, side), Image.Resampling.BICUBIC)).astype(float)
        # Same content up to resampling and a sub-pixel shift (the buggy zoomed-in window differs by ~60 levels).
        assert np.abs(small - expected).mean() < 8
        x, y = geometry.point_to_crop(210.0, 140.0)
        assert abs(x - side / 2) < 1 and abs(y - side / 2) < 1
    assert official_crop_geometry(400, 300, 210.0, 140.0, 6.0) == crop_geometry(400, 300, 210.0, 140.0, 6.0, 512)


def test_rectangular_and_odd_crops_have_the_asked_size():
    image = smooth_image(90, 70)
    for size in [(64, 48), (33, 33), 31]:
        crop = object_centric_crop(image, crop_geometry(90, 70, 45.0, 35.0, 6.0, size))
        assert crop.size == ((size, size) if isinstance(size, int) else size)


def test_built_512_crops_are_the_official_ones(synthetic_release, tmp_path):
    """The official 512 × 512 crops, end to end: build, load, compare with the re-implementation above."""
    from datasets import load_dataset

    from modeling.data.build import build
    from tests.helpers.dataset import expected_objects

    build(synthetic_release, tmp_path / "out", configs=["pose"], crop_size=512, progress=False)
    expected = expected_objects(synthetic_release)
    ds = load_dataset(str(tmp_path / "out"), "pose", split="validation", cache_dir=str(tmp_path / "cache"))
    assert len(ds) == len(expected["validation"]) > 10
    means = []
    for row in ds:
        category, obj = expected["validation"][row["object_id"]]
        with Image.open(synthetic_release / "images" / category / f"{row['image_id']}.JPEG") as source:
            pixels = np.asarray(source.convert("RGB"))
        reference, bbox, principal, _, _ = official_crop(pixels, obj["px"], obj["py"], obj["distance"], 512,
                                                         obj["bbox"])
        crop = np.asarray(row["image"]).astype(int)
        assert crop.shape == reference.shape == (512, 512, 3)
        diff = np.abs(crop - reference)
        # Pillow vs OpenCV bicubic plus JPEG quality 75: a level or two on average, a few at edges.
        assert diff.mean() < 3.0 and np.percentile(diff, 99) <= 20
        means.append(diff.mean())
        assert (row["px"], row["py"]) == principal and row["distance"] == 4.0
        np.testing.assert_allclose(row["bbox"][:3], bbox[:3])
    assert np.mean(means) < 2.0


def test_prompt_box_orders_corners_and_falls_back_to_the_crop():
    from modeling.data.crop import prompt_box

    assert prompt_box([10.0, 20.0, 30.0, 40.0], 64, 64) == (10.0, 20.0, 30.0, 40.0)
    assert prompt_box([30.0, 40.0, 10.0, 20.0], 64, 64) == (10.0, 20.0, 30.0, 40.0)  # inverted
    assert prompt_box([-5.0, 0.0, 90.0, 64.0], 64, 64) == (-5.0, 0.0, 90.0, 64.0)  # past the crop: left as is
    for unusable in (None, [float("nan"), 1.0, 2.0, 3.0], [1.0, 2.0]):
        assert prompt_box(unusable, 64, 48) == (0.0, 0.0, 64.0, 48.0)

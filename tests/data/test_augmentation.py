"""The crop jitter: deterministic, and points move with the pixels."""

from __future__ import annotations

import numpy as np
from PIL import Image

from modeling.data.augmentation import SCALE, SHIFT, apply_jitter, jitter, jitter_batch, jitter_draws


def test_points_move_with_the_pixels():
    pixels = np.zeros((64, 64, 3), dtype=np.uint8)
    pixels[20:24, 40:44] = 255  # a bright square centred on (42, 22)
    for seed in range(5):
        moved, [(x, y)] = jitter(Image.fromarray(pixels), np.random.default_rng(seed), [(42.0, 22.0)])
        brightness = np.asarray(moved, dtype=float).sum(-1)
        ys, xs = np.nonzero(brightness > brightness.max() * 0.6)
        assert abs(xs.mean() + 0.5 - x) < 1.0 and abs(ys.mean() + 0.5 - y) < 1.0, (seed, xs.mean(), x)
        assert abs(x - 42.0) <= 42.0 * SCALE + 64 * SHIFT + 1e-9


def test_jitter_is_a_function_of_the_generator():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8))
    first, second = (jitter(image, np.random.default_rng(3))[0] for _ in range(2))
    assert first.size == image.size and np.array_equal(np.asarray(first), np.asarray(second))
    assert not np.array_equal(np.asarray(first), np.asarray(jitter(image, np.random.default_rng(4))[0]))


def _smooth_crops(count: int, side: int = 64) -> np.ndarray:
    """(count, side, side, 3) uint8 crops without sharp edges, where bilinear resampling errors stay small."""
    y, x = np.mgrid[0:side, 0:side]
    crops = []
    for k in range(count):
        crops.append(np.stack([128 + 100 * np.sin(x / (5.0 + k)), 128 + 100 * np.cos(y / (7.0 + k)),
                               128 + 60 * np.sin((x + y) / 11.0)], -1))
    return np.clip(np.stack(crops), 0, 255).astype(np.uint8)


def test_the_batch_jitter_moves_and_colours_crops_as_the_per_crop_jitter_does():
    import torch

    crops = _smooth_crops(24)
    draws = np.stack([jitter_draws(np.random.default_rng(seed)) for seed in range(24)])
    draws[3] = np.nan  # a crop left as it is
    per_crop = np.stack([np.asarray(apply_jitter(Image.fromarray(crop), row)[0]) if not np.isnan(row[0]) else crop
                         for crop, row in zip(crops, draws)]).astype(np.float32) / 255.0
    batch = jitter_batch(torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0, draws)
    batch = batch.permute(0, 2, 3, 1).numpy()
    assert batch.shape == per_crop.shape
    assert np.array_equal(batch[3], crops[3].astype(np.float32) / 255.0)
    # The whole crops agree to PIL's 8-bit roundings: the uncovered band is 0 in both, and the samples just inside
    # the edge blend with the edge pixels repeated outward in both.
    assert np.abs(batch - per_crop).max() <= 2.0 / 255.0, np.abs(batch - per_crop).max()
    assert (batch == 0).all(-1).any() and (per_crop == 0).all(-1).any()  # a band was uncovered (black)
    # The jitter did move the crops: without it, the difference would be large.
    assert np.abs(batch - crops.astype(np.float32) / 255.0).mean() > 10 * np.abs(batch - per_crop).mean()


def test_the_identity_draw_leaves_a_crop_as_it_is():
    import torch

    crops = torch.from_numpy(_smooth_crops(2)).permute(0, 3, 1, 2).float() / 255.0
    identity = np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]] * 2)
    torch.testing.assert_close(jitter_batch(crops, identity), crops, atol=1e-5, rtol=0)


def test_jitter_is_apply_jitter_of_its_draws():
    image = Image.fromarray(_smooth_crops(1)[0])
    for seed in range(3):
        moved, points = jitter(image, np.random.default_rng(seed), [(10.0, 20.0)])
        again, points_again = apply_jitter(image, jitter_draws(np.random.default_rng(seed)), [(10.0, 20.0)])
        assert np.array_equal(np.asarray(moved), np.asarray(again)) and points == points_again

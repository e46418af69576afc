"""The crop jitter: deterministic, and points move with the pixels."""

from __future__ import annotations

import numpy as np
from PIL import Image

from modeling.data.augmentation import SCALE, SHIFT, jitter


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

"""Photometric and small geometric jitter of object-centric crops, for training (the baseline and LLaVA-pose).

A crop centres its object at a fixed scale, so a model trained on a few thousand crops learns their exact framing
and colours. A small random zoom and shift (±8 %) and a brightness/colour change (±20 %) leave the pose unchanged
(the object stays near the centre, seen from the same viewpoint) and are what the recipe experiments of issue 5
needed, beside mirroring (`geometry.flip_pose`), to train a small CNN from scratch. Deterministic given the
generator.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

SCALE = 0.08
"""Zoom range: the crop is magnified by a factor in [1 − SCALE, 1 + SCALE] about its centre."""
SHIFT = 0.08
"""Shift range, as a fraction of the crop side, per axis."""
COLOR = 0.2
"""Brightness range (a factor in [1 − COLOR, 1 + COLOR]) and per-channel offset range (± 0.3 · COLOR)."""


def jitter(image: Image.Image, rng: np.random.Generator,
           points: list[tuple[float, float]] = ()) -> tuple[Image.Image, list[tuple[float, float]]]:
    """The jittered RGB image and the given (x, y) points (pixels of the image: box corners, object centre) moved
    with it."""
    width, height = image.size
    zoom = 1.0 + rng.uniform(-SCALE, SCALE)
    shift_x, shift_y = rng.uniform(-SHIFT, SHIFT, size=2) * (width, height)
    brightness = 1.0 + rng.uniform(-COLOR, COLOR)
    offset = rng.uniform(-COLOR, COLOR, size=3) * 0.3
    # Input point p lands at c + zoom · (p − c) + t; PIL's affine data maps each output pixel back to its input.
    cx, cy = width / 2, height / 2
    data = (1 / zoom, 0.0, cx - (cx + shift_x) / zoom, 0.0, 1 / zoom, cy - (cy + shift_y) / zoom)
    moved = image.convert("RGB").transform((width, height), Image.Transform.AFFINE, data, Image.Resampling.BILINEAR)
    pixels = np.clip(np.asarray(moved, dtype=np.float32) / 255.0 * brightness + offset, 0.0, 1.0)
    result = Image.fromarray((pixels * 255.0 + 0.5).astype(np.uint8))
    return result, [(cx + zoom * (x - cx) + shift_x, cy + zoom * (y - cy) + shift_y) for x, y in points]


__all__ = ["COLOR", "SCALE", "SHIFT", "jitter"]

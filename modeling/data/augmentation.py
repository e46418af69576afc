"""Photometric and small geometric jitter of object-centric crops, for training (the baseline and LLaVA-pose).

A crop centres its object at a fixed scale, so a model trained on a few thousand crops learns their exact framing
and colours. A small random zoom and shift (±8 %) and a brightness/colour change (±20 %) leave the pose unchanged
(the object stays near the centre, seen from the same viewpoint) and are what the recipe experiments of issue 5
needed, beside mirroring (`geometry.flip_pose`), to train a small CNN from scratch. Deterministic given the
generator.

Two ways to apply the same draws (:func:`jitter_draws`): :func:`jitter` (:func:`apply_jitter`) moves one PIL image
(and points with it); :func:`jitter_batch` moves a whole batch of same-size crops at once in torch (the baseline's
training: a tenth of its step had gone to jittering crop by crop), with the same geometry (PIL's affine map, pixel
centres at +½) and colour change, in floating point throughout instead of rounding to 8 bits twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import torch

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
    return apply_jitter(image, jitter_draws(rng), points)


def apply_jitter(image: Image.Image, draws: np.ndarray,
                 points: list[tuple[float, float]] = ()) -> tuple[Image.Image, list[tuple[float, float]]]:
    """:func:`jitter` with its draws given: a (7,) row of :func:`jitter_draws`."""
    width, height = image.size
    # Python floats and a float64 offset, as before the draws had their own function: the same bytes out.
    zoom, shift_x, shift_y, brightness = float(draws[0]), draws[1] * width, draws[2] * height, float(draws[3])
    offset = draws[4:]
    # Input point p lands at c + zoom · (p − c) + t; PIL's affine data maps each output pixel back to its input.
    cx, cy = width / 2, height / 2
    data = (1 / zoom, 0.0, cx - (cx + shift_x) / zoom, 0.0, 1 / zoom, cy - (cy + shift_y) / zoom)
    moved = image.convert("RGB").transform((width, height), Image.Transform.AFFINE, data, Image.Resampling.BILINEAR)
    pixels = np.clip(np.asarray(moved, dtype=np.float32) / 255.0 * brightness + offset, 0.0, 1.0)
    result = Image.fromarray((pixels * 255.0 + 0.5).astype(np.uint8))
    return result, [(cx + zoom * (x - cx) + shift_x, cy + zoom * (y - cy) + shift_y) for x, y in points]


def jitter_draws(rng: np.random.Generator) -> np.ndarray:
    """One crop's jitter, drawn from `rng` (in this order): (zoom, shift_x, shift_y, brightness, offset_r, offset_g,
    offset_b), a (7,) float64 array; the shifts are fractions of the crop's width and height, the offsets in [0, 1]
    colour units."""
    zoom = 1.0 + rng.uniform(-SCALE, SCALE)
    shift = rng.uniform(-SHIFT, SHIFT, size=2)
    brightness = 1.0 + rng.uniform(-COLOR, COLOR)
    offset = rng.uniform(-COLOR, COLOR, size=3) * 0.3
    return np.array([zoom, *shift, brightness, *offset])


def jitter_batch(pixels: torch.Tensor, draws: np.ndarray) -> torch.Tensor:
    """A batch jittered as :func:`jitter` jitters each crop: ``pixels`` (B, 3, H, W) float in [0, 1], ``draws`` (B, 7)
    rows of :func:`jitter_draws` (a row of NaN leaves its crop as it is) -> (B, 3, H, W) float in [0, 1].

    Geometry: output pixel centre p (continuous coordinates, centres at +½) samples the input at
    c + (p − c − t) / zoom, c the crop's centre and t the shift, as PIL's affine transform does; bilinear with the
    edge pixels repeated outward, 0 where the sample falls outside the crop, as PIL
    (``torch.nn.functional.grid_sample``, ``align_corners=False``: the same pixel-centre convention). Colour:
    x · brightness + offset, clipped to [0, 1]. Against :func:`jitter` of the same draws (tested, whole crops): within
    2/255 (PIL rounds to 8 bits twice), but for the rare pixel whose sample falls within float rounding of the crop's
    edge, which one side counts inside and the other outside."""
    import torch
    from torch.nn import functional as F

    draws = torch.as_tensor(np.asarray(draws, dtype=np.float64), dtype=torch.float32)
    keep = torch.isnan(draws[:, 0])
    draws = torch.where(keep[:, None], torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]), draws)
    zoom, shift = draws[:, 0], draws[:, 1:3]
    # In grid_sample's normalised coordinates (u = 2x / W − 1) the map is u_in = (u_out − 2 · t / W) / zoom, and
    # t / W is the drawn fraction.
    theta = torch.zeros(len(draws), 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0 / zoom
    theta[:, :, 2] = -2.0 * shift / zoom[:, None]
    grid = F.affine_grid(theta, list(pixels.shape), align_corners=False)
    # As PIL: a sample inside the crop ([0, W) x [0, H), i.e. [-1, 1) here) blends its neighbours with the edge
    # pixels repeated outward; a sample outside it is 0.
    moved = F.grid_sample(pixels.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
    inside = ((grid >= -1.0) & (grid < 1.0)).all(-1)
    moved = moved * inside[:, None].to(moved.dtype)
    moved = moved * draws[:, 3, None, None, None] + draws[:, 4:7, None, None]
    return torch.where(keep[:, None, None, None], pixels.float(), moved.clamp(0.0, 1.0))


__all__ = ["COLOR", "SCALE", "SHIFT", "apply_jitter", "jitter", "jitter_batch", "jitter_draws"]

"""The one home of ImageNet3D's pose convention.

Everything that turns (azimuth, elevation, theta, distance, px, py) into rotations, pixels or
bins calls this module, so the convention is written exactly once. The formulas follow the
official code (``wufeim/imagenet3d`` ``render_utils.proj2d`` and ``wufeim/imagenet3d_exp``
``pose_utils``); see ``shared/imagenet3d_spec.md`` sections 2.1 and 4.

Conventions:

* angles are radians; azimuth, elevation and theta are all treated as periodic on [0, 2π);
* R(a, e, θ) = R_z(θ) · R_x(e − π/2) · R_z(−a) maps object coordinates to camera coordinates
  (the camera looks along −Z, y up);
* pixel coordinates have their origin top-left, x right, y down; ``(px, py)`` is where the CAD
  origin projects; ``viewport`` is the focal length in pixels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

TWO_PI = 2.0 * np.pi
NUM_BINS = 40
"""Bins per angle in every official baseline (periodic, on [0, 2π))."""
DEFAULT_VIEWPORT = 2000
"""Focal length in pixels used by the official projection when none is given."""
CROP_TARGET_DISTANCE = 4.0
"""The official object-centric crop rescales every image so that the object sits at this distance."""
OFFICIAL_CROP_SIZE = 512
"""Side in pixels of the official object-centric crop (``imagenet3d_data_processed_512_512``): at distance 4 the
object's crop is 512 pixels, so an object at distance d has a crop of 2048 / d pixels of its image."""
ANGLE_NAMES = ("azimuth", "elevation", "theta")
OBJECT_AXES = {"front": (0.0, -1.0, 0.0), "up": (0.0, 0.0, 1.0), "right": (1.0, 0.0, 0.0)}
"""The object frame's named directions, unit vectors in CAD coordinates: the front faces −y (azimuth 0 looks at it,
from the camera centre d·(0, −1, 0)), up is +z, and "right" is +x: the side on the image's right in that front view,
which azimuth 90° looks at (the viewer's right, not the object's own)."""


def wrap_angle(angle: np.ndarray | float) -> np.ndarray:
    """Wrap angles (radians) to [0, 2π). NaN and inf stay non-finite."""
    wrapped = np.mod(np.asarray(angle, dtype=np.float64), TWO_PI)
    # np.mod can return exactly 2π for tiny negative inputs (float rounding): fold it back to 0.
    return np.where(wrapped >= TWO_PI, 0.0, wrapped)


def signed_angle(angle: np.ndarray | float) -> np.ndarray:
    """Wrap angles (radians) to (−π, π]: how elevation and θ read naturally (−4.5°, not 355.5°).

    The stored convention stays [0, 2π) (:func:`wrap_angle`); this is for display and wording only.
    """
    wrapped = wrap_angle(angle)
    return np.where(wrapped > np.pi, wrapped - TWO_PI, wrapped)


def _rot_z(phi: np.ndarray) -> np.ndarray:
    c, s = np.cos(phi), np.sin(phi)
    zero, one = np.zeros_like(phi), np.ones_like(phi)
    return np.stack([c, -s, zero, s, c, zero, zero, zero, one], axis=-1).reshape(phi.shape + (3, 3))


def _rot_x(psi: np.ndarray) -> np.ndarray:
    c, s = np.cos(psi), np.sin(psi)
    zero, one = np.zeros_like(psi), np.ones_like(psi)
    return np.stack([one, zero, zero, zero, c, -s, zero, s, c], axis=-1).reshape(psi.shape + (3, 3))


def rotation_matrix(azimuth: np.ndarray | float, elevation: np.ndarray | float,
                    theta: np.ndarray | float) -> np.ndarray:
    """The official viewpoint matrix R = R_z(θ) · R_x(e − π/2) · R_z(−a), shape (..., 3, 3).

    Inputs broadcast against each other like numpy arrays.
    """
    a, e, t = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (azimuth, elevation, theta)))
    return _rot_z(t) @ _rot_x(e - np.pi / 2) @ _rot_z(-a)


def camera_center(azimuth: float, elevation: float, distance: float) -> np.ndarray:
    """Camera centre in object coordinates: d · (cos e · sin a, −cos e · cos a, sin e)."""
    return distance * np.array([np.cos(elevation) * np.sin(azimuth),
                                -np.cos(elevation) * np.cos(azimuth),
                                np.sin(elevation)])


def camera_coordinates(points: np.ndarray, azimuth: float, elevation: float,
                       distance: float) -> np.ndarray:
    """CAD points (N, 3) in camera coordinates before the in-plane rotation, (N, 3).

    The camera looks along −Z, so the depth of a point in front of the camera is ``-result[:, 2]``.
    """
    r_ae = _rot_x(np.float64(elevation - np.pi / 2)) @ _rot_z(np.float64(-azimuth))
    return (np.asarray(points, dtype=np.float64) - camera_center(azimuth, elevation, distance)) @ r_ae.T


def project_points(points: np.ndarray, azimuth: float, elevation: float, theta: float,
                   distance: float, px: float, py: float,
                   viewport: float = DEFAULT_VIEWPORT) -> tuple[np.ndarray, np.ndarray]:
    """The official projection of CAD points (N, 3) to pixels.

    Returns ``(uv, depth)``: pixel coordinates (N, 2) with origin top-left and y down, and the
    depth of each point along the viewing direction (N,), positive in front of the camera.
    """
    cam = camera_coordinates(points, azimuth, elevation, distance)
    depth = -cam[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = viewport * cam[:, 0] / depth
        v = viewport * cam[:, 1] / depth
    c, s = np.cos(theta), np.sin(theta)
    u_rot, v_rot = c * u - s * v, s * u + c * v
    return np.stack([px + u_rot, py - v_rot], axis=-1), depth


def angle_to_bin(angle: np.ndarray | float, num_bins: int = NUM_BINS) -> np.ndarray:
    """Periodic bin index of angles (radians): floor(((v / 2π) mod 1) · num_bins) mod num_bins."""
    fraction = np.mod(np.asarray(angle, dtype=np.float64) / TWO_PI, 1.0)
    return (np.floor(fraction * num_bins).astype(np.int64)) % num_bins


def soft_bin_targets(index: torch.Tensor, num_bins: int = NUM_BINS, sigma: float = 0.0) -> torch.Tensor:
    """Training targets over periodic bins, shape index.shape + (num_bins,), float32, on ``index``'s device: a
    Gaussian of std ``sigma`` bins around each index, in the periodic bin distance (so bins 0 and num_bins − 1 are
    neighbours), normalised to sum to 1. ``sigma`` = 0 gives one-hot targets. A neighbouring bin is a small error
    (9° at 40 bins), which one-hot cross-entropy punishes as much as a 180° one.

    In torch, for the losses (LLaVA-pose's and the baseline's): computed where the labels are, with no round trip
    through the host (a device sync per step on a GPU). torch is imported inside, so importing this module stays
    torch-free.
    """
    import torch

    index = torch.as_tensor(index).long()
    offset = (torch.arange(num_bins, device=index.device) - index[..., None]).abs() % num_bins
    distance = torch.minimum(offset, num_bins - offset).float()
    if sigma <= 0:
        return (distance == 0).float()
    weights = torch.exp(-0.5 * (distance / sigma) ** 2)
    return weights / weights.sum(dim=-1, keepdim=True)


def bin_to_angle(index: np.ndarray | int, num_bins: int = NUM_BINS) -> np.ndarray:
    """Centre of a periodic bin, (index + 0.5) / num_bins · 2π."""
    return (np.asarray(index, dtype=np.float64) + 0.5) / num_bins * TWO_PI


CONFIDENCE_HALF_WIDTH = 1
"""A per-angle confidence is the probability mass of the argmax bin and its CONFIDENCE_HALF_WIDTH neighbours on
each side (periodically): ±1 bin = ±13.5° around the 9°-wide argmax bin, inside the π/6 tolerance of Acc@π/6."""


def decode_bins(probabilities: np.ndarray,
                half_width: int = CONFIDENCE_HALF_WIDTH) -> tuple[np.ndarray, np.ndarray]:
    """Angles and confidences of bin probabilities of shape (..., num_bins): two arrays of shape (...).

    The angle is the argmax bin's centre (the official decoding; radians in [0, 2π); the first bin on a tie). The
    confidence is the probability mass of the argmax bin and its ``half_width`` neighbours on each side, periodic
    (bins 0 and num_bins − 1 are neighbours), in the input's dtype: a rotationally symmetric object spreads its
    azimuth mass and gets a low azimuth confidence.
    """
    probabilities = np.asarray(probabilities)
    num_bins = probabilities.shape[-1]
    best = probabilities.argmax(axis=-1)
    window = (best[..., None] + np.arange(-half_width, half_width + 1)) % num_bins
    return bin_to_angle(best, num_bins), np.take_along_axis(probabilities, window, axis=-1).sum(axis=-1)


def flip_pose(azimuth: np.ndarray | float, elevation: np.ndarray | float,
              theta: np.ndarray | float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pose of the horizontally mirrored image: a' = 2π − a, e' = e, θ' = −θ (wrapped to [0, 2π))."""
    return (wrap_angle(TWO_PI - np.asarray(azimuth, dtype=np.float64)),
            wrap_angle(elevation), wrap_angle(-np.asarray(theta, dtype=np.float64)))


def flip_point_x(px: np.ndarray | float, width: int) -> np.ndarray:
    """x coordinate of a point after mirroring an image of ``width`` pixels."""
    return width - np.asarray(px, dtype=np.float64)


def flip_pose_bins(values: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Bin scores (probabilities or logits) of (azimuth, elevation, theta), shape (..., 3, num_bins) over
    :func:`angle_to_bin`'s bins, as the horizontally mirrored image's pose (:func:`flip_pose`) has them: azimuth and
    theta reversed (a ∈ bin k ⇔ −a ∈ bin num_bins − 1 − k, but for an angle exactly on a bin edge), elevation as it
    is. Its own inverse; numpy in, numpy out, torch in, torch out. Test-time mirroring averages a model's
    probabilities on an image with these of its mirror image's."""
    if values.ndim < 2 or values.shape[-2] != 3:
        raise ValueError(f"flip_pose_bins: expected (..., 3, num_bins), got shape {tuple(values.shape)}")
    keep = np.array([False, True, False])[:, None]  # elevation's row
    if isinstance(values, np.ndarray):
        return np.where(keep, values, values[..., ::-1])
    import torch

    return torch.where(torch.as_tensor(keep, device=values.device), values, values.flip(-1))


def mean_with_mirror(probabilities: torch.Tensor, mirror_probabilities: torch.Tensor) -> torch.Tensor:
    """Test-time mirroring's pose: the log of the mean of an image's bin probabilities (..., 3, num_bins) and its
    mirror image's, the mirror's mapped back (:func:`flip_pose_bins`); torch tensors. Probabilities, not
    log-probabilities, are averaged: on the demo's baseline of 2026-12-02, joint 80.8 against 80.5."""
    return ((probabilities + flip_pose_bins(mirror_probabilities)) / 2).log()

"""One annotated object: the official filter, the flags of what it does not judge, numbers read leniently.

:func:`check_object` applies the official filter of the baselines (spec §2.2, EXP): ``object_status``
present and not ``status_bad``, pose keys present, ``distance > 0``; an annotated object whose pose
value is missing or not a finite number is bad input (the official script would crash on it or be
poisoned by it). Nothing else removes an object: oddities the official filter does not judge (a box
past the image border, an inverted or NaN box, no box) are named by :func:`object_flags` and the
object is kept, as the official preprocessing keeps it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from modeling.geometry import wrap_angle

POSE_KEYS = ("azimuth", "elevation", "theta", "distance", "px", "py")
ANGLE_KEYS = ("azimuth", "elevation", "theta")
BBOX_TOLERANCE = 1.0
"""Pixels a bbox corner may lie outside the image before it is flagged (annotation tools round to the border
pixel); a box further out is flagged :data:`FLAG_BBOX_OUTSIDE`, never a reason to drop its object."""

# Oddities of an object that the official filter does not judge: the object is kept, flagged and counted.
FLAG_BBOX_MISSING = "bbox_missing"
FLAG_BBOX_MALFORMED = "bbox_malformed"
FLAG_BBOX_NOT_FINITE = "bbox_not_finite"
FLAG_BBOX_INVERTED = "bbox_inverted"
FLAG_BBOX_OUTSIDE = "bbox_outside_image"
FLAGS: dict[str, str] = {
    FLAG_BBOX_MISSING: "no bbox key",
    FLAG_BBOX_MALFORMED: "bbox is not 4 numbers",
    FLAG_BBOX_NOT_FINITE: "bbox has a NaN or infinite corner",
    FLAG_BBOX_INVERTED: "bbox has x2 < x1 or y2 < y1",
    FLAG_BBOX_OUTSIDE: f"bbox reaches more than {BBOX_TOLERANCE:g} px past the image border (truncated object)",
}
"""Flag → what it means; the ``flags`` column of ``pose`` rows and of ``image`` objects holds these names."""

# Why objects leave the pose configs. FILTERED_* are the official filter (expected in good data, counted);
# the rest are bad input (counted skips by default, errors with --strict).
FILTERED_NO_STATUS = "filtered: no object_status (unannotated object)"
FILTERED_STATUS_BAD = "filtered: object_status is status_bad"
FILTERED_DISTANCE = "filtered: distance <= 0"
FILTER_REASONS = (FILTERED_NO_STATUS, FILTERED_STATUS_BAD, FILTERED_DISTANCE)



@dataclass(frozen=True)
class ObjectCheck:
    """Outcome of :func:`check_object`: ``reason`` is None when the object passes."""

    reason: str | None = None
    field: str | None = None
    bad_input: bool = False

    @property
    def passes(self) -> bool:
        """True when the object passes the official filter (no reason to drop it)."""
        return self.reason is None


def as_float(value: object) -> float | None:
    """A number (Python, numpy scalar or 1-element array) as float, or None when it is not one."""
    if isinstance(value, (bool, str, bytes)) or value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(array.reshape(-1)[0]) if array.size == 1 else None


def as_numbers(value: object) -> list[float] | None:
    """A number or array of numbers as a flat list of floats (NaN kept), or None when it is not numeric."""
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        array = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
    return [float(v) for v in array]


def as_bbox(value: object) -> list[float] | None:
    """A bbox (x1, y1, x2, y2) as 4 floats (NaN kept), or None when it is not 4 numbers."""
    numbers = as_numbers(value)
    return numbers if numbers is not None and len(numbers) == 4 else None


def check_object(obj: object) -> ObjectCheck:
    """Validate one annotation entry and apply the official filter.

    Order matters and follows the official preprocessing: an object without ``object_status`` or
    with ``status_bad`` is skipped before its pose is looked at (unannotated objects carry only a
    bbox and a class); an annotated object without a pose key, or with a value that is not a finite
    number, would crash or poison the official script, so it is bad input. The box is not judged
    here (the official filter does not look at it): see :func:`object_flags`.
    """
    if not isinstance(obj, dict):
        return ObjectCheck("object is not a dict", None, True)
    if "object_status" not in obj:
        return ObjectCheck(FILTERED_NO_STATUS, "object_status")
    if obj["object_status"] == "status_bad":
        return ObjectCheck(FILTERED_STATUS_BAD, "object_status")
    for key in POSE_KEYS:
        if key not in obj:
            return ObjectCheck("missing pose key", key, True)
        value = as_float(obj[key])
        if value is None:
            return ObjectCheck("pose value is not a number", key, True)
        if not math.isfinite(value):
            return ObjectCheck("NaN or infinite pose value", key, True)
    if as_float(obj["distance"]) <= 0:
        return ObjectCheck(FILTERED_DISTANCE, "distance")
    return ObjectCheck()


def object_flags(obj: object, width: int, height: int) -> tuple[str, ...]:
    """The :data:`FLAGS` of an object's box in an image of ``width`` × ``height`` pixels (empty when it is fine).

    Flags never remove an object: the official scripts keep such objects and move their box into the
    crop unclipped (so does :meth:`~modeling.data.crop.CropGeometry.bbox_to_crop`).
    """
    if not isinstance(obj, dict):
        return ()
    if "bbox" not in obj:
        return (FLAG_BBOX_MISSING,)
    bbox = as_bbox(obj["bbox"])
    if bbox is None:
        return (FLAG_BBOX_MALFORMED,)
    if not all(math.isfinite(v) for v in bbox):
        return (FLAG_BBOX_NOT_FINITE,)
    x1, y1, x2, y2 = bbox
    flags = []
    if x2 < x1 or y2 < y1:
        flags.append(FLAG_BBOX_INVERTED)
    tol = BBOX_TOLERANCE
    if min(x1, x2) < -tol or min(y1, y2) < -tol or max(x1, x2) > width + tol or max(y1, y2) > height + tol:
        flags.append(FLAG_BBOX_OUTSIDE)
    return tuple(flags)


def wrapped(value: object) -> float | None:
    """An angle wrapped to [0, 2π) (non-finite values are kept as they are), or None when not a number."""
    number = as_float(value)
    if number is None or not math.isfinite(number):
        return number
    return float(wrap_angle(number))

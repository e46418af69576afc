"""One annotated object: the official filter (check_object) and the flags of what it does not judge."""

import numpy as np
import pytest

from modeling.data.objects import (
    FILTERED_DISTANCE,
    FILTERED_NO_STATUS,
    FILTERED_STATUS_BAD,
    FLAG_BBOX_INVERTED,
    FLAG_BBOX_MALFORMED,
    FLAG_BBOX_MISSING,
    FLAG_BBOX_NOT_FINITE,
    FLAG_BBOX_OUTSIDE,
    FLAGS,
    check_object,
    object_flags,
    wrapped,
)
from tests.helpers.dataset import good_object


@pytest.mark.parametrize("change, reason, field, bad", [
    ({}, None, None, False),
    ({"object_status": None}, FILTERED_NO_STATUS, "object_status", False),
    ({"object_status": "status_bad"}, FILTERED_STATUS_BAD, "object_status", False),
    ({"distance": 0.0}, FILTERED_DISTANCE, "distance", False),
    ({"distance": -1.0}, FILTERED_DISTANCE, "distance", False),
    ({"azimuth": None}, "missing pose key", "azimuth", True),
    ({"py": None}, "missing pose key", "py", True),
    ({"theta": float("nan")}, "NaN or infinite pose value", "theta", True),
    ({"elevation": np.inf}, "NaN or infinite pose value", "elevation", True),
    ({"distance": "far"}, "pose value is not a number", "distance", True),
    ({"bbox": None}, None, None, False),  # the official filter does not judge the box: see object_flags
    ({"bbox": np.array([float("nan")] * 4)}, None, None, False),
])
def test_check_object(change, reason, field, bad):
    obj = good_object()
    for key, value in change.items():
        if value is None:
            del obj[key]
        else:
            obj[key] = value
    check = check_object(obj)
    assert (check.reason, check.field, check.bad_input, check.passes) == (reason, field, bad, reason is None)


def test_unannotated_objects_are_filtered_before_their_pose_is_read():
    # The official preprocessing skips objects without object_status first; they carry only bbox and class.
    assert check_object({"bbox": np.zeros(4), "class": "chair"}).reason == FILTERED_NO_STATUS
    assert check_object("not a dict").bad_input


@pytest.mark.parametrize("bbox, flags", [
    ([120.0, 30.0, 204.0, 100.0], (FLAG_BBOX_OUTSIDE,)),  # truncated at the right border of a 200 x 120 image
    ([-3.0, -2.0, 80.0, 90.0], (FLAG_BBOX_OUTSIDE,)),
    ([0.0, 0.0, 200.0, 120.0], ()),
    ([-1.0, 0.0, 201.0, 120.0], ()),  # within BBOX_TOLERANCE: annotation tools round to the border pixel
    ([60.0, 20.0, 10.0, 80.0], (FLAG_BBOX_INVERTED,)),
    ([10.0, 90.0, 60.0, 20.0], (FLAG_BBOX_INVERTED,)),
    ([260.0, 20.0, 10.0, 80.0], (FLAG_BBOX_INVERTED, FLAG_BBOX_OUTSIDE)),
    ([float("nan"), 20.0, 60.0, 80.0], (FLAG_BBOX_NOT_FINITE,)),
    ([0.0, 0.0, np.inf, 80.0], (FLAG_BBOX_NOT_FINITE,)),
    ([1.0, 2.0], (FLAG_BBOX_MALFORMED,)),
    ("wide", (FLAG_BBOX_MALFORMED,)),
    (None, (FLAG_BBOX_MISSING,)),
])
def test_odd_boxes_are_flagged_and_kept(bbox, flags):
    obj = good_object(bbox=np.asarray(bbox) if isinstance(bbox, list) else bbox)
    if bbox is None:
        del obj["bbox"]
    assert object_flags(obj, 200, 120) == flags
    assert check_object(obj).passes  # kept: the official filter keeps it
    assert set(flags) <= set(FLAGS)


def test_wrapped_angles():
    assert wrapped(-np.pi / 2) == pytest.approx(1.5 * np.pi)
    assert wrapped(2 * np.pi + 0.25) == pytest.approx(0.25)
    assert np.isnan(wrapped(float("nan"))) and wrapped("x") is None

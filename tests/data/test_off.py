"""CAD meshes: OFF files parsed without trusting them."""

import numpy as np
import pytest

from modeling.data.off import parse_off
from modeling.utils.errors import ImageNet3DError


def test_parse_off_fans_polygons():
    text = b"OFF\n4 2 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n3 0 1 2\n4 0 1 2 3\n"
    vertices, faces = parse_off(text, "m.off")
    assert vertices.shape == (4, 3) and vertices.dtype == np.float32
    np.testing.assert_array_equal(faces, [[0, 1, 2], [0, 1, 2], [0, 2, 3]])
    vertices, faces = parse_off(b"OFF 3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", "m.off")
    assert faces.tolist() == [[0, 1, 2]]


@pytest.mark.parametrize("text, message", [
    (b"PLY\n", "missing 'OFF' header"),
    (b"OFF\n3 1 0\n0 0 0\n1 0 0\n", "truncated|malformed"),
    (b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n", "out of range"),
    (b"OFF\n3 1 0\n0 0 x\n1 0 0\n0 1 0\n3 0 1 2\n", "malformed"),
    (b"OFF\n3 1 0\n0 0 nan\n1 0 0\n0 1 0\n3 0 1 2\n", "NaN"),
])
def test_parse_off_errors_name_the_file(text, message):
    with pytest.raises(ImageNet3DError, match=rf"^m\.off.*({message})"):
        parse_off(text, "m.off")

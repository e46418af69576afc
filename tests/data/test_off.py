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


@pytest.mark.parametrize("text, line, message", [
    (b"PLY\n", 1, "missing 'OFF' header"),
    (b"", 1, "missing 'OFF' header"),
    (b"OFF\n", 1, "no vertex and face counts"),
    (b"OFF\nthree 1 0\n", 2, "the counts line must start with two integers"),
    (b"OFF\n-3 1 0\n", 2, "negative count"),
    (b"OFF\n3 1 0\n0 0 0\n1 0 0\n", 2, "truncated: the counts say 3 vertices and 1 faces, 2 lines follow"),
    (b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n", 6, "face 0: vertex index 7 out of range: the file has 3"),
    (b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 -1 2\n", 6, "face 0: vertex index -1 out of range"),
    (b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 99999999999\n", 6, "face 0: vertex index 99999999999 out of range"),
    (b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n2 0 1\n", 6, "face 0: 2 vertex count"),
    (b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n4 0 1 2\n", 6, "face 0: 4 vertex count with 3 indices"),
    (b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 x\n", 6, "face 0: expected a vertex count and integer indices"),
    (b"OFF\n3 1 0\n0 0 x\n1 0 0\n0 1 0\n3 0 1 2\n", 3, "vertex 0: expected 3 numbers"),
    (b"OFF\n3 1 0\n0 0\n1 0 0\n0 1 0\n3 0 1 2\n", 3, "vertex 0: expected 3 numbers"),
    (b"OFF\n3 1 0\n0 0 0\n# a comment\n1 0 nan\n0 1 0\n3 0 1 2\n", 5, "vertex 1: NaN"),
    (b"OFF\n3 1 0\n0 0 0\n1 0 1e300\n0 1 0\n3 0 1 2\n", 4, "vertex 1: NaN or infinite"),
    (b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\xff\n", None, "not ASCII text"),
])
def test_parse_off_errors_name_the_file_and_line(text, line, message):
    where = "m.off" if line is None else f"m.off:{line}"
    with pytest.raises(ImageNet3DError, match=rf"^{where}: {message}"):
        parse_off(text, "m.off")


def test_values_after_a_face_are_ignored():
    # Some OFF writers append a colour to each face.
    _, faces = parse_off(b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2 255 0 0.5\n", "m.off")
    assert faces.tolist() == [[0, 1, 2]]

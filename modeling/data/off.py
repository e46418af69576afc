"""CAD meshes in the OFF format of the release (``CAD/<category>/<NN>.off``, spec §1), read without trusting them."""

from __future__ import annotations

import numpy as np

from modeling.utils.errors import located


def parse_off(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) float32 and triangular faces (M, 3) int32 of an OFF mesh (spec §1).

    Faces with more than 3 vertices are fanned into triangles; indices are checked against N.
    """
    try:
        tokens_per_line = [line.split() for line in data.decode("ascii").splitlines()]
    except UnicodeDecodeError:
        raise located(name, "OFF file is not ASCII text") from None
    lines = [t for t in tokens_per_line if t and not t[0].startswith("#")]
    if not lines or not lines[0][0].startswith("OFF"):
        raise located(name, "missing 'OFF' header", 1)
    header = lines[0][1:] if len(lines[0]) > 1 else lines[1]
    body = lines[1:] if len(lines[0]) > 1 else lines[2:]
    try:
        n_vertices, n_faces = int(header[0]), int(header[1])
        vertices = np.array([[float(v) for v in row[:3]] for row in body[:n_vertices]], dtype=np.float32)
        faces = []
        for row in body[n_vertices:n_vertices + n_faces]:
            count, indices = int(row[0]), [int(v) for v in row[1:]]
            if count < 3 or len(indices) < count:
                raise ValueError(f"face with {count} vertices")
            faces.extend([indices[0], indices[k], indices[k + 1]] for k in range(1, count - 1))
    except (ValueError, IndexError) as err:
        raise located(name, f"malformed OFF ({err})") from None
    if vertices.shape != (n_vertices, 3) or len(body) < n_vertices + n_faces:
        raise located(name, f"OFF file is truncated (header says {n_vertices} vertices, {n_faces} faces)")
    faces_array = np.array(faces, dtype=np.int32).reshape(-1, 3)
    if faces_array.size and (faces_array.min() < 0 or faces_array.max() >= n_vertices):
        raise located(name, "face index out of range")
    if not np.isfinite(vertices).all():
        raise located(name, "NaN or infinite vertex coordinate")
    return vertices, faces_array

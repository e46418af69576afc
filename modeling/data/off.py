"""CAD meshes in the OFF format of the release (``CAD/<category>/<NN>.off``, spec §1), read without trusting them.

Every problem is a :class:`MalformedOffError` naming the file and the line: a missing header or counts, a
truncated file, a vertex that is not 3 finite numbers, a face with fewer than 3 vertices or an index past
the vertices (which a renderer would read out of bounds).
"""

from __future__ import annotations

import numpy as np

from modeling.utils.errors import ImageNet3DError, located


class MalformedOffError(ImageNet3DError):
    """An OFF file that is not a valid mesh: ``problem`` at ``line`` (1-based; None for the whole file)."""

    def __init__(self, name: object, problem: str, line: int | None = None) -> None:
        super().__init__(str(located(name, problem, line)))
        self.problem, self.line = problem, line


def _header(name: str, lines: list[tuple[int, list[str]]]) -> tuple[int, int, int, list[tuple[int, list[str]]]]:
    """(line of the counts, vertex count, face count, the lines after the counts)."""
    if not lines or not lines[0][1][0].startswith("OFF"):
        raise MalformedOffError(name, "missing 'OFF' header", lines[0][0] if lines else 1)
    if len(lines[0][1]) > 1:  # "OFF 3 1 0" on one line
        (number, counts), body = (lines[0][0], lines[0][1][1:]), lines[1:]
    elif len(lines) > 1:
        (number, counts), body = lines[1], lines[2:]
    else:
        raise MalformedOffError(name, "no vertex and face counts after 'OFF'", lines[0][0])
    try:
        n_vertices, n_faces = int(counts[0]), int(counts[1])
    except (ValueError, IndexError):
        raise MalformedOffError(name, "the counts line must start with two integers (vertices, faces)",
                                number) from None
    if n_vertices < 0 or n_faces < 0:
        raise MalformedOffError(name, f"negative count ({n_vertices} vertices, {n_faces} faces)", number)
    if len(body) < n_vertices + n_faces:
        raise MalformedOffError(name, f"truncated: the counts say {n_vertices} vertices and {n_faces} faces, "
                                      f"{len(body)} lines follow", number)
    return number, n_vertices, n_faces, body


def parse_off(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) float32 and triangular faces (M, 3) int32 of an OFF mesh (spec §1).

    Faces with more than 3 vertices are fanned into triangles; values after a face's indices (colours)
    are ignored. Raises :class:`MalformedOffError` naming ``name`` and the line.
    """
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as err:
        raise MalformedOffError(name, f"not ASCII text (byte {err.start})") from None
    lines = [(number, tokens) for number, line in enumerate(text.splitlines(), 1)
             if (tokens := line.split()) and not tokens[0].startswith("#")]
    _, n_vertices, n_faces, body = _header(name, lines)
    vertices = np.empty((n_vertices, 3), dtype=np.float64)
    for k, (number, row) in enumerate(body[:n_vertices]):
        try:
            if len(row) < 3:
                raise ValueError
            vertices[k] = [float(v) for v in row[:3]]
        except ValueError:
            raise MalformedOffError(name, f"vertex {k}: expected 3 numbers, got {' '.join(row[:3])!r}",
                                    number) from None
    finite = np.isfinite(vertices).all(axis=1) & (np.abs(vertices) <= np.finfo(np.float32).max).all(axis=1)
    if not finite.all():
        k = int(np.argmin(finite))
        raise MalformedOffError(name, f"vertex {k}: NaN or infinite coordinate", body[k][0])
    faces: list[list[int]] = []
    for k, (number, row) in enumerate(body[n_vertices:n_vertices + n_faces]):
        try:
            count = int(row[0])
            indices = [int(v) for v in row[1:count + 1]] if count > 0 else []
        except ValueError:
            raise MalformedOffError(name, f"face {k}: expected a vertex count and integer indices", number) from None
        if count < 3 or len(indices) < count:
            raise MalformedOffError(name, f"face {k}: {count} vertex count with {len(indices)} indices (a face "
                                          "needs at least 3)", number)
        past = next((i for i in indices if not 0 <= i < n_vertices), None)
        if past is not None:
            raise MalformedOffError(name, f"face {k}: vertex index {past} out of range: the file has {n_vertices} "
                                          f"vertices (0 to {n_vertices - 1})", number)
        faces.extend([indices[0], indices[j], indices[j + 1]] for j in range(1, count - 1))
    return vertices.astype(np.float32), np.array(faces, dtype=np.int32).reshape(-1, 3)

"""Closed mesh primitives for the procedural CAD models: boxes, frusta, ellipsoids, tori, with outward faces.

Each primitive is a *piece*: vertices (N, 3) float64 in object units, faces (F, 3) int64 wound outward, and one
material index (body, trim, dark, glass, accent, metal) that the renderer colours. ``modeling.synthetic.parts``
assembles pieces into named parts, ``modeling.synthetic.categories`` parts into categories.
"""

from __future__ import annotations

import numpy as np

BODY, TRIM, DARK, GLASS, ACCENT, METAL = range(6)
"""Material indices: main colour, secondary colour, near-black, window blue-grey, light/marker, grey metal."""

Piece = tuple[np.ndarray, np.ndarray, int]
"""One closed primitive: vertices (N, 3) float64, faces (F, 3) int64 wound outward, a material index."""


def _orient(vertices: np.ndarray, faces: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Flip faces whose normal points towards ``inside`` (a reference point per face) so all face outward."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    normal = np.cross(b - a, c - a)
    inward = np.einsum("ij,ij->i", normal, (a + b + c) / 3 - inside) < 0
    faces = faces.copy()
    faces[inward] = faces[inward][:, ::-1]
    return faces


def box(center: tuple[float, float, float], size: tuple[float, float, float], material: int = BODY) -> Piece:
    """An axis-aligned box."""
    corners = np.array([[x, y, z] for x in (-0.5, 0.5) for y in (-0.5, 0.5) for z in (-0.5, 0.5)])
    vertices = np.asarray(center, float) + corners * np.asarray(size, float)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = np.array([t for q in quads for t in ((q[0], q[1], q[2]), (q[0], q[2], q[3]))])
    return vertices, _orient(vertices, faces, np.asarray(center, float)), material


def _basis(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(axis, u)


def frustum(p0: tuple[float, ...], p1: tuple[float, ...], r0: float, r1: float | None = None,
            material: int = BODY, segments: int = 16) -> Piece:
    """A capped cylinder (r1 = r0) or truncated cone from p0 to p1."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    r1 = r0 if r1 is None else r1
    axis = (p1 - p0) / np.linalg.norm(p1 - p0)
    u, w = _basis(axis)
    ang = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ring = np.cos(ang)[:, None] * u + np.sin(ang)[:, None] * w
    vertices = np.concatenate([p0 + r0 * ring, p1 + r1 * ring, [p0, p1]])
    i = np.arange(segments)
    j = (i + 1) % segments
    n = segments
    faces = np.concatenate([np.stack([i, j, n + j], 1), np.stack([i, n + j, n + i], 1),
                            np.stack([np.full(n, 2 * n), j, i], 1), np.stack([np.full(n, 2 * n + 1), n + i, n + j], 1)])
    return vertices, _orient(vertices, faces, np.repeat((p0 + p1)[None] / 2, len(faces), 0)), material


def ellipsoid(center: tuple[float, float, float], radii: tuple[float, float, float], material: int = BODY,
              rings: int = 8, segments: int = 14) -> Piece:
    """A UV ellipsoid."""
    center = np.asarray(center, float)
    lat = np.linspace(0, np.pi, rings + 1)[1:-1]
    lon = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    unit = np.stack([np.sin(lat)[:, None] * np.cos(lon), np.sin(lat)[:, None] * np.sin(lon),
                     np.cos(lat)[:, None] * np.ones_like(lon)], -1).reshape(-1, 3)
    unit = np.concatenate([unit, [[0, 0, 1], [0, 0, -1]]])
    vertices = center + unit * np.asarray(radii, float)
    top, bottom, s = len(unit) - 2, len(unit) - 1, segments
    faces = []
    for r in range(rings - 2):
        for k in range(s):
            a, b = r * s + k, r * s + (k + 1) % s
            faces += [(a, b, b + s), (a, b + s, a + s)]
    for k in range(s):
        faces += [(top, k, (k + 1) % s), (bottom, (rings - 2) * s + (k + 1) % s, (rings - 2) * s + k)]
    faces = np.array(faces)
    return vertices, _orient(vertices, faces, np.repeat(center[None], len(faces), 0)), material


def torus(center: tuple[float, float, float], u: tuple[float, float, float], w: tuple[float, float, float],
          major: float, minor: float, material: int = BODY, segments: int = 14, sides: int = 6) -> Piece:
    """A ring of tube radius ``minor`` around ``center`` in the plane spanned by the unit vectors u, w."""
    center, u, w = np.asarray(center, float), np.asarray(u, float), np.asarray(w, float)
    normal = np.cross(u, w)
    ang = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    spokes = np.cos(ang)[:, None] * u + np.sin(ang)[:, None] * w
    tube = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    vertices = np.concatenate([center + major * d + minor * (np.cos(tube)[:, None] * d + np.sin(tube)[:, None] * normal)
                               for d in spokes])
    faces, inside = [], []
    for k in range(segments):
        for t in range(sides):
            a, b = k * sides + t, k * sides + (t + 1) % sides
            c, d = ((k + 1) % segments) * sides + (t + 1) % sides, ((k + 1) % segments) * sides + t
            faces += [(a, b, c), (a, c, d)]
            mid = center + major * (spokes[k] + spokes[(k + 1) % segments]) / 2
            inside += [mid, mid]
    return vertices, _orient(vertices, np.array(faces), np.array(inside)), material


def rotated_x(piece: Piece, angle: float, pivot: tuple[float, float, float]) -> Piece:
    """The piece turned by ``angle`` (radians, right-handed) about the x axis through ``pivot``."""
    vertices, faces, material = piece
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    pivot = np.asarray(pivot, float)
    return (vertices - pivot) @ rot.T + pivot, faces, material

"""Procedural CAD meshes for the synthetic release.

Each category is assembled from closed primitives (boxes, frusta, ellipsoids, tori) in the
official object frame: z up, the object's front facing −y, so azimuth 0 looks at the front
(camera centre at d·(0, −1, 0)). Meshes are centred on their bounding-box centre and scaled so
the farthest vertex lies 0.5 from the origin, like the unit-size CADs of the real release.

Every face carries a *material* index (body, trim, dark, glass, accent, metal) so the renderer can
colour parts differently: fronts get lights, screens or doors that make azimuth readable.
Vertices are rounded to the precision of the OFF text, so the mesh that is rendered is exactly
the mesh that is written to ``CAD/<category>/NN.off``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

BODY, TRIM, DARK, GLASS, ACCENT, METAL = range(6)
"""Material indices: main colour, secondary colour, near-black, window blue-grey, light/marker, grey metal."""
OFF_DECIMALS = 6


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh: vertices (N, 3) float64, faces (F, 3) int64 (outward winding), materials (F,) int64."""

    vertices: np.ndarray
    faces: np.ndarray
    materials: np.ndarray


_Part = tuple[np.ndarray, np.ndarray, int]


def _orient(vertices: np.ndarray, faces: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Flip faces whose normal points towards ``inside`` (a reference point per face) so all face outward."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    normal = np.cross(b - a, c - a)
    inward = np.einsum("ij,ij->i", normal, (a + b + c) / 3 - inside) < 0
    faces = faces.copy()
    faces[inward] = faces[inward][:, ::-1]
    return faces


def box(center: tuple[float, float, float], size: tuple[float, float, float], material: int = BODY) -> _Part:
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
            material: int = BODY, segments: int = 16) -> _Part:
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
              rings: int = 8, segments: int = 14) -> _Part:
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
          major: float, minor: float, material: int = BODY, segments: int = 14, sides: int = 6) -> _Part:
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


def _wheels(xs: tuple[float, ...], ys: tuple[float, ...], radius: float, width: float, hub: bool = True) -> list[_Part]:
    parts = []
    for x in xs:
        for y in ys:
            parts.append(frustum((x - width / 2, y, radius), (x + width / 2, y, radius), radius, material=DARK))
            if hub:
                out = np.sign(x) * (abs(x) + width / 2 + 0.005)
                parts.append(frustum((x, y, radius), (out, y, radius), radius * 0.5, material=METAL, segments=10))
    return parts


# ---- categories (front = −y, up = +z); ``v`` is the 0-based CAD variant -------------------------------------


def _car(v: int) -> list[_Part]:
    length, height, cabin = [(2.0, 0.45, 0.9), (1.7, 0.55, 0.95), (2.1, 0.6, 1.3)][v]
    parts = [box((0, 0, 0.15 + height / 2), (0.9, length, height)),
             box((0, 0.12, 0.15 + height + 0.17), (0.8, cabin, 0.34), GLASS),
             box((0, 0.12, 0.15 + height + 0.345), (0.82, cabin * 0.85, 0.03)),
             box((0, -length / 2 - 0.01, 0.15 + height * 0.35), (0.86, 0.04, 0.1), METAL)]
    parts += [box((sx * 0.32, -length / 2 - 0.005, 0.15 + height * 0.7), (0.18, 0.03, 0.09), ACCENT) for sx in (-1, 1)]
    parts += [box((sx * 0.36, length / 2 + 0.005, 0.15 + height * 0.7), (0.12, 0.03, 0.07), TRIM) for sx in (-1, 1)]
    return parts + _wheels((-0.42, 0.42), (-length * 0.32, length * 0.32), 0.17, 0.14)


def _bus(v: int) -> list[_Part]:
    length = [3.0, 2.6][v]
    parts = [box((0, 0, 0.85), (0.95, length, 1.3)),
             box((0, -length / 2 - 0.005, 1.05), (0.85, 0.03, 0.6), GLASS),
             box((0.485, 0.1, 1.15), (0.02, length * 0.8, 0.4), GLASS),
             box((-0.485, 0.1, 1.15), (0.02, length * 0.8, 0.4), GLASS),
             box((0, -length / 2 - 0.005, 1.45), (0.6, 0.03, 0.12), ACCENT),
             box((0, 0, 0.35), (0.97, length + 0.02, 0.12), TRIM)]
    parts += [box((sx * 0.33, -length / 2 - 0.01, 0.45), (0.16, 0.03, 0.1), ACCENT) for sx in (-1, 1)]
    return parts + _wheels((-0.42, 0.42), (-length * 0.32, length * 0.3), 0.2, 0.14, hub=False)


def _aeroplane(v: int) -> list[_Part]:
    span = [2.4, 2.0][v]
    parts = [ellipsoid((0, 0, 0), (0.22, 1.3, 0.22), rings=10, segments=14),
             ellipsoid((0, -1.05, 0.09), (0.13, 0.2, 0.09), GLASS),
             box((0, -0.05, -0.03), (span, 0.45, 0.05), TRIM),
             box((0, 1.1, 0.0), (0.8, 0.25, 0.04), TRIM),
             box((0, 1.1, 0.28), (0.04, 0.3, 0.5), ACCENT)]
    for sx in (-1, 1):
        parts.append(frustum((sx * span * 0.25, -0.45, -0.15), (sx * span * 0.25, -0.05, -0.15), 0.1, material=METAL))
    return parts


def _bed(v: int) -> list[_Part]:
    width = [1.3, 0.9][v]
    parts = [box((0, 0, 0.25), (width, 2.0, 0.2), TRIM), box((0, 0, 0.42), (width - 0.05, 1.95, 0.16)),
             box((0, 1.02, 0.55), (width + 0.05, 0.08, 1.0), TRIM),  # headboard at the back
             box((0, -1.02, 0.3), (width + 0.05, 0.06, 0.5), TRIM),
             box((0, -0.3, 0.52), (width - 0.04, 1.3, 0.05), ACCENT)]
    parts += [ellipsoid((sx * width * 0.23, 0.8, 0.55), (width * 0.2, 0.13, 0.07), GLASS, rings=6, segments=10)
              for sx in ((-1, 1) if v == 0 else (0,))]
    return parts + [box((sx * (width / 2 - 0.05), sy * 0.95, 0.08), (0.08, 0.08, 0.16), TRIM)
                    for sx in (-1, 1) for sy in (-1, 1)]


def _bench(v: int) -> list[_Part]:
    parts = [box((0, 0, 0.45), (1.8, 0.45, 0.06)), box((0, 0.26, 0.8), (1.8, 0.05, 0.35)),
             box((0, 0.25, 0.55), (0.06, 0.06, 0.3), METAL)]
    parts += [box((sx * 0.8, sy * 0.17, 0.21), (0.07, 0.07, 0.42), METAL) for sx in (-1, 1) for sy in (-1, 1)]
    parts += [box((sx * 0.8, 0.26, 0.6), (0.07, 0.05, 0.5), METAL) for sx in (-1, 1)]
    if v == 1:
        parts += [box((sx * 0.88, 0.0, 0.65), (0.06, 0.5, 0.05), TRIM) for sx in (-1, 1)]
    return parts


def _chair(v: int) -> list[_Part]:
    parts = [box((0, 0, 0.45), (0.5, 0.5, 0.06)), box((0, 0.23, 0.8), (0.48, 0.05, 0.6 if v == 0 else 0.45), TRIM),
             box((0, -0.255, 0.47), (0.5, 0.02, 0.04), ACCENT)]
    parts += [box((sx * 0.21, sy * 0.21, 0.21), (0.05, 0.05, 0.43), TRIM if v == 0 else METAL)
              for sx in (-1, 1) for sy in (-1, 1)]
    if v == 1:
        parts += [box((sx * 0.26, 0.0, 0.65), (0.04, 0.45, 0.04), METAL) for sx in (-1, 1)]
        parts += [box((sx * 0.26, -0.2, 0.56), (0.03, 0.03, 0.18), METAL) for sx in (-1, 1)]
    return parts


def _sofa(v: int) -> list[_Part]:
    width = [2.0, 1.4][v]
    parts = [box((0, 0, 0.22), (width, 0.9, 0.3), TRIM), box((0, 0.35, 0.6), (width, 0.22, 0.6)),
             box((0, -0.4, 0.1), (width - 0.1, 0.04, 0.12), DARK)]
    parts += [box((sx * (width / 2 - 0.1), -0.02, 0.45), (0.2, 0.86, 0.35)) for sx in (-1, 1)]
    n = 3 if v == 0 else 2
    seat = (width - 0.4) / n
    parts += [box((-width / 2 + 0.2 + seat * (k + 0.5), -0.08, 0.44), (seat - 0.03, 0.7, 0.14), ACCENT)
              for k in range(n)]
    return parts


def _laptop(v: int) -> list[_Part]:
    tilt = np.deg2rad([105, 120][v]) - np.pi / 2
    parts = [box((0, 0, 0.02), (1.0, 0.7, 0.04), METAL), box((0, -0.05, 0.045), (0.85, 0.35, 0.01), DARK),
             box((0, -0.28, 0.045), (0.3, 0.12, 0.01), TRIM)]
    # The lid is a box hinged at the back edge, tilted back by ``tilt`` from vertical.
    lid_v, lid_f, _ = box((0, 0, 0.35), (1.0, 0.03, 0.7), METAL)
    scr_v, scr_f, _ = box((0, -0.017, 0.36), (0.9, 0.01, 0.6), GLASS)
    c, s = np.cos(tilt), np.sin(tilt)
    rot = np.array([[1, 0, 0], [0, c, s], [0, -s, c]])
    for verts, faces, mat in ((lid_v, lid_f, METAL), (scr_v, scr_f, GLASS)):
        parts.append((verts @ rot.T + np.array([0, 0.35, 0.04]), faces, mat))
    return parts


def _camera(v: int) -> list[_Part]:
    parts = [box((0, 0, 0), (0.9, 0.35, 0.55), DARK), box((0, 0, 0.33), (0.3, 0.3, 0.12), DARK),
             frustum((0, -0.17, 0), (0, -0.45 if v == 0 else -0.32, 0), 0.2, 0.18, METAL),
             frustum((0, -0.44 if v == 0 else -0.31, 0), (0, -0.47 if v == 0 else -0.34, 0), 0.15, material=GLASS),
             box((-0.38, -0.12, 0.0), (0.14, 0.15, 0.5), BODY), box((0.3, 0, 0.3), (0.12, 0.12, 0.06), ACCENT),
             box((0.15, 0.18, 0.05), (0.5, 0.02, 0.35), GLASS)]
    return parts


def _microwave(v: int) -> list[_Part]:
    parts = [box((0, 0, 0.3), (1.0, 0.7, 0.6)), box((-0.12, -0.355, 0.3), (0.62, 0.02, 0.42), GLASS),
             box((0.36, -0.355, 0.3), (0.22, 0.02, 0.5), DARK), box((0.36, -0.37, 0.42), (0.14, 0.02, 0.08), ACCENT),
             box((0.2, -0.38, 0.3), (0.04, 0.04, 0.4), METAL)]
    parts += [frustum((0.36, -0.36, z), (0.36, -0.39, z), 0.04, material=METAL, segments=10) for z in (0.22, 0.12)]
    return parts + [box((sx * 0.42, sy * 0.28, -0.01), (0.06, 0.06, 0.02), DARK) for sx in (-1, 1) for sy in (-1, 1)]


def _teapot(v: int) -> list[_Part]:
    parts = [ellipsoid((0, 0, 0.35), (0.45, 0.45, 0.33), rings=10, segments=16),
             ellipsoid((0, 0, 0.66), (0.25, 0.25, 0.07), TRIM), ellipsoid((0, 0, 0.74), (0.06, 0.06, 0.05), ACCENT),
             frustum((0, -0.3, 0.3), (0, -0.72, 0.62), 0.1, 0.04, TRIM, segments=10),
             torus((0, 0.45, 0.4), (0, 1, 0), (0, 0, 1), 0.2, 0.04, TRIM)]
    if v == 1:
        parts.append(frustum((0, 0, 0.0), (0, 0, 0.06), 0.3, 0.35, DARK))
    return parts


def _bottle(v: int) -> list[_Part]:
    radius, body, neck = [(0.16, 0.7, 0.25), (0.22, 0.55, 0.18)][v]
    return [frustum((0, 0, 0), (0, 0, body), radius, segments=18), frustum((0, 0, 0.3), (0, 0, 0.55), radius + 0.005,
                                                                         material=ACCENT, segments=18),
            frustum((0, 0, body), (0, 0, body + 0.15), radius, 0.05, segments=18),
            frustum((0, 0, body + 0.15), (0, 0, body + 0.15 + neck), 0.05, 0.045, segments=12),
            frustum((0, 0, body + 0.15 + neck), (0, 0, body + 0.2 + neck), 0.055, material=TRIM, segments=12)]


def _cup(v: int) -> list[_Part]:
    r0, r1, h = [(0.3, 0.38, 0.8), (0.35, 0.35, 0.6)][v]
    return [frustum((0, 0, 0), (0, 0, h), r0, r1, segments=20),
            frustum((0, 0, h - 0.015), (0, 0, h + 0.005), r1 * 0.88, material=DARK, segments=20),
            frustum((0, 0, 0.12), (0, 0, 0.3), r0 + 0.03, material=ACCENT, segments=20),
            torus((r1 * 0.95, 0, h * 0.5), (1, 0, 0), (0, 0, 1), h * 0.26, 0.045, TRIM)]


def _guitar(v: int) -> list[_Part]:
    parts = [ellipsoid((0, 0, 0.0), (0.38, 0.1, 0.42), rings=8, segments=16),
             ellipsoid((0, 0, 0.48), (0.3, 0.09, 0.3), rings=8, segments=16),
             frustum((0, -0.1, 0.3), (0, -0.115, 0.3), 0.12, material=DARK, segments=16),
             box((0, -0.1, -0.12), (0.3, 0.03, 0.05), DARK), box((0, -0.02, 1.05), (0.1, 0.06, 0.9), TRIM),
             box((0, 0.01, 1.6), (0.16, 0.05, 0.25), DARK)]
    if v == 1:
        parts.append(box((0.15, -0.1, 0.05), (0.12, 0.02, 0.2), ACCENT))
    return parts


def _piano(v: int) -> list[_Part]:
    parts = [box((0, 0.1, 0.7), (1.5, 0.5, 1.2)), box((0, -0.3, 0.72), (1.45, 0.3, 0.06), TRIM),
             box((0, -0.3, 0.755), (1.35, 0.26, 0.012), ACCENT), box((0, -0.16, 0.78), (1.35, 0.02, 0.06), DARK),
             box((0, -0.16, 0.95), (0.5, 0.02, 0.2), GLASS), box((0, -0.17, 0.2), (0.2, 0.08, 0.04), METAL)]
    return parts + [box((sx * 0.68, -0.32, 0.35), (0.08, 0.08, 0.7), TRIM) for sx in (-1, 1)]


def _skateboard(v: int) -> list[_Part]:
    parts = [box((0, 0, 0.14), (0.25, 0.95, 0.025)), box((0, -0.2, 0.155), (0.2, 0.3, 0.01), ACCENT),
             box((0, -0.55, 0.18), (0.25, 0.18, 0.025)), box((0, 0.53, 0.165), (0.25, 0.14, 0.02))]
    parts += [box((0, sy * 0.33, 0.1), (0.2, 0.05, 0.05), METAL) for sy in (-1, 1)]
    return parts + _wheels((-0.11, 0.11), (-0.33, 0.33), 0.05, 0.04, hub=False)


def _hammer(v: int) -> list[_Part]:
    parts = [box((0, 0, 0.0), (0.07, 0.1, 0.9), TRIM), box((0, 0, 0.12), (0.08, 0.11, 0.25), DARK),
             box((0, -0.12, 0.55), (0.12, 0.35, 0.13), METAL),
             frustum((0, -0.28, 0.55), (0, -0.36, 0.55), 0.08, material=ACCENT, segments=12)]
    claw_v, claw_f, _ = box((0, 0.18, 0.5), (0.1, 0.3, 0.06), METAL)
    c, s = np.cos(0.5), np.sin(0.5)
    rot = np.array([[1, 0, 0], [0, c, s], [0, -s, c]])
    parts.append(((claw_v - [0, 0.05, 0.55]) @ rot.T + [0, 0.05, 0.55], claw_f, METAL))
    return parts


def _hand_barrow(v: int) -> list[_Part]:
    # The tray is approximated by a wide, short box over the frame; the handles run back (+y).
    parts = [box((0, 0.0, 0.62), (0.65, 0.9, 0.3)), box((0, 0.0, 0.78), (0.6, 0.85, 0.02), DARK)]
    parts += [box((sx * 0.27, 0.2, 0.45), (0.05, 1.6, 0.05), METAL) for sx in (-1, 1)]
    parts += [box((sx * 0.27, 1.0, 0.46), (0.06, 0.2, 0.07), TRIM) for sx in (-1, 1)]
    parts += [box((sx * 0.27, 0.55, 0.22), (0.04, 0.04, 0.44), METAL) for sx in (-1, 1)]
    parts.append(frustum((-0.05, -0.6, 0.2), (0.05, -0.6, 0.2), 0.2, material=DARK))
    parts.append(frustum((-0.07, -0.6, 0.2), (0.07, -0.6, 0.2), 0.08, material=ACCENT, segments=10))
    return parts


_BUILDERS = {
    "aeroplane": (_aeroplane, 2), "bed": (_bed, 2), "bench": (_bench, 2), "bottle": (_bottle, 2),
    "bus": (_bus, 2), "camera": (_camera, 2), "car": (_car, 3), "chair": (_chair, 2), "cup": (_cup, 2),
    "guitar": (_guitar, 2), "hammer": (_hammer, 1), "hand_barrow": (_hand_barrow, 1), "laptop": (_laptop, 2),
    "microwave": (_microwave, 1), "piano": (_piano, 1), "skateboard": (_skateboard, 1), "sofa": (_sofa, 2),
    "teapot": (_teapot, 2),
}
MESH_CATEGORIES: tuple[str, ...] = tuple(sorted(_BUILDERS))
"""Categories with a procedural model."""
SYMMETRIC_CATEGORIES: tuple[str, ...] = ("bottle",)
"""Rotationally symmetric about z: azimuth cannot be read from pixels (as for real bottles)."""


def num_cad_models(category: str) -> int:
    """How many CAD variants (``01.off`` … ``NN.off``) a category has."""
    return _BUILDERS[category][1]


@cache
def build_mesh(category: str, cad_index: int) -> Mesh:
    """The normalised mesh of ``CAD/<category>/<cad_index:02d>.off`` (cad_index is 1-based)."""
    builder, count = _BUILDERS[category]
    if not 1 <= cad_index <= count:
        raise ValueError(f"{category} has CAD models 1..{count}, not {cad_index}")
    parts = builder(cad_index - 1)
    offsets = np.cumsum([0] + [len(p[0]) for p in parts])
    vertices = np.concatenate([p[0] for p in parts])
    faces = np.concatenate([p[1] + off for p, off in zip(parts, offsets)]).astype(np.int64)
    materials = np.concatenate([np.full(len(p[1]), p[2]) for p in parts]).astype(np.int64)
    vertices = vertices - (vertices.min(0) + vertices.max(0)) / 2
    vertices = vertices * (0.5 / np.linalg.norm(vertices, axis=1).max())
    # Round to what the OFF text stores, so rendering the arrays equals rendering the file.
    vertices = np.round(vertices, OFF_DECIMALS) + 0.0
    for array in (vertices, faces, materials):
        array.setflags(write=False)
    return Mesh(vertices, faces, materials)


def off_text(mesh: Mesh) -> str:
    """The mesh as OFF text in the layout the official loader expects (single spaces, "3 i j k" faces)."""
    lines = ["OFF", f"{len(mesh.vertices)} {len(mesh.faces)} 0"]
    lines += [f"{x:.{OFF_DECIMALS}f} {y:.{OFF_DECIMALS}f} {z:.{OFF_DECIMALS}f}" for x, y, z in mesh.vertices]
    lines += [f"3 {i} {j} {k}" for i, j, k in mesh.faces]
    return "\n".join(lines) + "\n"


def read_off(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (N, 3) float64 and faces (F, 3) int64 of an OFF file (triangles only)."""
    tokens = Path(path).read_text(encoding="ascii").split()
    if not tokens or tokens[0] != "OFF":
        raise ValueError(f"{path}: not an OFF file")
    n_vertices, n_faces = int(tokens[1]), int(tokens[2])
    start = 4
    vertices = np.array(tokens[start:start + 3 * n_vertices], dtype=np.float64).reshape(n_vertices, 3)
    faces = np.array(tokens[start + 3 * n_vertices:start + 3 * n_vertices + 4 * n_faces], dtype=np.int64)
    faces = faces.reshape(n_faces, 4)
    if np.any(faces[:, 0] != 3):
        raise ValueError(f"{path}: only triangle faces are supported")
    return vertices, faces[:, 1:]

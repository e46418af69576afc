"""The shared parts of the procedural categories, one small vocabulary per meta-class.

The paper's premise for open-vocabulary pose (Task 2) is that categories of a meta-class share parts in a
consistently aligned canonical frame, so that what a model learnt about "the front" of the known categories
carries to the novel ones. These builders are that vocabulary: every category of a meta-class is assembled from
the same parts, each with its own proportions, all in the official object frame (z up, front facing −y: azimuth 0
looks at the front, ``modeling.geometry``). The accent material marks the front of every asymmetric category.

========== ===============================================================================================
meta-class parts (where they sit)
========== ===============================================================================================
Furniture  ``legs`` (four posts, floor) · ``seat`` (slab) · ``back`` (upright slab at +y) · ``front`` (rail, −y)
Veh.       ``wheels`` (4, floor, ±x ±y) · ``body`` · ``cabin`` (glass, amidships; a truck's ``cab`` sits
           forward) · ``front`` (headlights, −y) · ``rear`` (tail lights, +y)
Elec.      ``base`` (low, forward) · ``screen`` (glass facing −y, upright behind) · ``body`` · ``lens`` (−y)
Hou.       ``body`` · ``lid`` (top) · ``spout`` (−y) · ``handle`` (+y)
Mus.       ``body`` (low) · ``neck`` (up +z) · ``head`` (top) · ``front`` (bridge and holes on the −y face)
Spo.       ``wheels`` (4, floor) · ``deck`` (low plate) · ``front`` (nose, −y)
Work       ``handle`` (along z, low) · ``head`` (top, along y) · ``front`` (working end, −y)
========== ===============================================================================================

Each builder returns a list of pieces (``modeling.synthetic.primitives``); lengths are in object units before the
mesh is normalised to unit size.
"""

from __future__ import annotations

import numpy as np

from modeling.synthetic.primitives import ACCENT, BODY, DARK, GLASS, METAL, TRIM, Piece, box, frustum, rotated_x, torus

# ---- furniture: legs + seat + back, the front rail at −y ----------------------------------------------------


def legs(width: float, depth: float, height: float, thick: float = 0.05, material: int = TRIM) -> list[Piece]:
    """Four posts under a ``width`` (x) × ``depth`` (y) footprint, from the floor (z = 0) up to ``height``."""
    x, y = width / 2 - thick, depth / 2 - thick
    return [box((sx * x, sy * y, height / 2), (thick, thick, height), material) for sx in (-1, 1) for sy in (-1, 1)]


def seat(width: float, depth: float, z: float, thick: float, material: int = BODY) -> list[Piece]:
    """A horizontal slab centred over the footprint, its underside at height ``z``."""
    return [box((0, 0, z + thick / 2), (width, depth, thick), material)]


def back(width: float, depth: float, z: float, height: float, thick: float, material: int = TRIM) -> list[Piece]:
    """An upright slab along the back (+y) edge of a ``depth``-deep seat, from height ``z`` up by ``height``."""
    return [box((0, depth / 2 - thick / 2, z + height / 2), (width, thick, height), material)]


def front_rail(width: float, depth: float, z: float, height: float = 0.05) -> list[Piece]:
    """The accent rail on the front (−y) edge of a ``depth``-deep seat, centred at height ``z``."""
    return [box((0, -depth / 2 - 0.012, z), (width * 0.9, 0.024, height), ACCENT)]


# ---- vehicles: wheels + body + cabin, headlights at −y, tail lights at +y --------------------------------------


def wheels(track: float, axles: tuple[float, ...], radius: float, width: float, hub: bool = True) -> list[Piece]:
    """Wheels at x = ±``track``/2 on each axle (y positions), touching the floor; metal hubs facing out."""
    parts = []
    for x in (-track / 2, track / 2):
        for y in axles:
            parts.append(frustum((x - width / 2, y, radius), (x + width / 2, y, radius), radius, material=DARK))
            if hub:
                out = np.sign(x) * (abs(x) + width / 2 + 0.005)
                parts.append(frustum((x, y, radius), (out, y, radius), radius * 0.5, material=METAL, segments=10))
    return parts


def body(width: float, length: float, z: float, height: float, y: float = 0.0, material: int = BODY) -> list[Piece]:
    """The main block: ``width`` (x) × ``length`` (y) × ``height``, underside at ``z``, centred at ``y``."""
    return [box((0, y, z + height / 2), (width, length, height), material)]


def headlights(width: float, y_front: float, z: float, size: float = 0.1) -> list[Piece]:
    """Two accent lights on the front face (at ``y_front``, facing −y), ``width`` apart, at height ``z``."""
    return [box((sx * width / 2, y_front - 0.008, z), (size * 1.6, 0.02, size), ACCENT) for sx in (-1, 1)]


def taillights(width: float, y_back: float, z: float, size: float = 0.08) -> list[Piece]:
    """Two trim lights on the back face (at ``y_back``, facing +y), ``width`` apart, at height ``z``."""
    return [box((sx * width / 2, y_back + 0.008, z), (size * 1.4, 0.02, size), TRIM) for sx in (-1, 1)]


# ---- electronics: a base forward and low, a screen upright behind it, facing −y ---------------------------------


def screen(width: float, height: float, y: float, z: float, thick: float = 0.04, tilt: float = 0.0) -> list[Piece]:
    """A bezel (dark) with a glass panel on its −y face; bottom edge at height ``z`` and depth ``y``, leaning back
    by ``tilt`` radians about its bottom edge."""
    pieces = [box((0, y, z + height / 2), (width, thick, height), DARK),
              box((0, y - thick / 2 - 0.004, z + height / 2), (width * 0.9, 0.008, height * 0.86), GLASS)]
    return [rotated_x(p, tilt, (0.0, y, z)) for p in pieces]


def lens(radius: float, y_front: float, length: float, z: float, x: float = 0.0) -> list[Piece]:
    """A metal barrel from ``y_front`` + ``length`` forward to ``y_front`` (facing −y), with an accent ring and a
    glass front."""
    return [frustum((x, y_front + length, z), (x, y_front, z), radius, radius * 0.92, METAL),
            frustum((x, y_front + 0.03, z), (x, y_front - 0.005, z), radius * 0.97, material=ACCENT),
            frustum((x, y_front + 0.004, z), (x, y_front - 0.012, z), radius * 0.72, material=GLASS)]


# ---- household: body + lid, spout at −y, handle at +y -----------------------------------------------------------


def spout(root: tuple[float, float, float], tip: tuple[float, float, float], r0: float, r1: float) -> list[Piece]:
    """A tapering spout from ``root`` (inside the body) to ``tip`` (forward, −y), with an accent rim."""
    direction = np.subtract(tip, root) / np.linalg.norm(np.subtract(tip, root))
    rim = tuple(np.asarray(tip) + 0.03 * direction)
    return [frustum(root, tip, r0, r1, TRIM, segments=10), frustum(tip, rim, r1 * 1.15, material=ACCENT, segments=10)]


def side_handle(y: float, z: float, radius: float, tube: float) -> list[Piece]:
    """A loop handle in the y-z plane centred at (0, ``y``, ``z``): put it behind the body (+y)."""
    return [torus((0, y, z), (0, 1, 0), (0, 0, 1), radius, tube, TRIM)]


# ---- work tools: a handle along z, a head on top along y, the working end at −y -----------------------------------


def tool_handle(length: float, radius: float, z: float = 0.0, grip: float = 0.3) -> list[Piece]:
    """A vertical handle (trim) from height ``z`` up by ``length``, with a dark grip over its lower ``grip``."""
    return [frustum((0, 0, z), (0, 0, z + length), radius, radius * 0.85, TRIM, segments=10),
            frustum((0, 0, z), (0, 0, z + length * grip), radius * 1.2, material=DARK, segments=10)]


def tool_head(length: float, width: float, height: float, z: float, y: float = 0.0,
              material: int = METAL) -> list[Piece]:
    """The head: a block along y (``length`` long) centred at (0, ``y``, ``z``)."""
    return [box((0, y, z), (width, length, height), material)]

"""The procedural categories: each one assembled from its meta-class's shared parts (``modeling.synthetic.parts``).

A builder takes the 0-based CAD variant and returns named parts (part name → pieces) in the official object frame
(z up, front facing −y). Within a meta-class the known and novel categories use the same part names at the same
canonical positions, each with its own proportions and details, so that pose learnt on the known ones (Task 2
trains on those only) has something to carry to the novel ones; ``tests/synthetic/test_parts.py`` checks that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dataset_card import KNOWN_CATEGORIES, META_CLASS_OF, META_CLASSES
from modeling.synthetic.parts import (
    back,
    body,
    front_rail,
    headlights,
    legs,
    lens,
    screen,
    seat,
    side_handle,
    spout,
    taillights,
    tool_handle,
    tool_head,
    wheels,
)
from modeling.synthetic.primitives import (
    ACCENT,
    BODY,
    DARK,
    GLASS,
    METAL,
    TRIM,
    Piece,
    box,
    ellipsoid,
    frustum,
    rotated_x,
)

Parts = dict[str, list[Piece]]
"""Part name → the pieces that make it up."""


# ---- Furniture: legs + seat + back (+y) + front rail (−y) -------------------------------------------------------


def _bench(v: int) -> Parts:
    w, d, z = 1.8, 0.45, 0.42
    parts = {"legs": legs(w * 0.92, d, z, 0.07, METAL), "seat": seat(w, d, z, 0.06),
             "back": back(w, d + 0.06, z + 0.16, 0.32, 0.05) + [box((sx * 0.8, d / 2, z + 0.12), (0.06, 0.05, 0.26),
                                                                    METAL) for sx in (-1, 1)],
             "front": front_rail(w, d, z + 0.03)}
    if v == 1:
        parts["arms"] = [box((sx * 0.88, 0.0, z + 0.24), (0.06, d, 0.05), TRIM) for sx in (-1, 1)]
    return parts


def _chair(v: int) -> Parts:
    w = d = 0.5
    z = 0.45
    parts = {"legs": legs(w, d, z, 0.05, TRIM if v == 0 else METAL), "seat": seat(w, d, z, 0.06),
             "back": back(w * 0.96, d, z + 0.06, 0.55 if v == 0 else 0.4, 0.05),
             "front": front_rail(w, d, z + 0.03)}
    if v == 1:
        parts["arms"] = ([box((sx * 0.26, 0.0, z + 0.22), (0.04, 0.45, 0.04), METAL) for sx in (-1, 1)]
                         + [box((sx * 0.26, -0.2, z + 0.13), (0.03, 0.03, 0.18), METAL) for sx in (-1, 1)])
    return parts


def _bed(v: int) -> Parts:
    w, d = [1.3, 0.9][v], 2.0
    return {"legs": legs(w, d, 0.15, 0.08), "seat": seat(w, d, 0.15, 0.18, TRIM) + seat(w - 0.06, d - 0.06, 0.33, 0.16),
            "back": back(w + 0.04, d + 0.04, 0.15, 0.85, 0.08),
            "pillow": [ellipsoid((sx * w * 0.23, 0.75, 0.53), (w * 0.2, 0.13, 0.06), GLASS, rings=6, segments=10)
                       for sx in ((-1, 1) if v == 0 else (0,))],
            "front": front_rail(w + 0.04, d, 0.3, 0.16)}


def _sofa(v: int) -> Parts:
    w, d = [2.0, 1.4][v], 0.9
    n = 3 if v == 0 else 2
    cushion = (w - 0.44) / n
    return {"legs": legs(w, d, 0.1, 0.06, DARK),
            "seat": seat(w, d, 0.1, 0.26, TRIM) + [box((-w / 2 + 0.22 + cushion * (k + 0.5), -0.08, 0.42),
                                                       (cushion - 0.03, 0.72, 0.12)) for k in range(n)],
            "back": back(w, d, 0.1, 0.72, 0.22),
            "arms": [box((sx * (w / 2 - 0.1), -0.02, 0.45), (0.2, 0.86, 0.35)) for sx in (-1, 1)],
            "front": front_rail(w - 0.4, d, 0.24, 0.08)}


# ---- Transportation: wheels + body + cabin, headlights (−y), tail lights (+y) --------------------------------------


def _car(v: int) -> Parts:
    length, height, cabin = [(2.0, 0.45, 0.9), (1.7, 0.55, 0.95), (2.1, 0.6, 1.3)][v]
    top = 0.15 + height
    return {"wheels": wheels(0.84, (-length * 0.32, length * 0.32), 0.17, 0.14),
            "body": body(0.9, length, 0.15, height),
            "cabin": [box((0, 0.12, top + 0.17), (0.8, cabin, 0.34), GLASS),
                      box((0, 0.12, top + 0.345), (0.82, cabin * 0.85, 0.03))],
            "front": headlights(0.64, -length / 2, 0.15 + height * 0.7, 0.1)
            + [box((0, -length / 2 - 0.01, 0.15 + height * 0.35), (0.86, 0.04, 0.1), METAL)],
            "rear": taillights(0.72, length / 2, 0.15 + height * 0.7)}


def _bus(v: int) -> Parts:
    length = [3.0, 2.6][v]
    return {"wheels": wheels(0.84, (-length * 0.32, length * 0.3), 0.2, 0.14, hub=False),
            "body": body(0.95, length, 0.2, 1.3) + [box((0, 0, 0.35), (0.97, length + 0.02, 0.12), TRIM)],
            "cabin": [box((0, -length / 2 - 0.005, 1.05), (0.85, 0.03, 0.6), GLASS)]
            + [box((sx * 0.485, 0.1, 1.15), (0.02, length * 0.8, 0.4), GLASS) for sx in (-1, 1)],
            "front": headlights(0.66, -length / 2, 0.45) + [box((0, -length / 2 - 0.005, 1.42), (0.6, 0.03, 0.12),
                                                                ACCENT)],
            "rear": taillights(0.7, length / 2, 0.5)}


def _ambulance(v: int) -> Parts:
    length, box_height = [(2.3, 1.1), (2.0, 0.95)][v]
    cab = 0.75
    y_box = -length / 2 + cab + (length - cab) / 2
    return {"wheels": wheels(0.84, (-length * 0.3, length * 0.3), 0.19, 0.14),
            "body": body(0.95, length - cab, 0.2, box_height, y=y_box)
            + body(0.9, cab, 0.2, 0.55, y=-length / 2 + cab / 2)
            + [box((0, y_box, 0.2 + box_height * 0.55), (0.97, length - cab - 0.1, 0.1), TRIM)],
            "cab": [box((0, -length / 2 + cab * 0.62, 0.92), (0.84, cab * 0.7, 0.34), GLASS)],
            "lightbar": [box((0, -length / 2 + cab + 0.12, 0.2 + box_height + 0.04), (0.6, 0.12, 0.08), TRIM)],
            "front": headlights(0.6, -length / 2, 0.5) + [box((0, -length / 2 - 0.01, 0.33), (0.86, 0.04, 0.08),
                                                              METAL)],
            "rear": taillights(0.75, length / 2, 0.2 + box_height * 0.8)}


def _fire_truck(v: int) -> Parts:
    length = [3.2, 2.7][v]
    cab, y_back = 0.8, length / 2
    ladder_len = length * 0.8
    rails = [box((sx * 0.3, 0.1, 1.2), (0.05, ladder_len, 0.05), METAL) for sx in (-1, 1)]
    rungs = [box((0, 0.1 + t * ladder_len * 0.45, 1.2), (0.6, 0.03, 0.03), METAL) for t in np.linspace(-1, 1, 7)]
    return {"wheels": wheels(0.86, (-length * 0.34, length * 0.15, length * 0.34), 0.22, 0.16),
            "body": body(1.0, length - cab, 0.22, 0.85, y=(-length / 2 + cab + y_back) / 2)
            + body(1.0, cab, 0.22, 0.6, y=-length / 2 + cab / 2),
            "cab": [box((0, -length / 2 + cab * 0.55, 1.0), (0.94, cab * 0.8, 0.36), GLASS)],
            "ladder": rails + rungs,
            "front": headlights(0.66, -length / 2, 0.5) + [box((0, -length / 2 - 0.01, 0.34), (0.94, 0.04, 0.1),
                                                               METAL)],
            "rear": taillights(0.78, y_back, 0.85)}


def _aeroplane(v: int) -> Parts:
    span = [2.4, 2.0][v]
    return {"body": [ellipsoid((0, 0, 0), (0.22, 1.3, 0.22), rings=10, segments=14)],
            "wings": [box((0, -0.05, -0.03), (span, 0.45, 0.05), TRIM)]
            + [frustum((sx * span * 0.25, -0.45, -0.15), (sx * span * 0.25, -0.05, -0.15), 0.1, material=METAL)
               for sx in (-1, 1)],
            "tail": [box((0, 1.1, 0.0), (0.8, 0.25, 0.04), TRIM), box((0, 1.1, 0.28), (0.04, 0.3, 0.5), TRIM)],
            "front": [ellipsoid((0, -1.05, 0.09), (0.13, 0.2, 0.09), GLASS),
                      ellipsoid((0, -1.27, 0.0), (0.09, 0.06, 0.09), ACCENT, rings=6, segments=10)]}


# ---- Electronics: a base low and forward, a screen upright behind it (glass facing −y), or a body with a lens -----


def _laptop(v: int) -> Parts:
    tilt = np.deg2rad([15, 30][v])
    return {"base": [box((0, 0, 0.02), (1.0, 0.7, 0.04), METAL), box((0, -0.02, 0.045), (0.85, 0.35, 0.01), DARK)],
            "screen": screen(1.0, 0.7, 0.335, 0.04, 0.03, -tilt),
            "front": [box((0, -0.28, 0.045), (0.3, 0.12, 0.012), ACCENT)]}


def _tvmonitor(v: int) -> Parts:
    width, height = [(1.1, 0.66), (0.8, 0.6)][v]
    return {"base": [box((0, -0.04, 0.015), (0.5, 0.36, 0.03), DARK), box((0, 0.1, 0.17), (0.08, 0.04, 0.3), DARK)],
            "screen": screen(width, height, 0.07, 0.2, 0.04, np.deg2rad(-5)),
            "front": [box((0, -0.22, 0.033), (0.12, 0.02, 0.012), ACCENT)]}


def _camera(v: int) -> Parts:
    y_front = [-0.45, -0.32][v]
    return {"body": [box((0, 0, 0), (0.9, 0.35, 0.55), DARK), box((0, 0, 0.33), (0.3, 0.3, 0.12), DARK),
                     box((0.3, 0, 0.3), (0.12, 0.12, 0.06), TRIM)],
            "grip": [box((-0.38, -0.12, 0.0), (0.14, 0.15, 0.5), BODY)],
            "display": [box((0.15, 0.18, 0.05), (0.5, 0.02, 0.35), TRIM)],
            "lens": lens(0.2, y_front, -0.17 - y_front, 0.0)}


def _projector(v: int) -> Parts:
    x_lens = [0.22, 0.0][v]
    return {"body": [box((0, 0, 0.2), (0.9, 0.7, 0.3)), box((-0.2, 0.05, 0.355), (0.3, 0.4, 0.01), DARK)],
            "feet": [box((sx * 0.35, sy * 0.25, 0.025), (0.06, 0.06, 0.05), DARK) for sx in (-1, 1) for sy in (-1, 1)],
            "lens": lens(0.11, -0.42, 0.08, 0.2, x_lens)}


def _microwave(v: int) -> Parts:
    # The front is the whole front face: the glass door, its handle and the control panel.
    return {"body": [box((0, 0, 0.3), (1.0, 0.7, 0.6))],
            "front": [box((-0.12, -0.355, 0.3), (0.62, 0.02, 0.42), GLASS), box((0.2, -0.38, 0.3), (0.04, 0.04, 0.4),
                                                                               METAL),
                      box((0.36, -0.355, 0.3), (0.22, 0.02, 0.5), DARK), box((0.36, -0.37, 0.42), (0.14, 0.02, 0.08),
                                                                              ACCENT)]
            + [frustum((0.36, -0.36, z), (0.36, -0.39, z), 0.04, material=METAL, segments=10) for z in (0.22, 0.12)],
            "feet": [box((sx * 0.42, sy * 0.28, -0.01), (0.06, 0.06, 0.02), DARK) for sx in (-1, 1) for sy in (-1, 1)]}


# ---- Household: body + lid, spout (−y), handle (+y); the bottle is the symmetric one -----------------------------


def _teapot(v: int) -> Parts:
    parts = {"body": [ellipsoid((0, 0, 0.35), (0.45, 0.45, 0.33), rings=10, segments=16)],
             "lid": [ellipsoid((0, 0, 0.66), (0.25, 0.25, 0.07), TRIM), ellipsoid((0, 0, 0.74), (0.06, 0.06, 0.05))],
             "spout": spout((0, -0.3, 0.3), (0, -0.72, 0.62), 0.1, 0.04),
             "handle": side_handle(0.45, 0.4, 0.2, 0.04)}
    if v == 1:
        parts["body"].append(frustum((0, 0, 0.0), (0, 0, 0.06), 0.3, 0.35, DARK))
    return parts


def _kettle(v: int) -> Parts:
    r0, r1, h = [(0.38, 0.28, 0.75), (0.33, 0.3, 0.9)][v]
    parts = {"body": [frustum((0, 0, 0), (0, 0, h), r0, r1, segments=20)],
             "lid": [frustum((0, 0, h), (0, 0, h + 0.04), r1 * 0.8, material=TRIM, segments=16),
                     ellipsoid((0, 0, h + 0.07), (0.05, 0.05, 0.04), TRIM)],
             "spout": spout((0, -r1 * 0.6, h * 0.75), (0, -r0 - 0.17, h * 0.92), 0.07, 0.035),
             "handle": [box((0, r1 + 0.2, h * 0.55), (0.06, 0.06, h * 0.75), TRIM),
                        box((0, r1 + 0.1, h * 0.9), (0.06, 0.24, 0.06), TRIM),
                        box((0, r0 + 0.08, h * 0.2), (0.06, 0.26, 0.06), TRIM)]}
    if v == 1:
        parts["body"].append(frustum((0, 0, -0.06), (0, 0, 0.0), r0 + 0.04, material=DARK, segments=20))
    return parts


def _cup(v: int) -> Parts:
    r0, r1, h = [(0.3, 0.38, 0.8), (0.35, 0.35, 0.6)][v]
    mid = (r0 + r1) / 2
    return {"body": [frustum((0, 0, 0), (0, 0, h), r0, r1, segments=20),
                     frustum((0, 0, h - 0.015), (0, 0, h + 0.005), r1 * 0.88, material=DARK, segments=20)],
            "handle": side_handle(r1 * 0.95, h * 0.5, h * 0.26, 0.045),
            "front": [box((0, -mid - 0.004, h * 0.5), (mid * 0.8, 0.03, h * 0.35), ACCENT)]}


def _bottle(v: int) -> Parts:
    radius, height, neck = [(0.16, 0.7, 0.25), (0.22, 0.55, 0.18)][v]
    return {"body": [frustum((0, 0, 0), (0, 0, height), radius, segments=18),
                     frustum((0, 0, 0.3), (0, 0, 0.55), radius + 0.005, material=ACCENT, segments=18)],
            "neck": [frustum((0, 0, height), (0, 0, height + 0.15), radius, 0.05, segments=18),
                     frustum((0, 0, height + 0.15), (0, 0, height + 0.15 + neck), 0.05, 0.045, segments=12)],
            "lid": [frustum((0, 0, height + 0.15 + neck), (0, 0, height + 0.2 + neck), 0.055, material=TRIM,
                            segments=12)]}


# ---- Music: body low, neck up (+z), head on top, bridge and holes on the front (−y) face ----------------------------


def _guitar(v: int) -> Parts:
    parts = {"body": [ellipsoid((0, 0, 0.0), (0.38, 0.1, 0.42), rings=8, segments=16),
                      ellipsoid((0, 0, 0.48), (0.3, 0.09, 0.3), rings=8, segments=16)],
             "neck": [box((0, -0.02, 1.05), (0.1, 0.06, 0.9), TRIM)],
             "head": [box((0, 0.01, 1.6), (0.16, 0.05, 0.25), DARK)],
             "front": [frustum((0, -0.1, 0.3), (0, -0.115, 0.3), 0.12, material=DARK, segments=16),
                       box((0, -0.1, -0.12), (0.3, 0.03, 0.05), ACCENT)]}
    if v == 1:
        parts["front"].append(box((0.15, -0.1, 0.05), (0.12, 0.02, 0.2), ACCENT))
    return parts


def _violin(v: int) -> Parts:
    s = [1.0, 1.18][v]  # a viola is a larger violin
    return {"body": [ellipsoid((0, 0, 0.0), (0.27 * s, 0.07, 0.3 * s), rings=8, segments=16),
                     ellipsoid((0, 0, 0.42 * s), (0.22 * s, 0.07, 0.24 * s), rings=8, segments=16),
                     ellipsoid((0.12 * s, 0.0, -0.26 * s), (0.08, 0.06, 0.05), DARK)],
            "neck": [box((0, -0.07, 0.75 * s), (0.07, 0.04, 0.75 * s), DARK)],
            "head": [box((0, -0.02, 1.18 * s), (0.06, 0.07, 0.16)), ellipsoid((0, -0.02, 1.3 * s), (0.04, 0.06, 0.05))],
            "front": [box((0, -0.08, 0.05), (0.18, 0.025, 0.05), ACCENT)]
            + [box((sx * 0.1 * s, -0.072, 0.12), (0.02, 0.01, 0.16), DARK) for sx in (-1, 1)]
            + [box((0, -0.075, -0.16 * s), (0.09, 0.02, 0.16), DARK)]}


def _piano(v: int) -> Parts:
    return {"body": [box((0, 0.1, 0.7), (1.5, 0.5, 1.2)), box((0, -0.16, 0.95), (0.5, 0.02, 0.2), GLASS)],
            "front": [box((0, -0.3, 0.72), (1.45, 0.3, 0.06), TRIM), box((0, -0.3, 0.755), (1.35, 0.26, 0.012), ACCENT),
                      box((0, -0.16, 0.78), (1.35, 0.02, 0.06), DARK)],
            "legs": [box((sx * 0.68, -0.32, 0.35), (0.08, 0.08, 0.7), TRIM) for sx in (-1, 1)]
            + [box((0, -0.17, 0.2), (0.2, 0.08, 0.04), METAL)]}


# ---- Sports: wheels + deck, the nose at −y -------------------------------------------------------------------------


def _skate(v: int) -> Parts:
    shaft = [0.3, 0.42][v]
    return {"wheels": wheels(0.18, (-0.2, 0.2), 0.055, 0.05, hub=False),
            "deck": [box((0, 0, 0.13), (0.2, 0.56, 0.03), METAL)]
            + [box((0, sy * 0.2, 0.09), (0.16, 0.05, 0.05), METAL) for sy in (-1, 1)],
            "boot": [box((0, 0.0, 0.22), (0.22, 0.56, 0.15)), box((0, 0.17, 0.3 + shaft / 2), (0.22, 0.22, shaft)),
                     box((0, -0.02, 0.3), (0.1, 0.3, 0.02), TRIM)],
            "front": [box((0, -0.29, 0.22), (0.2, 0.03, 0.12), ACCENT),
                      frustum((0, -0.3, 0.13), (0, -0.3, 0.04), 0.035, 0.04, ACCENT, segments=10)]}


def _skateboard(v: int) -> Parts:
    length = [0.95, 1.2][v]
    deck = [box((0, 0, 0.14), (0.25, length, 0.025))]
    if v == 0:
        deck += [box((0, 0.53, 0.165), (0.25, 0.14, 0.02))]
    return {"wheels": wheels(0.22, (-length * 0.35, length * 0.35), 0.05, 0.04, hub=False),
            "deck": deck + [box((0, sy * length * 0.35, 0.1), (0.2, 0.05, 0.05), METAL) for sy in (-1, 1)],
            "front": [box((0, -length / 2 - 0.04, 0.17), (0.25, 0.14, 0.025), ACCENT)]}


# ---- Work: a handle along z, the head on top along y, the working end at −y -----------------------------------------


def _hammer(v: int) -> Parts:
    length, head = [(0.95, 0.36), (0.7, 0.44)][v]
    claw = rotated_x(box((0, 0.16, length), (0.1, 0.26, 0.06), METAL), -0.5, (0, 0.05, length))
    return {"handle": tool_handle(length, 0.04),
            "head": tool_head(head, 0.12, 0.13, length, y=-0.02) + [claw],
            "front": [frustum((0, -head / 2 - 0.02, length), (0, -head / 2 - 0.09, length), 0.08, material=ACCENT,
                              segments=12)]}


def _power_drill(v: int) -> Parts:
    grip, motor = [(0.45, 0.5), (0.38, 0.42)][v]
    top = grip + 0.1
    return {"handle": tool_handle(grip, 0.065, z=0.05, grip=0.8) + [box((0, -0.07, grip - 0.05), (0.05, 0.05, 0.1),
                                                                         DARK)],
            "base": [box((0, 0.02, 0.03), (0.2, 0.32, 0.1), DARK)],
            "head": [frustum((0, motor / 2, top), (0, -motor / 2, top), 0.12, 0.1, BODY)],
            "front": [frustum((0, -motor / 2, top), (0, -motor / 2 - 0.12, top), 0.06, 0.045, ACCENT, segments=12),
                      frustum((0, -motor / 2 - 0.12, top), (0, -motor / 2 - 0.3, top), 0.012, material=METAL,
                              segments=8)]}


def _hand_barrow(v: int) -> Parts:
    # The tray is approximated by a wide, short box over the frame; the shafts run back (+y) to the grips.
    return {"tray": [box((0, 0.0, 0.62), (0.65, 0.9, 0.3)), box((0, 0.0, 0.78), (0.6, 0.85, 0.02), DARK)],
            "shafts": [box((sx * 0.27, 0.2, 0.45), (0.05, 1.6, 0.05), METAL) for sx in (-1, 1)]
            + [box((sx * 0.27, 1.0, 0.46), (0.06, 0.2, 0.07), TRIM) for sx in (-1, 1)]
            + [box((sx * 0.27, 0.55, 0.22), (0.04, 0.04, 0.44), METAL) for sx in (-1, 1)],
            "front": [frustum((-0.05, -0.6, 0.2), (0.05, -0.6, 0.2), 0.2, material=DARK),
                      frustum((-0.07, -0.6, 0.2), (0.07, -0.6, 0.2), 0.08, material=ACCENT, segments=10)]}


@dataclass(frozen=True)
class CategoryModel:
    """How a category's CAD models are built: the builder (variant → parts), the number of variants (``01.off`` …),
    and the name of the part that marks its front (at −y), None for a rotationally symmetric category."""

    build: Callable[[int], Parts]
    count: int
    front: str | None


MODELS: dict[str, CategoryModel] = {
    # Furniture
    "bed": CategoryModel(_bed, 2, "front"), "bench": CategoryModel(_bench, 2, "front"),
    "chair": CategoryModel(_chair, 2, "front"), "sofa": CategoryModel(_sofa, 2, "front"),
    # Transportation
    "aeroplane": CategoryModel(_aeroplane, 2, "front"), "ambulance": CategoryModel(_ambulance, 2, "front"),
    "bus": CategoryModel(_bus, 2, "front"), "car": CategoryModel(_car, 3, "front"),
    "fire_truck": CategoryModel(_fire_truck, 2, "front"),
    # Electronics
    "camera": CategoryModel(_camera, 2, "lens"), "laptop": CategoryModel(_laptop, 2, "front"),
    "microwave": CategoryModel(_microwave, 1, "front"), "projector": CategoryModel(_projector, 2, "lens"),
    "tvmonitor": CategoryModel(_tvmonitor, 2, "front"),
    # Household
    "bottle": CategoryModel(_bottle, 2, None), "cup": CategoryModel(_cup, 2, "front"),
    "kettle": CategoryModel(_kettle, 2, "spout"), "teapot": CategoryModel(_teapot, 2, "spout"),
    # Music
    "guitar": CategoryModel(_guitar, 2, "front"), "piano": CategoryModel(_piano, 1, "front"),
    "violin": CategoryModel(_violin, 2, "front"),
    # Sports
    "skate": CategoryModel(_skate, 2, "front"), "skateboard": CategoryModel(_skateboard, 2, "front"),
    # Work
    "hammer": CategoryModel(_hammer, 2, "front"), "hand_barrow": CategoryModel(_hand_barrow, 1, "front"),
    "power_drill": CategoryModel(_power_drill, 2, "front"),
}
"""Every category with a procedural model (the default release draws from these, ``generator.DEFAULT_CATEGORIES``)."""



def synthetic_categories_paragraph(categories: list[str] | tuple[str, ...]) -> str:
    """One paragraph (Markdown) for a dataset card: which of a synthetic release's ``categories`` are known and novel
    in the official open-vocabulary split, and which parts each novel one shares with a known one of its meta-class.

    Raises KeyError for a category without a procedural model.
    """
    names: dict[str, list[str]] = {}

    def part_names(category: str) -> list[str]:  # each model built once (building one takes milliseconds)
        if category not in names:
            names[category] = list(MODELS[category].build(0))
        return names[category]

    known = [c for c in categories if c in KNOWN_CATEGORIES]
    novel = [c for c in categories if c not in KNOWN_CATEGORIES]
    groups = []
    for meta in META_CLASSES:
        members = [c for c in novel if META_CLASS_OF[c] == meta]
        peers = [c for c in known if META_CLASS_OF[c] == meta]
        items = []
        for category in members:
            parts = part_names(category)
            shared = {k: [p for p in parts if p in part_names(k)] for k in peers}
            best = max(peers, key=lambda k: len(shared[k])) if peers else None
            items.append(f"{category} ({', '.join(shared[best])} as {best})" if best and shared[best] else category)
        if items:
            groups.append(f"{meta}: " + "; ".join(items))
    return (f"Synthetic categories. Known and novel follow the official open-vocabulary split (the 63 known "
            f"categories of `known_categories.txt`): known, trained on in Task 2: {', '.join(known) or 'none'}; "
            f"novel, only evaluated: {', '.join(novel) or 'none'}. The novel ones are built from the same parts as "
            "known ones of their meta-class, in the same canonical frame (z up, front at −y, marked by the accent "
            "colour), so that pose learnt on the known categories can carry to the novel ones through shared parts, "
            "as the paper's cross-category alignment argues." + "".join(f" {group}." for group in groups))


__all__ = ["MODELS", "CategoryModel", "Parts", "synthetic_categories_paragraph"]

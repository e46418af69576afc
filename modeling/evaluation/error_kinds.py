"""Where the error goes: each object that misses Acc@π/6, put in one kind, counted per category.

A pose error Δ (:func:`modeling.evaluation.metrics.pose_error`) says how far a pose is, not why. Object pose
papers split the misses by what went wrong (e.g. the azimuth "flips" of near-symmetric objects seen front or back);
this module does that for every scorer result (``error_kinds``: ``imagenet3d evaluate`` and ``probe`` write it
under the paper's table in ``table.md``, ``imagenet3d score --error-kinds`` prints it for any predictions file).
Each object is, in this order:

* ``correct``: Δ < π/6 (Δ' < π/6 in the joint task, so its category is right too);
* ``no_pose``: the prediction (a missing one, an answer without ``<pose6D>``) or the reference has no finite pose;
* ``wrong_category`` (joint task only): the predicted category is not the object's, whatever the pose;
* ``azimuth_flip``: the azimuth is off by more than 5π/6 (150°), the short way round: seen from the opposite side;
* ``azimuth_off``: the azimuth is off by π/6 to 5π/6 (30-150°);
* ``elevation_or_theta``: the azimuth is within π/6 but Δ is not: the elevation or the in-plane rotation misses.

The kinds read the azimuth alone, which says which side the camera looks from except near the poles: at an
elevation near ±90° two azimuths far apart can be one rotation (Δ small), so there a "flip" need not be one.

A rotationally symmetric category (the synthetic release's bottle; oboe and punching bag in the real one, whose
azimuth ImageNet3D's annotators ignored: ``shared/imagenet3d_spec.md`` §7) cannot beat chance on the azimuth:
with a uniform azimuth, ``CHANCE_ACC_PI6`` (1/6) of its objects land within π/6, and the rest spread over
``azimuth_off`` and ``azimuth_flip`` about 4 : 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dataset_card import KNOWN_CATEGORIES
from modeling.evaluation.metrics import THRESHOLDS
from modeling.geometry import signed_angle

ERROR_KINDS = ("correct", "no_pose", "wrong_category", "azimuth_flip", "azimuth_off", "elevation_or_theta")
AZIMUTH_FLIP = 5 * np.pi / 6
"""An azimuth error beyond this (150°) is a flip: the object seen from the opposite side."""
OBJECT_STATUSES = ("status_good", "status_partially", "status_barely", "status_bad")
"""ImageNet3D's ``object_status`` values, most visible first (``shared/imagenet3d_spec.md`` §2.2; the official
filter drops ``status_bad``)."""
CHANCE_ACC_PI6 = 1 / 6
"""Acc@π/6 of a uniformly random azimuth (with elevation and theta exact): the ceiling of a symmetric category."""
KIND_TITLES = {"correct": "Acc@π/6", "no_pose": "no pose", "wrong_category": "wrong category",
               "azimuth_flip": "azimuth flip (>150°)", "azimuth_off": "azimuth 30-150°",
               "elevation_or_theta": "elevation / theta"}
"""The table's column titles."""


def error_kinds(errors: np.ndarray, pred: np.ndarray, gt: np.ndarray,
                class_correct: np.ndarray | None = None) -> np.ndarray:
    """The kind of each object, as an index into :data:`ERROR_KINDS` (shape (N,)).

    ``errors``: Δ per object (radians, shape (N,), *not* Δ'); ``pred`` and ``gt``: (N, 3) poses (azimuth,
    elevation, theta; radians; NaN for no pose, on either side); ``class_correct``: (N,) booleans for the joint
    task, None for the pose and open_vocab tasks (whose score ignores the class).
    """
    errors = np.asarray(errors, dtype=np.float64).reshape(-1)
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 3)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 3)
    if not len(errors) == len(pred) == len(gt):
        raise ValueError(f"{len(errors)} errors, {len(pred)} predicted and {len(gt)} reference poses")
    right_class = np.ones(len(errors), dtype=bool) if class_correct is None else np.asarray(class_correct, bool)
    finite = np.isfinite(pred).all(axis=1) & np.isfinite(gt).all(axis=1)  # the metric's Δ = π either way
    azimuth = np.abs(signed_angle(np.where(finite, pred[:, 0] - gt[:, 0], 0.0)))
    kinds = np.full(len(errors), ERROR_KINDS.index("elevation_or_theta"))
    kinds[azimuth >= THRESHOLDS["acc_pi6"]] = ERROR_KINDS.index("azimuth_off")
    kinds[azimuth > AZIMUTH_FLIP] = ERROR_KINDS.index("azimuth_flip")
    kinds[~right_class] = ERROR_KINDS.index("wrong_category")
    kinds[~finite] = ERROR_KINDS.index("no_pose")
    kinds[(errors < THRESHOLDS["acc_pi6"]) & right_class & finite] = ERROR_KINDS.index("correct")
    return kinds


def _counts(per_kind: np.ndarray) -> dict[str, int]:
    """``{"count", kind: objects, ...}`` of a row of objects per kind (shape (len(ERROR_KINDS),))."""
    return {"count": int(per_kind.sum()), **{kind: int(n) for kind, n in zip(ERROR_KINDS, per_kind)}}


def sum_counts(blocks: Sequence[dict[str, int]]) -> dict[str, int]:
    """The counts of several blocks of objects together (e.g. the known categories' subtotal)."""
    return {key: sum(block[key] for block in blocks) for key in ("count", *ERROR_KINDS)}


def acc_percent(counts: dict[str, int]) -> float | None:
    """The block's Acc@π/6 in percent (3D-aware when the task reads the category); None for no object."""
    return 100 * counts["correct"] / counts["count"] if counts["count"] else None


def error_breakdown(errors: np.ndarray, pred: np.ndarray, gt: np.ndarray, categories: Sequence[str],
                    class_correct: np.ndarray | None = None, statuses: Sequence[str | None] | None = None) -> dict:
    """Counts of each kind (:func:`error_kinds`' arguments, plus each object's reference category and, when the
    references carry it, its ``object_status``: how visible the annotators found it).

    Returns ``{"task_reads_category": bool, "overall": counts, "categories": {name: counts}}``, each ``counts``
    ``{"count": objects, kind: objects of that kind, ...}`` for every kind of :data:`ERROR_KINDS` (``correct``
    / ``count`` is the category's Acc@π/6, or 3D-aware Acc@π/6 when the task reads the category); with
    ``statuses``, also ``"object_status": {status: counts}``, in :data:`OBJECT_STATUSES` order then any other value
    (None: "unknown").
    """
    kinds = error_kinds(errors, pred, gt, class_correct)
    width = len(ERROR_KINDS)
    result = {"task_reads_category": class_correct is not None,
              "overall": _counts(np.bincount(kinds, minlength=width))}
    for key, labels in (("categories", categories), ("object_status", statuses)):
        if labels is None:
            continue
        # One pass over the objects (a scorer's file can hold a million): each label's row of counts per kind.
        index: dict[str, int] = {}
        group = np.array([index.setdefault("unknown" if label is None else str(label), len(index))
                          for label in labels], dtype=np.int64)
        if group.size != kinds.size:
            raise ValueError(f"{kinds.size} objects but {group.size} {key}")
        table = np.bincount(group * width + kinds, minlength=len(index) * width).reshape(-1, width)
        order = sorted(index)
        if key == "object_status":  # most visible first, then anything else
            order.sort(key=lambda n: OBJECT_STATUSES.index(n) if n in OBJECT_STATUSES else len(OBJECT_STATUSES))
        result[key] = {name: _counts(table[index[name]]) for name in order}
    return result


def format_error_breakdown(breakdown: dict) -> str:
    """Markdown: a table with one row per category (a novel one marked so), subtotals of the known and the novel
    categories when both are there, and one for all; then, when the breakdown has them, a table with one row per
    ``object_status``. Acc@π/6 (percent) then each kind of miss (objects); the ``wrong category`` column only when
    the task reads the category (joint)."""
    misses = [k for k in ERROR_KINDS[1:] if breakdown["task_reads_category"] or k != "wrong_category"]
    categories = breakdown["categories"]
    groups = {"known": [c for n, c in categories.items() if n in KNOWN_CATEGORIES],
              "novel": [c for n, c in categories.items() if n not in KNOWN_CATEGORIES]}
    rows = [(name if name in KNOWN_CATEGORIES else f"{name} (novel)", counts) for name, counts in categories.items()]
    if all(groups.values()):
        rows += [(f"**{group}**", sum_counts(members)) for group, members in groups.items()]
    tables = [_table("category", [*rows, ("**all**", breakdown["overall"])], misses)]
    if breakdown.get("object_status"):
        tables.append(_table("object_status", list(breakdown["object_status"].items()), misses))
    return "\n\n".join(tables)


def _table(first_column: str, rows: list[tuple[str, dict]], misses: list[str]) -> str:
    lines = [f"| {first_column} | objects | " + " | ".join(KIND_TITLES[k] for k in ("correct", *misses)) + " |",
             "|" + "---|" * (len(misses) + 3)]
    for label, counts in rows:
        accuracy = "–" if acc_percent(counts) is None else f"{acc_percent(counts):.1f}"
        lines.append(f"| {label} | {counts['count']} | {accuracy} | " + " | ".join(str(counts[k]) for k in misses)
                     + " |")
    return "\n".join(lines)


def error_kinds_section(breakdown: dict, heading: str = "Where the error goes") -> str:
    """``table.md``'s second section: a level-3 ``heading``, :func:`format_error_breakdown`'s table and what its
    columns mean (with the chance level that bounds a rotationally symmetric category)."""
    category = ("; *wrong category*: the class is wrong, whatever the pose (a miss of the 3D-aware score)"
                if breakdown["task_reads_category"] else "")
    return (f"### {heading}\n\n" + format_error_breakdown(breakdown) + "\n\n"
            "- the objects that miss Acc@π/6, each under the first kind that applies: *no pose*: no finite "
            f"predicted or reference pose{category}; *azimuth flip*: the azimuth off by more than 150° (seen from "
            "the opposite side); *azimuth 30-150°*: off by 30° to 150°; *elevation / theta*: the azimuth within 30° "
            "but the elevation or the in-plane rotation off\n"
            f"- a rotationally symmetric category cannot beat chance on the azimuth: {100 * CHANCE_ACC_PI6:.1f} % "
            "Acc@π/6 for a uniform azimuth, its misses about 4 : 1 azimuth 30-150° : flip\n")


__all__ = ["AZIMUTH_FLIP", "CHANCE_ACC_PI6", "ERROR_KINDS", "KIND_TITLES", "OBJECT_STATUSES", "acc_percent",
           "error_breakdown", "error_kinds", "error_kinds_section", "format_error_breakdown", "sum_counts"]

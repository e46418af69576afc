"""The official ImageNet3D metric (``shared/imagenet3d_spec.md`` §4 and §5).

* Pose error Δ: the geodesic angle between R_pred and R_gt, equal to the official
  ‖logm(R_predᵀ R_gt)‖_F / √2, in [0, π]; π where either pose has a NaN or inf.
* Acc@π/6 and Acc@π/18 with a strict ``<``; median and mean error in degrees.
* Averages are over objects ("Avg" is instance-weighted), then the same statistics per meta-class.
* Task 3 (joint): Δ' = Δ + π when the predicted class is wrong.
* Task 2 (open vocabulary): the same blocks for the known and the novel categories separately. The
  official script zipped the novel errors with the *known* category list for its per-meta-class
  numbers; here every error keeps its own category.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dataset_card import KNOWN_CATEGORIES, META_CLASS_OF, META_CLASSES
from modeling.geometry import rotation_matrix

SCORING_TASKS = ("pose", "open_vocab", "joint")
"""pose: Δ; open_vocab: Δ split into known and novel categories; joint: the 3D-aware Δ'."""
THRESHOLDS = {"acc_pi6": np.pi / 6, "acc_pi18": np.pi / 18}


def pose_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Geodesic angle (radians) between the rotations of two poses.

    ``pred`` and ``gt`` have shape (..., 3), holding (azimuth, elevation, theta) in radians, and
    broadcast against each other. The angle is computed as atan2(sin, cos) of the relative
    rotation, which is accurate near 0 and near π alike (an arccos of the trace loses about 1e-8
    rad there; a per-pair ``logm`` is ~10,000x slower and goes complex near π).
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape[-1:] != (3,) or gt.shape[-1:] != (3,):
        raise ValueError(f"poses must have shape (..., 3), got {pred.shape} and {gt.shape}")
    finite = np.isfinite(pred).all(axis=-1) & np.isfinite(gt).all(axis=-1)
    # Compute on sanitised inputs so that no NaN warning escapes, then overwrite with π.
    pred = np.where(np.isfinite(pred), pred, 0.0)
    gt = np.where(np.isfinite(gt), gt, 0.0)
    r_pred = rotation_matrix(pred[..., 0], pred[..., 1], pred[..., 2])
    r_gt = rotation_matrix(gt[..., 0], gt[..., 1], gt[..., 2])
    relative = np.swapaxes(r_pred, -1, -2) @ r_gt
    cos = (np.trace(relative, axis1=-2, axis2=-1) - 1.0) / 2.0
    # The antisymmetric part holds sin(angle) times the rotation axis.
    axis = np.stack([relative[..., 2, 1] - relative[..., 1, 2],
                     relative[..., 0, 2] - relative[..., 2, 0],
                     relative[..., 1, 0] - relative[..., 0, 1]], axis=-1)
    sin = np.linalg.norm(axis, axis=-1) / 2.0
    return np.where(finite, np.arctan2(sin, cos), np.pi)


def aware_error(error: np.ndarray, class_correct: np.ndarray) -> np.ndarray:
    """The 3D-aware error of Task 3: Δ' = Δ + π·[class wrong]."""
    return np.asarray(error, dtype=np.float64) + np.pi * (~np.asarray(class_correct, dtype=bool))


def summarize(errors: np.ndarray) -> dict[str, float | int | None]:
    """Acc@π/6 and Acc@π/18 (percent, strict ``<``), median and mean error (degrees), count.

    With no objects, every statistic is ``None`` (JSON ``null``) and the count is 0.
    """
    errors = np.asarray(errors, dtype=np.float64).reshape(-1)
    if errors.size == 0:
        return {"acc_pi6": None, "acc_pi18": None, "median_error_deg": None, "mean_error_deg": None, "count": 0}
    stats: dict[str, float | int | None] = {
        name: float(np.mean(errors < threshold) * 100.0) for name, threshold in THRESHOLDS.items()
    }
    stats["median_error_deg"] = float(np.degrees(np.median(errors)))
    stats["mean_error_deg"] = float(np.degrees(np.mean(errors)))
    stats["count"] = int(errors.size)
    return stats


def summarize_by_meta_class(errors: np.ndarray, categories: Sequence[str]) -> dict:
    """``{"overall": summary, "meta_classes": {full name: summary}}`` for errors of the given categories."""
    errors = np.asarray(errors, dtype=np.float64).reshape(-1)
    meta = np.array([META_CLASS_OF[c] for c in categories], dtype=object)
    return {
        "overall": summarize(errors),
        "meta_classes": {name: summarize(errors[meta == name]) for name in META_CLASSES},
    }


def score_errors(errors: np.ndarray, categories: Sequence[str], task: str = "pose",
                 class_correct: np.ndarray | None = None) -> dict:
    """The scorer's result for per-object errors Δ and the objects' ground-truth categories.

    ``task="joint"`` needs ``class_correct`` and scores Δ'. ``task="open_vocab"`` adds ``known``
    and ``novel`` blocks, each a summary with its own ``meta_classes``.
    """
    if task not in SCORING_TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(SCORING_TASKS)}")
    errors = np.asarray(errors, dtype=np.float64).reshape(-1)
    categories = list(categories)
    if len(categories) != errors.size:
        raise ValueError(f"{errors.size} errors but {len(categories)} categories")
    unknown = sorted(set(categories) - set(META_CLASS_OF))
    if unknown:
        raise ValueError(f"unknown categories: {unknown[:5]}")
    if task == "joint":
        if class_correct is None:
            raise ValueError("the joint task needs class_correct")
        errors = aware_error(errors, class_correct)
    result = summarize_by_meta_class(errors, categories)
    if task == "open_vocab":
        known = np.isin(np.array(categories, dtype=object), list(KNOWN_CATEGORIES))
        for name, mask in (("known", known), ("novel", ~known)):
            block = summarize_by_meta_class(errors[mask], [c for c, m in zip(categories, mask) if m])
            result[name] = {**block["overall"], "meta_classes": block["meta_classes"]}
    return result

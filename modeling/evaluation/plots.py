"""The plots of ``imagenet3d evaluate`` (matplotlib, Agg backend: no display needed).

* ``meta_classes.png``: Acc@π/6 for Avg and each meta-class (known and novel side by side for open_vocab);
* ``error_histogram.png``: the pose error Δ in degrees, split by what matters for the task (class right or wrong
  for joint, known or novel for open_vocab);
* ``azimuth_error_polar.png``: the signed azimuth error on a polar histogram; the 180° flips of objects that look
  the same from the front and from the back show up as a lobe opposite the one at 0°;
* ``examples.png`` (:func:`write_examples`): objects of the evaluated split on their crops, the ground-truth and
  the predicted pose drawn (:func:`modeling.visualization.draw_poses`): the best, the median and the worst by
  pose error Δ.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dataset_card import META_CLASS_ABBREVIATIONS, META_CLASSES

PLOT_FILES = ("meta_classes.png", "error_histogram.png", "azimuth_error_polar.png")
EXAMPLES_FILE = "examples.png"
EXAMPLES_PER_GROUP = 3
"""Tiles per row of ``examples.png``: this many best, median and worst objects."""


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, also on machines without a display
    import matplotlib.pyplot as plt

    return plt


def _accuracies(block: dict) -> tuple[list[float], list[int]]:
    stats = [block["overall"], *(block["meta_classes"][name] for name in META_CLASSES)]
    return [np.nan if s["acc_pi6"] is None else s["acc_pi6"] for s in stats], [s["count"] for s in stats]


def plot_meta_classes(metrics: dict, path: Path, title: str) -> None:
    """Bars of Acc@π/6 (percent): Avg then the 7 meta-classes; one group per block (overall, or known + novel)."""
    plt = _pyplot()
    if "known" in metrics:
        blocks = {name: {"overall": metrics[name], "meta_classes": metrics[name]["meta_classes"]}
                  for name in ("known", "novel")}
    else:
        blocks = {"all": metrics}
    labels = ["Avg", *(META_CLASS_ABBREVIATIONS[name] for name in META_CLASSES)]
    x = np.arange(len(labels))
    width = 0.8 / len(blocks)
    fig, ax = plt.subplots(figsize=(8, 4))
    for k, (name, block) in enumerate(blocks.items()):
        values, counts = _accuracies(block)
        bars = ax.bar(x + (k - (len(blocks) - 1) / 2) * width, np.nan_to_num(values), width, label=name)
        for bar, value, count in zip(bars, values, counts):
            text = "n/a" if np.isnan(value) else f"{value:.0f}\n(n={count})"
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                        fontsize=7)
    ax.set_xticks(x, labels)
    ax.set_ylim(0, 115)
    ax.set_ylabel("Acc@π/6 (%)")
    ax.set_title(title)
    if len(blocks) > 1:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_error_histogram(errors: np.ndarray, groups: dict[str, np.ndarray], path: Path, title: str) -> None:
    """Stacked histogram of Δ (degrees) in 5° bins; `groups` maps a label to a boolean mask over the objects."""
    plt = _pyplot()
    degrees = np.degrees(np.asarray(errors, dtype=np.float64))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist([degrees[mask] for mask in groups.values()], bins=np.arange(0, 185, 5), stacked=True,
            label=[f"{name} (n={int(mask.sum())})" for name, mask in groups.items()])
    for threshold, style in ((30, "--"), (10, ":")):
        ax.axvline(threshold, color="black", linestyle=style, linewidth=1, label=f"{threshold}° (π/{180 // threshold})")
    ax.set_xlabel("pose error Δ (degrees)")
    ax.set_ylabel("objects")
    ax.set_xlim(0, 180)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_azimuth_polar(pred_azimuth: np.ndarray, gt_azimuth: np.ndarray, path: Path, title: str) -> None:
    """Polar histogram (10° bins) of the signed azimuth error, wrapped to [−180°, 180°); missing predictions skipped."""
    plt = _pyplot()
    diff = np.asarray(pred_azimuth, dtype=np.float64) - np.asarray(gt_azimuth, dtype=np.float64)
    finite = np.isfinite(diff)
    wrapped = np.mod(diff[finite] + np.pi, 2 * np.pi) - np.pi
    edges = np.linspace(-np.pi, np.pi, 37)
    counts, _ = np.histogram(wrapped, bins=edges)
    fig = plt.figure(figsize=(5, 5))
    ax = fig.add_subplot(projection="polar")
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", edgecolor="black", linewidth=0.5)
    ax.set_theta_zero_location("N")
    ticks = np.arange(-135, 181, 45)
    ax.set_thetagrids(np.mod(ticks, 360), [f"{t:+d}°" if abs(t) != 180 else "±180°" for t in ticks])
    skipped = int((~finite).sum())
    ax.set_title(f"{title}\nazimuth error (pred − gt), n={int(finite.sum())}"
                 + (f", {skipped} without a pose" if skipped else ""), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_plots(out_dir: Path, metrics: dict, task: str, errors: np.ndarray, pred: np.ndarray, gt: np.ndarray,
                class_correct: np.ndarray, known: np.ndarray | Sequence[bool], title: str) -> list[Path]:
    """All three plots into `out_dir`; `pred`, `gt` are (N, 3) angles, `errors` the pose errors Δ (radians)."""
    out_dir = Path(out_dir)
    paths = [out_dir / name for name in PLOT_FILES]
    plot_meta_classes(metrics, paths[0], f"{title}: Acc@π/6 per meta-class")
    known = np.asarray(known, dtype=bool)
    if task == "joint":
        groups = {"class right": class_correct, "class wrong": ~class_correct}
    elif task == "open_vocab":
        groups = {"known": known, "novel": ~known}
    else:
        groups = {"all": np.ones(len(errors), dtype=bool)}
    plot_error_histogram(errors, groups, paths[1], f"{title}: pose error")
    plot_azimuth_polar(pred[:, 0], gt[:, 0], paths[2], title)
    return paths


def pick_examples(errors: np.ndarray, per_group: int = EXAMPLES_PER_GROUP) -> list[tuple[str, list[int]]]:
    """The objects to show: ``[("best", indices), ("median", indices), ("worst", indices)]``, each up to
    ``per_group`` indices into ``errors`` (radians; NaN counts as π, the scorer's error for a missing pose), best
    first, worst last. Fewer objects than 3 · per_group: n // 3 per group (at least one), each object shown once
    (a group left empty is left out)."""
    errors = np.nan_to_num(np.asarray(errors, dtype=np.float64), nan=np.pi)
    order = np.argsort(errors, kind="stable")
    n = len(order)
    k = min(per_group, max(1, n // 3))
    middle = max(0, min(n // 2 - k // 2, n - k))
    groups = [("best", order[:k]), ("median", order[middle:middle + k]), ("worst", order[::-1][:k][::-1])]
    shown: set[int] = set()
    picked = []
    for name, indices in groups:
        kept = [int(i) for i in indices if int(i) not in shown]
        shown.update(kept)
        if kept:
            picked.append((name, kept))
    return picked


def _pose_split(split: str) -> str:
    """The `pose` split that holds the objects of an evaluated split (open_vocab's are `pose`'s validation ones)."""
    return "validation" if split.startswith("validation_") else split


def write_examples(out_dir: Path, data_dir: str | Path, split: str, predictions: Sequence[dict],
                   references: Sequence[dict], errors: np.ndarray, title: str,
                   per_group: int = EXAMPLES_PER_GROUP) -> Path:
    """``examples.png``: a grid of objects on their crops, ground truth and prediction drawn, best to worst.

    `predictions` and `references` are evaluate's records (``id``, ``category``, angles in radians); `errors` their
    pose errors Δ (radians). The crop, box, distance, px, py, viewport and cad_index of each object are read from
    the `pose` config of `data_dir` (`split`, or `validation` for the open_vocab splits). Wireframes of the
    ground-truth class's CAD model when the dataset has the `cad` config, else the axes. The prediction is drawn
    at the ground truth's distance and centre (Δ compares rotations only). Returns the path written.
    """
    from modeling.data.loading import built_configs, load_split
    from modeling.geometry import ANGLE_NAMES
    from modeling.visualization import PREDICTION_COLOR, REFERENCE_COLOR, draw_poses, load_cad_meshes, pose_label

    plt = _pyplot()
    picked = pick_examples(errors, per_group)
    rows = load_split(data_dir, "pose", _pose_split(split))
    position = {object_id: i for i, object_id in enumerate(rows["object_id"])}
    names = rows.features["category"].names
    wanted = [i for _, indices in picked for i in indices]
    meshes = None
    if "cad" in built_configs(data_dir):
        meshes = load_cad_meshes(data_dir, sorted({references[i]["category"] for i in wanted}))
    columns = max(len(indices) for _, indices in picked)
    fig, axes = plt.subplots(len(picked), columns, figsize=(3.4 * columns, 4.3 * len(picked)), squeeze=False,
                             layout="constrained")
    for axis in axes.ravel():
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_frame_on(False)
    for r, (group, indices) in enumerate(picked):
        for c, i in enumerate(indices):
            row = rows[position[references[i]["id"]]]
            place = {"distance": row["distance"], "px": row["px"], "py": row["py"], "viewport": row["viewport"],
                     "cad_index": row["cad_index"], "category": names[row["category"]]}
            truth = {**place, **{k: row[k] for k in ANGLE_NAMES}, "box": row["bbox"]}
            guess = {**place, **{k: predictions[i][k] for k in ANGLE_NAMES}}
            tile = draw_poses(row["image"], [guess], [truth], meshes, labels=False, legend=False, axis_names=True)
            axis = axes[r, c]
            axis.imshow(tile)
            error = np.degrees(np.nan_to_num(errors[i], nan=np.pi))
            axis.set_title(f"{group} {c + 1}: {place['category']}\nΔ {error:.1f}°", fontsize=9)
            predicted = predictions[i].get("category")
            wrong = f"\npredicted class: {predicted or 'none'}" if predicted != place["category"] else ""
            axis.set_xlabel(f"{pose_label(truth, 'gt')}\n{pose_label(guess, 'pred')}{wrong}", fontsize=8)
    handles = [plt.Line2D([], [], color=np.array(color) / 255, linewidth=3, label=label)
               for label, color in (("ground truth", REFERENCE_COLOR), ("prediction", PREDICTION_COLOR))]
    drawn = ("wireframe: CAD model of the ground-truth class, arrow: front" if meshes
             else "axes: F front, U up, R right")
    fig.legend(handles=handles, loc="outside upper right", fontsize=9, frameon=False, ncols=2)
    fig.suptitle(f"{title}: best, median and worst by pose error Δ\n({drawn})", fontsize=10)
    path = Path(out_dir) / EXAMPLES_FILE
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


__all__ = ["EXAMPLES_FILE", "PLOT_FILES", "pick_examples", "plot_azimuth_polar", "plot_error_histogram",
           "plot_meta_classes", "write_examples", "write_plots"]

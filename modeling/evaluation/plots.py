"""The plots of ``imagenet3d evaluate`` (matplotlib, Agg backend: no display needed).

* ``meta_classes.png``: Acc@π/6 for Avg and each meta-class (known and novel side by side for open_vocab);
* ``error_histogram.png``: the pose error Δ in degrees, split by what matters for the task (class right or wrong
  for joint, known or novel for open_vocab);
* ``azimuth_error_polar.png``: the signed azimuth error on a polar histogram; the 180° flips of objects that look
  the same from the front and from the back show up as a lobe opposite the one at 0°.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dataset_card import META_CLASS_ABBREVIATIONS, META_CLASSES

PLOT_FILES = ("meta_classes.png", "error_histogram.png", "azimuth_error_polar.png")


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


__all__ = ["PLOT_FILES", "plot_azimuth_polar", "plot_error_histogram", "plot_meta_classes", "write_plots"]

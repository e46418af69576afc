"""``imagenet3d probe --compare RESULTS.jsonl``: every run of a results file side by side, in the layout of the
paper's Table 1, and one grouped bar chart per meta-class.

Rows are grouped by dataset fingerprint: runs on different builds are never put in one table. A row is
``<backbone> · <selected variant>``; ``†`` marks a run that is not the official protocol (fewer heads,
epochs or objects) and ``[smoke test]`` a built-in tiny random backbone. The paper's own Table 1 (Acc@π/6)
can be printed below, as a separate reference table that is never mixed with measured rows: its numbers
come from the project page (``shared/imagenet3d_spec.md`` §5 Task 1, source [WEB]:
``imagenet3d/imagenet3d.github.io`` ``index.html`` at 04f97a70), on the official val split, with the
official (unpublished) meta-class mapping, whereas ours is a reconstruction.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from dataset_card import META_CLASS_ABBREVIATIONS, META_CLASSES
from modeling.evaluation.scoring import format_comparison
from modeling.probing.results import read_results

PAPER_TABLE1: dict[str, tuple[float, ...]] = {
    "DeiT III B/16": (36.6, 47.9, 48.2, 36.8, 21.5, 16.6, 35.0, 25.3),
    "MAE B/16": (46.6, 57.6, 67.8, 40.2, 29.0, 20.2, 58.4, 25.6),
    "DINO B/16": (42.0, 53.1, 57.0, 39.8, 28.0, 19.3, 45.3, 27.0),
    "DINOv2 B/14": (56.3, 64.0, 75.3, 47.9, 32.9, 23.5, 74.7, 38.1),
    "CLIP B/16": (39.7, 50.3, 52.8, 39.7, 23.1, 19.3, 39.8, 26.4),
    "MiDaS L/16": (40.5, 50.9, 56.7, 40.2, 26.7, 18.9, 39.2, 28.1),
}
"""The paper's Table 1, Acc@π/6 (%): Avg then the meta-classes in ``META_CLASSES`` order (Elec., Furn., Hou.,
Mus., Spo., Veh., Work), as the project page prints them (module docstring for the source)."""
PAPER_SOURCE = ("Reference, not measured here: the paper's Table 1, Acc@π/6 (%) of frozen backbones under the "
                "official protocol on the official val split, as imagenet3d.github.io prints it; its meta-class "
                "mapping is the official one, ours a reconstruction, so the columns are not directly comparable")
COLUMNS = ("Avg", *(META_CLASS_ABBREVIATIONS[m] for m in META_CLASSES))
"""Table and chart columns: Avg, then the meta-classes as the paper abbreviates them."""
DAGGER_NOTE = "† not the official protocol (fewer learning rates, layer sets, epochs or objects)"


def _label(record: dict) -> str:
    official = record.get("protocol", {}).get("official", True)
    label = f"{Path(record['backbone'].rstrip('/')).name} · {record.get('variant', '?')}" + ("" if official else " †")
    return label + (" [smoke test]" if record.get("smoke_test") else "")


def _unique_labels(records: list[dict]) -> list[str]:
    labels, seen = [], {}
    for record in records:
        label = _label(record)
        seen[label] = seen.get(label, 0) + 1
        labels.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return labels


def _as_result(record: dict) -> dict:
    return {"overall": {k: record.get(k) for k in ("acc_pi6", "acc_pi18", "median_error_deg", "count")},
            "meta_classes": record["meta_classes"]}


def paper_table() -> str:
    """The paper's Table 1 (Acc@π/6) as a separate, labelled Markdown table in our layout."""
    results = {name: {"overall": {"acc_pi6": row[0], "count": "–"},
                      "meta_classes": {m: {"acc_pi6": v} for m, v in zip(META_CLASSES, row[1:])}}
               for name, row in PAPER_TABLE1.items()}
    return PAPER_SOURCE + "\n\n" + format_comparison(results, "acc_pi6", title="Acc@π/6 (paper)")


def format_results(records: list[dict], paper: bool = False) -> str:
    """The comparison as text: per dataset fingerprint, Acc@π/6 (the paper's Table 1 layout), Acc@π/18 and
    median error tables with one row per run; then, with ``paper``, the paper's Table 1 as a reference table."""
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(record["dataset_fingerprint"], []).append(record)
    blocks = []
    for fingerprint, rows in groups.items():
        results = dict(zip(_unique_labels(rows), map(_as_result, rows)))
        first = rows[0]
        head = (f"Dataset {fingerprint} ({first.get('dataset', '?')}, config {first.get('dataset_config', '?')}; "
                f"validation; best head chosen on validation)")
        tables = [format_comparison(results, metric) for metric in ("acc_pi6", "acc_pi18", "median_error_deg")]
        notes = [DAGGER_NOTE] if any("†" in label for label in results) else []
        if any(r.get("smoke_test") for r in rows):
            notes.append("[smoke test] a built-in tiny random backbone: checks the pipeline, is not a result")
        blocks.append("\n\n".join([head, *tables, *notes]))
    if paper:
        blocks.append(paper_table())
    return "\n\n".join(blocks)


def _slug(column: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", column.lower())


def plot_meta_class_charts(records: list[dict], out_dir: str | Path) -> list[Path]:
    """One grouped bar chart per column (Avg and each meta-class): a group per run, bars Acc@π/6 and Acc@π/18
    (percent). Writes ``compare_<column>.png`` (``compare_avg.png``, ``compare_elec.png``, ...) into ``out_dir``
    and returns the paths. Runs on several datasets get their fingerprint in the label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = _unique_labels(records)
    if len({r["dataset_fingerprint"] for r in records}) > 1:
        labels = [f"{label}\n@{r['dataset_fingerprint'][:8]}" for label, r in zip(labels, records)]
    x = np.arange(len(records))
    paths = []
    for column, meta in zip(COLUMNS, (None, *META_CLASSES)):
        blocks = [r if meta is None else r["meta_classes"][meta] for r in records]
        fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(records) + 2), 4.5))
        for k, (metric, name) in enumerate((("acc_pi6", "Acc@π/6"), ("acc_pi18", "Acc@π/18"))):
            values = np.array([np.nan if b.get(metric) is None else b[metric] for b in blocks], dtype=float)
            bars = ax.bar(x + (k - 0.5) * 0.38, np.nan_to_num(values), 0.38, label=name)
            for bar, value in zip(bars, values):
                ax.annotate("n/a" if np.isnan(value) else f"{value:.1f}", (bar.get_x() + bar.get_width() / 2,
                            bar.get_height()), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x, labels, rotation=20, ha="right", fontsize=8)
        ax.set_ylim(0, 105)
        ax.set_ylabel("validation accuracy (%)")
        ax.set_title(f"Task 1 linear probe, {meta or 'all objects'} ({column})")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        fig.tight_layout()
        path = out_dir / f"compare_{_slug(column)}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def compare(results_path: str | Path, out_dir: str | Path | None = None, paper: bool = False) -> tuple[str, list[Path]]:
    """Read a results file, format the comparison and draw the charts (into ``out_dir``, default the file's
    folder). Returns ``(text, chart paths)``; errors in the file are ImageNet3DError naming its line and field."""
    records = read_results(results_path)
    charts = plot_meta_class_charts(records, Path(out_dir) if out_dir else Path(results_path).parent)
    return format_results(records, paper), charts

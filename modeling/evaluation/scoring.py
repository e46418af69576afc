"""Score any predictions file with the official metric: ``imagenet3d score``.

Files are JSON Lines in UTF-8 (a byte-order mark allowed), or UTF-16/32 with a byte-order mark
(:mod:`modeling.utils.textfile`). References: ``id``, ``category``, ``azimuth``, ``elevation``, ``theta``.
Predictions: ``id``, ``azimuth``, ``elevation``, ``theta`` (radians) and, for the joint task,
``category``. A reference without a prediction counts as error π and is reported; an unknown or
duplicate id, a malformed line, a non-numeric angle or bytes not in the file's encoding is an error
naming the file and the line.

``category`` is a name of ``dataset_card.CATEGORIES`` or its ClassLabel id (the integer index in that
tuple, as the built dataset's ``category`` column holds it: 35 is "car"), mapped to the name with a
warning; in predictions ``null`` is no class, and a string that is not a name is a wrong class, counted
in a warning. Angles of magnitude beyond 4π are warned about as probable degrees
(:mod:`modeling.evaluation.inputs`). Warnings name the file and the count, and are returned in the
result's ``"warnings"`` list (the CLI prints them to stderr).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from dataset_card import META_CLASS_ABBREVIATIONS, META_CLASSES
from modeling.evaluation.error_kinds import OBJECT_STATUSES, error_breakdown
from modeling.evaluation.inputs import category_names, degree_warnings
from modeling.evaluation.metrics import SCORING_TASKS, aware_error, pose_error, score_errors
from modeling.geometry import ANGLE_NAMES
from modeling.utils.errors import ImageNet3DError, located
from modeling.utils.jsonl import iter_json_objects


def read_jsonl(path: str | Path, required: tuple[str, ...], numeric: tuple[str, ...] = ANGLE_NAMES) -> list[dict]:
    """Records of a JSONL file, each with its 1-based line number under ``"_line"``.

    Blank lines are skipped. Every record must be an object with the ``required`` keys, a string
    or integer ``id`` unique in the file, and numbers (NaN and inf allowed) in the ``numeric`` keys.
    """
    records: list[dict] = []
    first_line: dict[str, int] = {}
    required_keys, floats = frozenset(required), {float}
    for line_number, record in iter_json_objects(path):
        if not required_keys <= record.keys():
            missing = [key for key in required if key not in record]
            raise located(path, f"missing field(s) {', '.join(map(repr, missing))}", line_number)
        if {type(record[key]) for key in numeric} != floats:  # the common case in one check; ints are numbers too
            for key in numeric:
                value = record[key]
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise located(path, f"field {key!r} must be a number in radians, got {value!r}", line_number)
        identifier = record["id"]
        if type(identifier) is not str and (isinstance(identifier, bool) or not isinstance(identifier, (str, int))):
            raise located(path, f"field 'id' must be a string or an integer, got {identifier!r}", line_number)
        key = str(identifier)
        if key in first_line:
            raise located(path, f"duplicate id {key!r} (first on line {first_line[key]})", line_number)
        first_line[key] = line_number
        record["_line"] = line_number  # the record is ours (just parsed): no copy
        records.append(record)
    return records


def score_records(predictions: list[dict], references: list[dict], task: str = "pose",
                  predictions_path: str | Path = "predictions", references_path: str | Path = "references") -> dict:
    """The scorer's JSON for in-memory records (as :func:`read_jsonl` returns or as a model writes).

    Beside the official metric's blocks, ``result["error_kinds"]`` says where the error goes: each category's
    objects by kind of miss (:func:`modeling.evaluation.error_kinds.error_breakdown`), and each ``object_status``'s
    when the references carry one (optional key; ``imagenet3d evaluate`` writes it).

    Categories may be names or ClassLabel ids (see the module docstring); ``result["warnings"]`` lists what
    looked wrong (ids mapped, categories outside the vocabulary, angles that look like degrees), each naming
    its file.
    """
    return scored_errors(predictions, references, task, predictions_path, references_path)[0]


def scored_errors(predictions: list[dict], references: list[dict], task: str = "pose",
                  predictions_path: str | Path = "predictions",
                  references_path: str | Path = "references") -> tuple[dict, np.ndarray, list[str]]:
    """:func:`score_records`'s JSON, the per-object errors it scored (shape (N,), radians, in the references'
    order: Δ, or Δ' for the joint task; π for a missing prediction) and the references' category names."""
    ref_categories, warnings = category_names(references, references_path, references=True)
    by_id = {str(p["id"]): p for p in predictions}
    reference_ids = {str(r["id"]) for r in references}
    for p in predictions:
        if str(p["id"]) not in reference_ids:
            raise located(predictions_path, f"id {p['id']!r} is not in the references", p.get("_line"))
    if task == "joint":  # the only task that reads the predicted class
        pred_categories, more = category_names(predictions, predictions_path, references=False)
        warnings += more
        predicted_class = {str(p["id"]): c for p, c in zip(predictions, pred_categories)}
    gt = np.array([[r[a] for a in ANGLE_NAMES] for r in references], dtype=np.float64).reshape(-1, 3)
    class_correct = np.zeros(len(references), dtype=bool)
    matched = [by_id.get(key) for key in (str(r["id"]) for r in references)]
    found = [i for i, p in enumerate(matched) if p is not None]
    missing = [str(references[i]["id"]) for i, p in enumerate(matched) if p is None]
    pred = np.full((len(references), 3), np.nan)
    if found:
        pred[found] = np.array([[matched[i][a] for a in ANGLE_NAMES] for i in found], dtype=np.float64)
    if task == "joint":
        for i in found:
            class_correct[i] = predicted_class[str(references[i]["id"])] == ref_categories[i]
    warnings += degree_warnings(gt, references, references_path, references=True)
    warnings += degree_warnings(pred, matched, predictions_path, references=False)
    # A missing prediction is a NaN pose, which the metric scores as error π (Δ' = 2π in the joint task: no category).
    errors = pose_error(pred, gt)
    read_class = class_correct if task == "joint" else None
    result = score_errors(errors, ref_categories, task, read_class)
    statuses, more = object_statuses(references, references_path)
    warnings += more
    result["error_kinds"] = error_breakdown(errors, pred, gt, ref_categories, read_class, statuses)
    result["missing_predictions"] = len(missing)
    if missing:
        result["missing_ids"] = missing[:20]
    result["warnings"] = warnings
    return result, aware_error(errors, class_correct) if task == "joint" else errors, ref_categories


def object_statuses(references: list[dict], references_path: str | Path = "references"
                    ) -> tuple[list[str | None] | None, list[str]]:
    """The references' optional ``object_status`` (None where a line has none; None for all when none has one) and
    a warning naming the file for values that are not ImageNet3D's. A value that is neither a string nor null is an
    error naming the file and the line."""
    if not any("object_status" in r for r in references):
        return None, []
    statuses = []
    for r in references:
        status = r.get("object_status")
        if status is not None and not isinstance(status, str):
            raise located(references_path, f"field 'object_status' must be a string or null, got {status!r}",
                          r.get("_line"))
        statuses.append(status)
    unexpected = [status for status in statuses if status is not None and status not in OBJECT_STATUSES]
    warnings = [f"{references_path}: {len(unexpected)} object_status value(s) are not ImageNet3D's "
                f"({', '.join(OBJECT_STATUSES)}), e.g. {unexpected[0]!r}: each gets its own row"] if unexpected else []
    return statuses, warnings


def score_files(predictions_path: str | Path, references_path: str | Path, task: str = "pose") -> dict:
    """Read, validate and score two JSONL files."""
    references = read_references(references_path, task)  # first: a missing references file is named first
    return score_records(read_predictions(predictions_path, task), references, task, predictions_path,
                         references_path)


def read_references(path: str | Path, task: str = "pose") -> list[dict]:
    """The validated records of a references file (``task`` checked: an unknown one is an error; so is a file
    without a single record, which leaves nothing to score)."""
    if task not in SCORING_TASKS:
        raise ImageNet3DError(f"unknown task {task!r}; expected one of {', '.join(SCORING_TASKS)}")
    references = read_jsonl(path, ("id", "category", *ANGLE_NAMES))
    if not references:
        raise ImageNet3DError(f"{path}: no references (no JSON line in the file): nothing to score")
    return references


def read_predictions(path: str | Path, task: str = "pose") -> list[dict]:
    """The validated records of a predictions file (with ``category`` for the joint task)."""
    return read_jsonl(path, ("id", *ANGLE_NAMES) + (("category",) if task == "joint" else ()))


def _cell(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _rows(label: str, block: dict) -> list[str]:
    blocks = [block["overall"], *(block["meta_classes"][name] for name in META_CLASSES)]
    rows = []
    for metric, title, digits in (("acc_pi6", "Acc@π/6", 1), ("acc_pi18", "Acc@π/18", 1),
                                  ("median_error_deg", "MedErr (°)", 1), ("count", "objects", 0)):
        rows.append(f"| {label}{title} | " + " | ".join(_cell(b[metric], digits) for b in blocks) + " |")
    return rows


def format_metrics_table(result: dict, title: str = "") -> str:
    """A Markdown table in the paper's layout: Avg then the 7 meta-classes, percentages with one decimal."""
    columns = ["Avg", *(META_CLASS_ABBREVIATIONS[name] for name in META_CLASSES)]
    header = f"| {title or 'metric'} | " + " | ".join(columns) + " |"
    lines = [header, "|" + "---|" * (len(META_CLASSES) + 2)]
    lines += _rows("", result)
    for split in ("known", "novel"):
        if split in result:
            block = {"overall": result[split], "meta_classes": result[split]["meta_classes"]}
            lines += _rows(f"{split} ", block)
    return "\n".join(lines)


COMPARISON_METRICS = {"acc_pi6": ("Acc@π/6", 1), "acc_pi18": ("Acc@π/18", 1), "median_error_deg": ("MedErr (°)", 1)}


def format_comparison(results: dict[str, dict], metric: str = "acc_pi6", title: str = "") -> str:
    """Several scorer results side by side: one row per result (and per known/novel block), Avg + meta-classes.

    ``results`` maps a row label (e.g. "LLaVA-pose", "baseline") to a :func:`score_records` result; results of
    the open_vocab task get a "known" and a "novel" row each. ``metric`` is acc_pi6, acc_pi18 or median_error_deg.
    """
    if metric not in COMPARISON_METRICS:
        raise ImageNet3DError(f"metric: expected one of {', '.join(COMPARISON_METRICS)}, got {metric!r}")
    name, digits = COMPARISON_METRICS[metric]
    columns = ["Avg", *(META_CLASS_ABBREVIATIONS[meta] for meta in META_CLASSES)]
    lines = [f"| {title or name} | " + " | ".join(columns) + " | objects |", "|" + "---|" * (len(columns) + 2)]
    for label, result in results.items():
        blocks = [(f"{label} {split}", result[split]) for split in ("known", "novel") if split in result]
        for row_label, block in blocks or [(label, {**result["overall"], "meta_classes": result["meta_classes"]})]:
            cells = [block[metric], *(block["meta_classes"][meta][metric] for meta in META_CLASSES)]
            lines.append(f"| {row_label} | " + " | ".join(_cell(v, digits) for v in cells) + f" | {block['count']} |")
    return "\n".join(lines)

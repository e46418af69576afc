"""The facts a model card is written from, kept in the model folder, and the calls that keep the card current.

A model folder's ``README.md`` (the Hub model card) is never written by hand: it is rendered
(:mod:`modeling.hub.model_card_text`) from ``model_card_data.json`` beside the weights, which holds what was
measured about this folder:

* ``model``: what ``config.json``, ``adapter_config.json`` and the safetensors headers say (model type, kind,
  parameter count, the custom code and pipelines the folder ships);
* ``base_model``: the Hub checkpoint it descends from (``init-model --base``), carried from folder to folder by
  ``train``;
* ``training``: a digest of ``training_summary.json`` (``train``) or ``training.json`` (``train-baseline``);
* ``training_data``: the build the model was trained on, as its ``build_report.json`` describes it (``source``:
  the synthetic or the official release);
* ``evaluations``: one entry per ``imagenet3d evaluate`` run (task, split, dataset), from its ``metrics.json`` and
  ``run.json``; a later run of the same task, split and dataset replaces the earlier one, others accumulate.

Three calls, one per place a folder changes: :func:`write_model_card` where ``train``, ``train-baseline`` and
``init-model --base`` save a folder (new weights: earlier evaluations are dropped), and :func:`record_evaluation`
after ``evaluate`` wrote ``metrics.json``.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path
from typing import Any

from modeling.utils.errors import ImageNet3DError, located

CARD_FILE = "README.md"
FACTS_FILE = "model_card_data.json"
"""The measured facts a model card is rendered from (see the module docstring)."""
TRAINING_SUMMARIES = {"training_summary.json": "train", "training.json": "train-baseline"}
"""The summary files the two trainers write, and the command that writes each."""
MERGED_DIR = "merged"
OFFICIAL_DATASET_ID = "ccvl/ImageNet3D"
"""The official release on the Hub (gated): the ``datasets`` entry of a model trained on a build of it."""
LLAVA_POSE = "llava_pose"
BASELINE = "imagenet3d_pose_classifier"
REPORTED_METRICS = ("acc_pi6", "acc_pi18", "median_error_deg")
"""The metrics of ``metrics.json`` that go into the card's ``model-index`` (per block: overall, known, novel)."""


def read_json(path: Path) -> Any:
    """A JSON file's value; a file that is not JSON raises ImageNet3DError naming it (a missing one: OSError)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise located(path, f"not a JSON file ({err})") from None


def _json_or_none(path: Path) -> Any:
    return read_json(path) if path.is_file() else None


def count_parameters(folder: Path) -> int | None:
    """Parameters stored in the folder's ``*.safetensors`` files (read from their headers, no tensor is loaded).

    Returns None when the folder has no safetensors file. A header that is not a safetensors header raises
    ImageNet3DError naming the file.
    """
    total, found = 0, False
    for path in sorted(folder.glob("*.safetensors")):
        found = True
        with path.open("rb") as handle:
            raw = handle.read(8)
            if len(raw) != 8:
                raise located(path, "not a safetensors file (shorter than its 8-byte header length)")
            (length,) = struct.unpack("<Q", raw)
            if length > 100 * 2**20:
                raise located(path, f"not a safetensors file (header length {length:,} bytes)")
            try:
                header = json.loads(handle.read(length))
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                raise located(path, f"not a safetensors file (header: {err})") from None
        for name, entry in header.items():
            if name != "__metadata__":
                count = 1
                for side in entry["shape"]:
                    count *= side
                total += count
    return total if found else None


def describe_model(folder: Path) -> dict[str, Any]:
    """What a model or adapter folder's files say: ``kind`` ("model" or "adapter"), ``model_type``, ``parameters``,
    ``auto_map``, ``custom_pipelines`` (tasks), ``adapter_base`` (an adapter's base_model_name_or_path)."""
    config = _json_or_none(folder / "config.json") or {}
    adapter = _json_or_none(folder / "adapter_config.json")
    if adapter is not None:
        base_dir = Path(str(adapter.get("base_model_name_or_path", "")))
        if not config and not base_dir.is_absolute():
            base_dir = folder / base_dir
        config = config or _json_or_none(base_dir / "config.json") or {}
    return {
        "kind": "adapter" if adapter is not None else "model",
        "model_type": config.get("model_type"),
        "parameters": count_parameters(folder),
        "auto_map": sorted(config.get("auto_map") or {}),
        "custom_pipelines": sorted(config.get("custom_pipelines") or {}),
        "adapter_base": adapter.get("base_model_name_or_path") if adapter is not None else None,
        "lora_rank": adapter.get("r") if adapter is not None else None,
    }


def data_source(data_dir: str | Path | None) -> dict[str, Any]:
    """The source of a built dataset, from its ``build_report.json`` (``source``): ``{"kind": "synthetic", ...}``
    or ``{"kind": "official"}``; ``{"kind": "unknown"}`` when the build or its record is not at hand."""
    if data_dir is None:
        return {"kind": "unknown"}
    report = Path(data_dir) / "build_report.json"
    try:
        value = _json_or_none(report)
    except (ImageNet3DError, OSError):
        value = None
    source = (value or {}).get("source") if isinstance(value, dict) else None
    return dict(source) if isinstance(source, dict) and "kind" in source else {"kind": "unknown"}


def _training_summary(folder: Path) -> tuple[str, dict] | None:
    """``(command, summary)`` of the run that wrote the folder: its own summary, or its parent's for ``merged``."""
    for place in (folder, folder.parent if folder.name == MERGED_DIR else None):
        if place is None:
            continue
        for name, command in TRAINING_SUMMARIES.items():
            summary = _json_or_none(place / name)
            if isinstance(summary, dict):
                return command, summary
    return None


def _digest(command: str, summary: dict) -> dict[str, Any]:
    """The card's view of a training summary (both trainers' fields under one set of names)."""
    options = dict(summary.get("options") or {})
    if command == "train":
        data = summary.get("data") or {}
        trained = summary.get("trained") or {}
        return {
            "command": command, "stage": summary.get("stage"), "start": summary.get("model"),
            "data_dir": data.get("data_dir"), "known_only": data.get("known_only"),
            "caption_ratio": data.get("caption_ratio"), "items": data.get("train_items"),
            "eval_rows": data.get("eval_rows"), "steps": summary.get("global_step"),
            "loss": summary.get("train_loss"), "seconds": summary.get("wall_time_s"),
            "processes": summary.get("processes"), "what": trained.get("what"),
            "trainable_parameters": trained.get("trainable_parameters"),
            "total_parameters": trained.get("total_parameters"), "final_eval": summary.get("eval") or {},
            "options": options,
        }
    return {
        "command": command, "stage": None, "start": summary.get("start"), "data_dir": summary.get("data"),
        "known_only": options.get("known_only"),
        "items": {"crops": summary.get("train_rows"),
                  # whole images train the category alone (`whole_image_ratio`); absent before they existed
                  "whole images (category only)": (summary.get("whole_images") or {}).get("items") or None},
        "categories": summary.get("train_categories"), "steps": summary.get("steps"),
        "loss": summary.get("train_loss"), "seconds": summary.get("train_seconds"),
        "processes": summary.get("processes"), "what": "every parameter: backbone, category head, pose head",
        "final_eval": {}, "options": options,
    }


def _start_base_model(start: str | None) -> str | None:
    """The base_model recorded in the facts of the folder a run started from (None if it has none)."""
    if not start:
        return None
    try:
        facts = _json_or_none(Path(start) / FACTS_FILE)
    except (ImageNet3DError, OSError):
        return None
    return facts.get("base_model") if isinstance(facts, dict) else None


def load_facts(folder: str | Path) -> dict[str, Any]:
    """The folder's card facts: its ``model_card_data.json`` with ``model`` re-read from the folder's files, or
    facts gathered from the files alone (a folder no command of ours has carded yet)."""
    folder = Path(folder)
    facts = _json_or_none(folder / FACTS_FILE)
    if not isinstance(facts, dict):
        facts = {"base_model": None, "training": None, "training_data": None, "evaluations": []}
        found = _training_summary(folder)
        if found is not None:
            facts["training"] = _digest(*found)
            facts["training_data"] = data_source(facts["training"]["data_dir"])
    facts["model"] = describe_model(folder)
    return facts


def _write(folder: Path, facts: dict) -> Path:
    """Write the facts and the card rendered from them (its snippets load the folder by its absolute path)."""
    from modeling.hub.model_card_text import render_model_card

    text = render_model_card(facts, model_id=str(folder.resolve()))  # checked before anything is written
    (folder / FACTS_FILE).write_text(json.dumps(facts, indent=1, default=str) + "\n", encoding="utf-8")
    card = folder / CARD_FILE
    card.write_text(text, encoding="utf-8")
    return card


def write_model_card(folder: str | Path, *, base_model: str | None = None) -> list[Path]:
    """Write the card of a folder that was just saved with new weights (by ``train``, ``train-baseline`` or
    ``init-model --base``), and of its ``merged/`` folder when ``train --merge`` wrote one; returns the cards.

    The facts start afresh (earlier evaluations belong to earlier weights): the training summary in the folder,
    the source of the training data (its ``build_report.json``), and ``base_model`` (given, or carried over from
    the facts of the folder training started from). Raises ImageNet3DError for a summary that is not JSON.
    """
    folder = Path(folder)
    cards = []
    for target in (folder, folder / MERGED_DIR):
        if target is not folder and not (target / "config.json").is_file():
            continue
        found = _training_summary(target)
        training = _digest(*found) if found is not None else None
        facts = {
            "base_model": base_model or _start_base_model(training["start"] if training else None),
            "training": training,
            "training_data": data_source(training["data_dir"]) if training else None,
            "evaluations": [],
            "model": describe_model(target),
        }
        cards.append(_write(target, facts))
    return cards


def evaluation_entry(eval_dir: str | Path) -> dict[str, Any]:
    """One evaluation as the card keeps it, from ``metrics.json`` and ``run.json`` in ``eval_dir`` (what
    ``imagenet3d evaluate --out`` writes): task, split, objects, dataset source and the metrics blocks."""
    eval_dir = Path(eval_dir)
    metrics, run = read_json(eval_dir / "metrics.json"), read_json(eval_dir / "run.json")
    blocks = {"overall": metrics["overall"]}
    for name in ("known", "novel"):
        if name in metrics:
            blocks[name] = {k: v for k, v in metrics[name].items() if k != "meta_classes"}
    return {
        "task": run["task"], "split": run["split"], "objects": run["objects"], "data_dir": run["data"],
        "source": data_source(run["data"]), "blocks": blocks,
        "meta_classes": {name: block for name, block in metrics["meta_classes"].items() if block["count"]},
        "no_pose": run.get("no_pose"), "no_category": run.get("no_category"),
    }


def _evaluation_key(entry: dict) -> tuple:
    return entry["task"], entry["split"], entry["source"].get("kind"), str(entry["data_dir"])


def record_evaluation(model_dir: str | Path, eval_dir: str | Path) -> Path | None:
    """Add the evaluation in ``eval_dir`` to the model folder's card facts and rewrite its card (``evaluate``'s
    hook, after ``metrics.json`` is written); returns the card.

    An earlier evaluation with the same task, split and dataset is replaced; others stay. A model folder that
    cannot be written (read-only, a Hub cache) gets a warning on stderr instead, and None is returned: the
    evaluation's own files are written already.
    """
    model_dir = Path(model_dir)
    entry = evaluation_entry(eval_dir)
    try:
        facts = load_facts(model_dir)
        kept = [e for e in facts.get("evaluations", []) if _evaluation_key(e) != _evaluation_key(entry)]
        facts["evaluations"] = [*kept, entry]
        return _write(model_dir, facts)
    except OSError as err:
        print(f"warning: {model_dir}: model card not updated ({err.strerror or err})", file=sys.stderr)
        return None


__all__ = ["BASELINE", "CARD_FILE", "FACTS_FILE", "LLAVA_POSE", "OFFICIAL_DATASET_ID", "REPORTED_METRICS",
           "count_parameters", "data_source", "describe_model", "evaluation_entry", "load_facts", "read_json",
           "record_evaluation", "write_model_card"]

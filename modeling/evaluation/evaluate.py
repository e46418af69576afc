"""``imagenet3d evaluate``: run a model on a built dataset and score it with the official metric.

The model folder's ``config.json`` says what it is: ``llava_pose`` (LLaVA-pose; batched
``generate(return_poses=True)`` with the joint prompt for the object's box in its object-centric crop) or
``imagenet3d_pose_classifier`` (the classification baseline; argmax class and bin centres). Which objects:

* ``pose`` and ``joint``: the ``pose`` config's ``validation`` split (``--split`` picks another, or
  ``validation_known`` / ``validation_novel`` of the ``open_vocab`` config);
* ``open_vocab``: ``validation_known`` then ``validation_novel`` of the ``open_vocab`` config (scored with
  ``known`` and ``novel`` blocks, each per meta-class, every error keeping its own category).

Files written to OUT: ``predictions.jsonl`` (the scorer's format, angles in radians, plus confidences),
``references.jsonl`` (with each object's ``object_status``, which the error breakdown reads), ``metrics.json``
(exactly ``scoring.score_records``'s JSON, so that ``imagenet3d score --predictions OUT/predictions.jsonl
--references OUT/references.jsonl --task T`` recomputes it), ``table.md`` (the paper's layout, then where the error
goes: each category's and object status's misses by kind, :mod:`modeling.evaluation.error_kinds`), ``run.json``
(model, data, counts of unparsable answers, timing) and the plots of ``modeling/evaluation/plots.py``
(``examples.png``: the best, median and worst objects with both poses drawn). A LLaVA-pose answer without a
``<pose6D>`` gets NaN angles (error π) and one without a readable category gets ``category: null`` (a wrong class
in the joint task); both are counted.

Several processes (``accelerate launch --num_processes N -m modeling.cli evaluate ...``): the batches are split
into N contiguous runs, one per process (each on its own device), the predictions are gathered in order, and the
main process alone writes the files. Every batch holds the same objects as in a one-process run, so the
predictions and metrics are those of one process.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dataset_card import KNOWN_CATEGORIES
from modeling.data.crop import prompt_box
from modeling.evaluation.error_kinds import error_kinds_section
from modeling.evaluation.metrics import SCORING_TASKS, pose_error
from modeling.evaluation.scoring import format_metrics_table, score_records
from modeling.geometry import ANGLE_NAMES
from modeling.hub.model_card import record_evaluation
from modeling.utils import model_folder
from modeling.utils.errors import ImageNet3DError
from modeling.utils.jsonl import write_jsonl
from modeling.utils.model_folder import check_output_folder

LLAVA_POSE = "llava_pose"
BASELINE = "imagenet3d_pose_classifier"
DEFAULT_BATCH_SIZE = 32
JOINT_ANSWER_MAX_NEW_TOKENS = 32
"""LLaVA-pose's generation limit here, where every answer is a joint answer ("It is a hand barrow HAND_BARROW1 with
<pose6D>."): 11-20 tokens of the tiny tokenizer. (`predict`'s limit, CAPTION_MAX_NEW_TOKENS, is sized for captions.)"""
OUTPUT_FILES = ("predictions.jsonl", "references.jsonl", "metrics.json", "table.md", "run.json")


def evaluable_model_type(model_dir: str | Path) -> str:
    """The `model_type` of a model folder: a LLaVA-pose or a baseline; anything else raises ImageNet3DError.

    A LoRA adapter folder of `imagenet3d train --stage 2` (an `adapter_config.json` and no `config.json`; with or
    without its `merged/`) is a LLaVA-pose: the baseline trains no adapters, and LLaVA-pose's loader takes the adapter
    (:func:`modeling.llava_pose.inference.load_model`, which names a missing base)."""
    folder = Path(model_dir)
    if not (folder / "config.json").is_file() and (folder / "adapter_config.json").is_file():
        return LLAVA_POSE
    return model_folder.model_type_of(model_dir, (LLAVA_POSE, BASELINE), "a LLaVA-pose or baseline model",
                                      "evaluate takes a LLaVA-pose or a classification-baseline folder")


OPEN_VOCAB_SPLITS = {"validation_known": "known", "validation_novel": "novel"}
"""The `open_vocab` config's validation splits -> the category group of `pose`/validation they hold."""


def evaluation_rows(data_dir: str | Path, task: str, split: str | None = None, max_objects: int | None = None):
    """The `pose` config rows to evaluate (crop, bbox in the crop, category, angles), as a `datasets.Dataset`.

    pose/joint: the `pose` config's `split` (default: validation); `split="validation_known"` or
    `"validation_novel"` takes the objects of that `open_vocab` split instead (e.g. Task 3 on the known categories
    only). open_vocab: the objects of `validation_known` then `validation_novel`. Objects of `open_vocab` splits
    are read from the `pose` validation split, which also has their boxes (`data.loading.load_pose_split`).
    `max_objects` keeps that many, evenly spaced over the list (so that every category stays represented).
    """
    from datasets import concatenate_datasets

    from modeling.data.loading import load_pose_split

    if task not in SCORING_TASKS:
        raise ImageNet3DError(f"task: expected one of {', '.join(SCORING_TASKS)}, got {task!r}")
    if task == "open_vocab" and split is not None:
        raise ImageNet3DError("--split: open_vocab always evaluates validation_known and validation_novel")
    if task == "open_vocab":
        rows = concatenate_datasets([load_pose_split(data_dir, "validation", group)
                                     for group in OPEN_VOCAB_SPLITS.values()])
    elif split in OPEN_VOCAB_SPLITS:
        rows = load_pose_split(data_dir, "validation", OPEN_VOCAB_SPLITS[split])
    else:
        rows = load_pose_split(data_dir, split or "validation")
    if max_objects is not None:
        if max_objects < 1:
            raise ImageNet3DError(f"--max-objects must be positive, got {max_objects}")
        if max_objects < len(rows):
            rows = rows.select(np.linspace(0, len(rows) - 1, max_objects).round().astype(int).tolist())
    return rows.select_columns(["object_id", "image", "category", "bbox", *ANGLE_NAMES, "object_status"])


class LlavaPosePredictor:
    """Batched joint-task answers of a LLaVA-pose folder: box prompt -> category + pose of the first `<pose6D>`."""

    def __init__(self, model_dir: Path, device: str, max_new_tokens: int = JOINT_ANSWER_MAX_NEW_TOKENS,
                 test_time_flip: bool = False) -> None:
        from modeling.llava_pose.inference import load_model

        self.model, self.processor = load_model(model_dir)
        self.model.to(device)
        self.max_new_tokens = max_new_tokens
        self.test_time_flip = test_time_flip

    def __call__(self, images: list, boxes: list) -> list[dict[str, Any]]:
        from modeling.llava_pose.inference import predict

        prompts = [self.processor.joint_prompt(prompt_box(box, image.width, image.height), (image.height, image.width))
                   for image, box in zip(images, boxes)]
        results = predict(self.model, self.processor, images, task="joint", prompts=prompts,
                          max_new_tokens=self.max_new_tokens, test_time_flip=self.test_time_flip)
        out = []
        for result in results:
            objects = result["objects"]
            if not objects:  # no <pose6D>: no pose to score (error π) and no class
                out.append({"category": None, **{name: math.nan for name in ANGLE_NAMES}, "text": result["text"]})
                continue
            first = objects[0]
            out.append({"category": first["category"], **{name: first[name] for name in ANGLE_NAMES},
                        "confidence": first["confidence"], "text": result["text"]})
        return out


class BaselinePredictor:
    """Batched predictions of a baseline folder: argmax category and bin centres."""

    def __init__(self, model_dir: Path, device: str, test_time_flip: bool = False) -> None:
        from modeling.baseline.model import load_baseline

        self.model, self.processor = load_baseline(model_dir)
        self.model.to(device)
        self.test_time_flip = test_time_flip

    def __call__(self, images: list, boxes: list) -> list[dict[str, Any]]:
        from modeling.baseline.model import decode, pixel_values, predict_output

        output = predict_output(self.model, pixel_values(self.processor, images).to(self.model.device),
                                self.test_time_flip)
        names = [self.model.config.id2label[i] for i in range(self.model.config.num_categories)]
        return decode(output, names)


def _batches(rows, batch_size: int) -> Iterator[dict]:
    yield from rows.iter(batch_size=batch_size)


def _process_state(device: str | None) -> Any:
    """accelerate's view of this process: one process, or one of an ``accelerate launch`` (CPU processes join with
    gloo when there is no CUDA or the device asked for is the CPU)."""
    import torch
    from accelerate import PartialState

    return PartialState(cpu=device == "cpu" or not torch.cuda.is_available())


def _shard(rows, batch_size: int, state: Any):
    """The rows this process evaluates: whole batches of ``batch_size``, split into contiguous runs by accelerate's
    ``split_between_processes`` (the first processes take one batch more when the count does not divide; a process
    left without a batch gets no row), so that every batch holds the objects of a one-process run."""
    with state.split_between_processes(list(range(0, len(rows), batch_size))) as starts:
        if not starts:
            return rows.select([])
        return rows.select(range(starts[0], min(starts[-1] + batch_size, len(rows))))


def evaluate(model_dir: str | Path, data_dir: str | Path, task: str = "joint", out_dir: str | Path | None = None,
             split: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE, max_objects: int | None = None,
             max_new_tokens: int | None = None, device: str | None = None, progress: bool = True,
             test_time_flip: bool = False) -> dict:
    """Evaluate a model folder on a built dataset; returns the scorer's JSON (also written to OUT/metrics.json).

    Args:
        model_dir: a LLaVA-pose or baseline folder (its config.json's model_type decides).
        data_dir: a dataset folder written by `imagenet3d build` (`pose` config).
        task: "joint" (3D-aware Δ'), "pose" (Δ), "open_vocab" (Δ, known and novel blocks) or "describe" (a caption
            per validation image, its objects matched and scored: :mod:`modeling.evaluation.describe`, which takes
            `split` validation / validation_known / validation_novel and `max_objects` as a number of images).
        out_dir: folder for the files listed in the module docstring (created); `None` writes nothing.
        split: for pose/joint, a `pose` split (default: validation) or an `open_vocab` validation split
            (validation_known, validation_novel); not allowed with open_vocab.
        batch_size: images per forward pass / generate call.
        max_objects: evaluate this many objects, evenly spaced over the list (default: all).
        max_new_tokens: generation limit of LLaVA-pose (default: JOINT_ANSWER_MAX_NEW_TOKENS, or
            describe.DESCRIBE_MAX_NEW_TOKENS for the describe task).
        device: torch device (default: cuda when available, else cpu; under ``accelerate launch``, each process's
            own device).
        progress: show a progress bar (the main process's).
        test_time_flip: pose (and the baseline's category) from each crop and its mirror image, averaged
            (`modeling.llava_pose.inference.predict`); recorded in run.json. Not for the describe task.
    """
    import torch
    from tqdm.auto import tqdm

    if task == "describe":  # the caption task has its own module
        if test_time_flip:
            raise ImageNet3DError("test_time_flip (--test-time-flip): for the pose, joint and open_vocab tasks' "
                                  "crops; the describe task captions whole images, whose objects move with the mirror")
        from modeling.evaluation.describe import DESCRIBE_MAX_NEW_TOKENS, evaluate_describe

        return evaluate_describe(model_dir, data_dir, out_dir, split, batch_size, max_objects,
                                 max_new_tokens or DESCRIBE_MAX_NEW_TOKENS, device, progress)
    if not isinstance(test_time_flip, bool):
        raise ImageNet3DError(f"test_time_flip: expected True or False, got {test_time_flip!r}")
    model_dir = Path(model_dir)
    model_type = evaluable_model_type(model_dir)
    if batch_size < 1:
        raise ImageNet3DError(f"--batch-size must be positive, got {batch_size}")
    if out_dir is not None:
        check_output_folder(out_dir, keeps="metrics.json")
    rows = evaluation_rows(data_dir, task, split, max_objects)
    state = _process_state(device)
    if device is None:
        device = str(state.device) if state.num_processes > 1 else ("cuda" if torch.cuda.is_available() else "cpu")
    start = time.perf_counter()
    max_new_tokens = max_new_tokens or JOINT_ANSWER_MAX_NEW_TOKENS
    predictor = (LlavaPosePredictor(model_dir, device, max_new_tokens, test_time_flip) if model_type == LLAVA_POSE
                 else BaselinePredictor(model_dir, device, test_time_flip))
    names = rows.features["category"].names
    predictions: list[dict] = []
    references: list[dict] = []
    shard = _shard(rows, batch_size, state)
    with tqdm(total=len(rows), desc=f"evaluate {task}", unit="obj",
              disable=not progress or not state.is_main_process) as bar:
        for batch in _batches(shard, batch_size):
            outputs = predictor(batch["image"], batch["bbox"])
            for i, output in enumerate(outputs):
                predictions.append({"id": batch["object_id"][i], **output})
                references.append({"id": batch["object_id"][i], "category": names[batch["category"][i]],
                                   **{name: batch[name][i] for name in ANGLE_NAMES},
                                   "object_status": batch["object_status"][i]})
            bar.update(len(outputs) * state.num_processes)  # the others are as far, near enough
    if state.num_processes > 1:
        from accelerate.utils import gather_object

        predictions, references = gather_object(predictions), gather_object(references)  # in process order
    seconds = time.perf_counter() - start
    metrics = score_records(predictions, references, task)
    run_info = {
        "model": str(model_dir), "model_type": model_type, "data": str(data_dir), "task": task,
        "split": "validation_known+validation_novel" if task == "open_vocab" else (split or "validation"),
        "objects": len(references),
        "no_pose": sum(not math.isfinite(p["azimuth"]) for p in predictions),
        "no_category": sum(p["category"] is None for p in predictions),
        "seconds": round(seconds, 2), "objects_per_second": round(len(references) / max(seconds, 1e-9), 2),
        "device": device, "batch_size": batch_size, "processes": state.num_processes,
        "test_time_flip": test_time_flip,
    }
    if out_dir is not None and state.is_main_process:
        write_outputs(Path(out_dir), metrics, run_info, predictions, references, task)
        record_evaluation(model_dir, out_dir)  # the model folder's card gets this run's numbers (model-index)
    state.wait_for_everyone()  # every process returns once the files are written
    return metrics


def model_title(model: str | Path) -> str:
    """The model's name in the titles of the plots and the table: its folder's name, with the parent's for a folder
    that names no model (``train --merge``'s ``merged/``, a ``checkpoint-N``): ``llava_pose/merged``."""
    path = Path(model)
    generic = path.name == model_folder.MERGED_DIR or path.name.startswith("checkpoint-")
    return f"{path.parent.name}/{path.name}" if generic and path.parent.name else path.name


def write_outputs(out_dir: Path, metrics: dict, run_info: dict, predictions: list[dict], references: list[dict],
                  task: str) -> None:
    """predictions.jsonl, references.jsonl, metrics.json, table.md, run.json and the plots."""
    from modeling.evaluation.plots import write_examples, write_plots

    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(out_dir / "predictions.jsonl", predictions)
    write_jsonl(out_dir / "references.jsonl", references)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    (out_dir / "run.json").write_text(json.dumps(run_info, indent=2) + "\n", encoding="utf-8")
    title = f"{model_title(run_info['model'])} · {task}"
    notes = [f"model `{run_info['model']}` ({run_info['model_type']}), data `{run_info['data']}`, "
             f"split {run_info['split']}, {run_info['objects']} objects"]
    if run_info.get("test_time_flip"):
        notes.append("test-time mirroring: each crop's prediction averaged with its mirror image's (the paper's "
                     "numbers are single-crop)")
    if run_info["model_type"] == LLAVA_POSE:
        notes.append(f"answers without a <pose6D> (error π): {run_info['no_pose']}; "
                     f"without a readable category: {run_info['no_category']}")
    table = format_metrics_table(metrics, title=f"{task} (n={metrics['overall']['count']})")
    (out_dir / "table.md").write_text(f"## {title}\n\n{table}\n\n" + "\n".join(f"- {n}" for n in notes) + "\n\n"
                                      + error_kinds_section(metrics["error_kinds"]), encoding="utf-8")
    pred = np.array([[p[name] for name in ANGLE_NAMES] for p in predictions], dtype=np.float64).reshape(-1, 3)
    gt = np.array([[r[name] for name in ANGLE_NAMES] for r in references], dtype=np.float64).reshape(-1, 3)
    class_correct = np.array([p["category"] == r["category"] for p, r in zip(predictions, references)], dtype=bool)
    known = np.array([r["category"] in KNOWN_CATEGORIES for r in references], dtype=bool)
    errors = pose_error(pred, gt)
    write_plots(out_dir, metrics, task, errors, pred, gt, class_correct, known, title)
    write_examples(out_dir, run_info["data"], run_info["split"], predictions, references, errors, title)


__all__ = ["BASELINE", "LLAVA_POSE", "OUTPUT_FILES", "evaluable_model_type", "evaluate", "evaluation_rows",
           "model_title"]

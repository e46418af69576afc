"""``imagenet3d evaluate --task describe``: a caption per validation image, its tags parsed and matched to the
annotated objects, scored.

The images are the ``image`` config's validation split (full images, every object), or the images of the known
(``validation_known``) or novel (``validation_novel``) categories. For each, LLaVA-pose answers the describe prompt
("Describe the image in detail with 6D poses.") by greedy decoding, and every generated ``<pose6D>`` is one
predicted object, with the pose the head decoded there.

**Tags.** A ``<pose6D>`` is *well-formed* when the text right before it is "<TAG> with", TAG being an UPPERCASE
category name of the 189 (underscores kept, ``HAND_BARROW``) and a 1-based instance index (``HAND_BARROW2``), not
used by an earlier ``<pose6D>`` of the same caption. Anything else is *malformed*: a ``<pose6D>`` without such a tag
("no tag"), a tag naming no category ("unknown category"), a tag used twice ("duplicate"), and an uppercase word
(two letters or more: the captions write nothing else in capitals) that is not followed by "with <pose6D>"
("dangling", e.g. "BENCH." or "BED1 bed"). ``tags.well_formed_fraction`` = well-formed / (all ``<pose6D>`` +
dangling); ``tags.malformed`` counts the rest, by kind.

**Matching** (by category and tag order). The annotated objects of an image are those that pass the official
filter, tagged as the captions config tags them (:func:`modeling.data.captions.assign_tags`: the k-th of a category
counted from the left). Per category, the well-formed predicted objects in the order of their instance index are
paired with the annotated objects in the order of theirs: the first with the first, and so on; the surplus on
either side stays unmatched. A malformed ``<pose6D>`` matches nothing. So a caption that names the right objects
but numbers them 2, 3 instead of 1, 2 still matches both, and the pose of a pair is compared with that of the
object at the same rank from the left.

**Scores.** Object precision = matched / predicted objects, recall = matched / annotated objects (over the whole
split). Pose: the official metric (``scoring.score_records``, task ``joint``) on the matched pairs
(``pose_matched``: their categories agree by construction, so the 3D-aware Δ' is Δ) and on every annotated object
(``pose_all_objects``: an unmatched one counts as a missing answer does in Task 3: Δ = π with no category, so
Δ' = 2π).

Files written to OUT, as for the other tasks: ``predictions.jsonl`` (one line per image: the caption and its
objects, each with its tag, category, well-formedness, angles in radians and the ``object_id`` it matched),
``references.jsonl`` (one line per image: its tagged objects), ``metrics.json``, ``table.md`` and ``run.json``.
"""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from dataset_card import CATEGORIES
from modeling.data.captions import POSE_TOKEN, CaptionObject, assign_tags
from modeling.evaluation.scoring import format_metrics_table, score_records
from modeling.geometry import ANGLE_NAMES
from modeling.utils.errors import ImageNet3DError
from modeling.utils.jsonl import write_jsonl

DESCRIBE_TASK = "describe"
DESCRIBE_MAX_NEW_TOKENS = 160
"""Generation limit of a caption: the template captions of 1-3 objects take 30-110 tokens of the tiny tokenizer."""
DESCRIBE_SPLITS = {"validation": "all", "validation_known": "known", "validation_novel": "novel"}
"""``--split`` of the describe task -> the images kept (by the image's category)."""
_POSE_RE = re.compile(re.escape(POSE_TOKEN), re.IGNORECASE)
_TAG_BEFORE_POSE = re.compile(r"(?<![A-Za-z0-9_])([A-Z](?:[A-Z_]*[A-Z])?)([0-9]+)\s+with\s*$")
_UPPERCASE_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Z][A-Z_]*[A-Z][0-9]*(?![A-Za-z0-9_])")


def parse_caption_tags(text: str, categories: tuple[str, ...] | list[str] = CATEGORIES) -> tuple[list[dict], int]:
    """The tag of every ``<pose6D>`` of a caption, in order, and the number of dangling tags.

    Returns ``(tags, dangling)``: ``tags[i]`` = ``{"tag", "category", "instance", "well_formed", "problem"}`` for the
    i-th ``<pose6D>`` (``tag``/``category``/``instance`` None when unreadable; ``problem`` one of None, "no tag",
    "unknown category", "bad index", "duplicate"); ``dangling`` counts uppercase words not followed by "with
    <pose6D>" (module docstring). ``categories`` are the names a tag may spell (lowercase, underscores).
    """
    known = set(categories)
    segments = _POSE_RE.split(text)
    tags: list[dict] = []
    seen: set[str] = set()
    dangling = 0
    for number, segment in enumerate(segments):
        match = _TAG_BEFORE_POSE.search(segment) if number < len(segments) - 1 else None
        words = _UPPERCASE_WORD.findall(segment[:match.start()] if match else segment)
        dangling += len(words)
        if number == len(segments) - 1:
            break
        if match is None:
            tags.append({"tag": None, "category": None, "instance": None, "well_formed": False, "problem": "no tag"})
            continue
        name, index = match.group(1), match.group(2)
        tag, category, instance = f"{name}{index}", name.lower(), int(index)
        problem = ("unknown category" if category not in known else "bad index" if instance < 1 or index[0] == "0"
                   else "duplicate" if tag in seen else None)
        seen.add(tag)
        tags.append({"tag": tag, "category": category if category in known else None,
                     "instance": instance if problem != "bad index" else None, "well_formed": problem is None,
                     "problem": problem})
    return tags, dangling


def reference_objects(row: dict) -> list[dict]:
    """The annotated objects of an ``image`` config row that pass the official filter, tagged as the captions tag
    them (left to right per category), in tag order: ``{"object_id", "tag", "category", "instance", azimuth,
    elevation, theta (radians)}``."""
    kept = [o for o in row["objects"] if o.get("passes_filter")]
    caption_objects = [CaptionObject(int(o["index"]), str(o["class"]), float(o["azimuth"]), float(o["elevation"]),
                                     float(o["theta"]), float(o["distance"]), float(o["px"]), float(o["py"]),
                                     o.get("object_status")) for o in kept]
    by_index = {int(o["index"]): o for o in kept}
    out = []
    for tag, obj in assign_tags(caption_objects).items():
        source = by_index[obj.index]
        out.append({"object_id": str(source["object_id"]), "tag": tag, "category": obj.category,
                    "instance": int(tag[len(obj.category):]),
                    **{name: float(source[name]) for name in ANGLE_NAMES}})
    return out


def match_objects(predicted: list[dict], references: list[dict]) -> list[tuple[int, int]]:
    """Pairs (predicted index, reference index) by category and tag order (module docstring).

    ``predicted``: dicts with ``category``, ``instance`` and ``well_formed`` (as :func:`parse_caption_tags` gives);
    ``references``: dicts with ``category`` and ``instance`` (:func:`reference_objects`). Only well-formed
    predictions match; within a category both sides are sorted by instance (then position) and paired in order.
    """
    pairs = []
    for category in sorted({r["category"] for r in references}):
        refs = sorted((r["instance"], j) for j, r in enumerate(references) if r["category"] == category)
        preds = sorted((p["instance"], i) for i, p in enumerate(predicted)
                       if p.get("well_formed") and p.get("category") == category)
        pairs += [(i, j) for (_, i), (_, j) in zip(preds, refs)]
    return sorted(pairs)


def score_describe(predictions: list[dict], references: list[dict]) -> dict:
    """The describe metrics of per-image records: ``predictions[i]`` = ``{"id", "text", "objects": [...]}`` whose
    objects carry the fields of :func:`parse_caption_tags` and the angles (radians), ``references[i]`` =
    ``{"id", "objects": [...]}`` from :func:`reference_objects`, the same images in the same order.

    Returns ``{"task", "images", "objects": {predicted, annotated, matched, precision, recall}, "tags":
    {pose_tokens, dangling, well_formed, malformed, well_formed_fraction, problems}, "pose_matched",
    "pose_all_objects"}`` (precision, recall, fraction in [0, 1]; the pose blocks are ``score_records`` JSON).
    Raises ImageNet3DError when the two lists are not the same images.
    """
    if [p["id"] for p in predictions] != [r["id"] for r in references]:
        raise ImageNet3DError("describe: predictions and references are not the same images in the same order")
    matched_predictions, all_references = [], []
    counts = {"predicted": 0, "annotated": 0, "matched": 0}
    problems: dict[str, int] = {}
    dangling = well_formed = 0
    for prediction, reference in zip(predictions, references):
        objects, refs = prediction["objects"], reference["objects"]
        pairs = match_objects(objects, refs)
        counts["predicted"] += len(objects)
        counts["annotated"] += len(refs)
        counts["matched"] += len(pairs)
        dangling += int(prediction.get("dangling", 0))
        for obj in objects:
            well_formed += bool(obj["well_formed"])
            if obj["problem"]:
                problems[obj["problem"]] = problems.get(obj["problem"], 0) + 1
        for i, j in pairs:
            matched_predictions.append({"id": refs[j]["object_id"], "category": objects[i]["category"],
                                        **{name: objects[i][name] for name in ANGLE_NAMES}})
        all_references += [{"id": r["object_id"], "category": r["category"],
                            **{name: r[name] for name in ANGLE_NAMES}} for r in refs]
    if dangling:
        problems["dangling"] = dangling
    tags_total = counts["predicted"] + dangling
    matched_ids = {p["id"] for p in matched_predictions}
    matched_references = [r for r in all_references if r["id"] in matched_ids]
    return {
        "task": DESCRIBE_TASK, "images": len(references),
        "objects": {**counts, "precision": counts["matched"] / counts["predicted"] if counts["predicted"] else 0.0,
                    "recall": counts["matched"] / counts["annotated"] if counts["annotated"] else 0.0},
        "tags": {"pose_tokens": counts["predicted"], "dangling": dangling, "well_formed": well_formed,
                 "malformed": tags_total - well_formed,
                 "well_formed_fraction": well_formed / tags_total if tags_total else 1.0, "problems": problems},
        "pose_matched": score_records(matched_predictions, matched_references, "joint") if matched_references
        else None,
        "pose_all_objects": score_records(matched_predictions, all_references, "joint") if all_references else None,
    }


def format_describe_table(metrics: dict, title: str = "describe") -> str:
    """The describe metrics as Markdown: objects and tags, then the pose tables (paper's layout)."""
    objects, tags = metrics["objects"], metrics["tags"]
    problems = ", ".join(f"{k} {v}" for k, v in sorted(tags["problems"].items())) or "none"
    lines = [f"## {title}", "", "| images | annotated | predicted | matched | precision % | recall % | "
             "tags well-formed % | malformed tags |", "|---|---|---|---|---|---|---|---|",
             f"| {metrics['images']} | {objects['annotated']} | {objects['predicted']} | {objects['matched']} | "
             f"{100 * objects['precision']:.1f} | {100 * objects['recall']:.1f} | "
             f"{100 * tags['well_formed_fraction']:.1f} | {tags['malformed']} ({problems}) |"]
    for key, label in (("pose_matched", "pose of the matched objects"),
                       ("pose_all_objects", "pose of every annotated object (unmatched: Δ' = 2π)")):
        if metrics.get(key):
            lines += ["", format_metrics_table(metrics[key], title=f"{label} (n={metrics[key]['overall']['count']})")]
    return "\n".join(lines)


def describe_rows(data_dir: str | Path, split: str | None = None, max_images: int | None = None):
    """The ``image`` config's validation images of a group of ``DESCRIBE_SPLITS`` (default ``validation``: all),
    ``max_images`` of them evenly spaced (default: all); a ``datasets.Dataset``."""
    from modeling.data.loading import load_split, select_category_group

    split = split or "validation"
    if split not in DESCRIBE_SPLITS:
        raise ImageNet3DError(f"--split: the describe task takes one of {', '.join(DESCRIBE_SPLITS)}, got {split!r}")
    rows = load_split(data_dir, "image", "validation")
    group = DESCRIBE_SPLITS[split]
    if group != "all":
        rows = select_category_group(rows, group)
        if not len(rows):
            raise ImageNet3DError(f"{data_dir}: image/validation has no image of the {group} categories")
    if max_images is not None:
        if max_images < 1:
            raise ImageNet3DError(f"--max-objects must be positive, got {max_images}")
        if max_images < len(rows):
            rows = rows.select(np.linspace(0, len(rows) - 1, max_images).round().astype(int).tolist())
    return rows.select_columns(["image_id", "image", "objects"])


def describe_images(model: Any, processor: Any, images: list, max_new_tokens: int = DESCRIBE_MAX_NEW_TOKENS
                    ) -> list[dict]:
    """Captions of a batch of PIL images and their objects: per image ``{"text", "dangling", "objects"}``, each
    object the fields of :func:`parse_caption_tags` plus the decoded pose (angles in radians, distance, px, py)."""
    from modeling.llava_pose.inference import predict

    out = []
    for result in predict(model, processor, images, task="describe", max_new_tokens=max_new_tokens):
        tags, dangling = parse_caption_tags(result["text"])
        if len(tags) != len(result["objects"]):
            raise ValueError(f"{len(tags)} {POSE_TOKEN} in the text but {len(result['objects'])} poses")
        objects = [{**tag, **{k: obj[k] for k in (*ANGLE_NAMES, "distance", "px", "py")}}
                   for tag, obj in zip(tags, result["objects"])]
        out.append({"text": result["text"], "dangling": dangling, "objects": objects})
    return out


def evaluate_describe(model_dir: str | Path, data_dir: str | Path, out_dir: str | Path | None = None,
                      split: str | None = None, batch_size: int = 32, max_images: int | None = None,
                      max_new_tokens: int = DESCRIBE_MAX_NEW_TOKENS, device: str | None = None,
                      progress: bool = True) -> dict:
    """Caption the validation images with a LLaVA-pose folder and score them; returns :func:`score_describe`'s
    dict (also OUT/metrics.json). ``split``: a key of ``DESCRIBE_SPLITS``; ``max_images``: that many images,
    evenly spaced. Under ``accelerate launch`` the batches are shared between the processes as for the other tasks.
    Raises ImageNet3DError for a folder that is not a LLaVA-pose or a dataset without the ``image`` config.
    """
    import torch
    from tqdm.auto import tqdm

    from modeling.evaluation.evaluate import LLAVA_POSE, _process_state, _shard, evaluable_model_type
    from modeling.llava_pose.inference import load_model
    from modeling.utils.model_folder import check_output_folder

    model_dir = Path(model_dir)
    if evaluable_model_type(model_dir) != LLAVA_POSE:
        raise ImageNet3DError(f"{model_dir}: the describe task needs a LLaVA-pose (a baseline writes no caption)")
    if batch_size < 1:
        raise ImageNet3DError(f"--batch-size must be positive, got {batch_size}")
    if out_dir is not None:
        check_output_folder(out_dir, keeps="metrics.json")
    rows = describe_rows(data_dir, split, max_images)
    state = _process_state(device)
    if device is None:
        device = str(state.device) if state.num_processes > 1 else ("cuda" if torch.cuda.is_available() else "cpu")
    start = time.perf_counter()
    model, processor = load_model(model_dir)
    model.to(device)
    predictions, references = [], []
    with tqdm(total=len(rows), desc="evaluate describe", unit="img",
              disable=not progress or not state.is_main_process) as bar:
        for batch in _shard(rows, batch_size, state).iter(batch_size=batch_size):
            images = [image.convert("RGB") for image in batch["image"]]
            for i, described in enumerate(describe_images(model, processor, images, max_new_tokens)):
                row = {"objects": batch["objects"][i]}
                predictions.append({"id": batch["image_id"][i], **described})
                references.append({"id": batch["image_id"][i], "objects": reference_objects(row)})
            bar.update(len(images) * state.num_processes)
    if state.num_processes > 1:
        from accelerate.utils import gather_object

        predictions, references = gather_object(predictions), gather_object(references)
    seconds = time.perf_counter() - start
    metrics = score_describe(predictions, references)
    for prediction, reference in zip(predictions, references):  # which object each prediction matched
        for i, j in match_objects(prediction["objects"], reference["objects"]):
            prediction["objects"][i]["object_id"] = reference["objects"][j]["object_id"]
    run_info = {"model": str(model_dir), "data": str(data_dir), "task": DESCRIBE_TASK,
                "split": split or "validation", "images": len(references), "seconds": round(seconds, 2),
                "images_per_second": round(len(references) / max(seconds, 1e-9), 2), "device": device,
                "batch_size": batch_size, "max_new_tokens": max_new_tokens, "processes": state.num_processes}
    if out_dir is not None and state.is_main_process:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_jsonl(out / "predictions.jsonl", [_finite(p) for p in predictions])
        write_jsonl(out / "references.jsonl", references)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        (out / "run.json").write_text(json.dumps(run_info, indent=2) + "\n", encoding="utf-8")
        title = f"{model_dir.name} · describe, {run_info['split']}"
        (out / "table.md").write_text(format_describe_table(metrics, title) + "\n", encoding="utf-8")
    state.wait_for_everyone()
    return metrics


def _finite(prediction: dict) -> dict:
    """A prediction record with non-finite numbers as None (JSON has no NaN)."""
    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return {**prediction, "objects": [{k: clean(v) for k, v in o.items()} for o in prediction["objects"]]}


__all__ = ["DESCRIBE_MAX_NEW_TOKENS", "DESCRIBE_SPLITS", "DESCRIBE_TASK", "describe_images", "describe_rows",
           "evaluate_describe", "format_describe_table", "match_objects", "parse_caption_tags", "reference_objects",
           "score_describe"]

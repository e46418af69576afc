"""The model card's text (YAML + Markdown) rendered from a folder's measured facts, and its offline check.

The YAML is built with ``huggingface_hub``'s :class:`~huggingface_hub.ModelCardData` and
:class:`~huggingface_hub.EvalResult` (``model-index``), and every card is parsed back with
:class:`~huggingface_hub.ModelCard` before it is written (:func:`check_model_card`).

``pipeline_tag`` must be one of the Hub's tasks, and ``object-pose-estimation`` (our custom pipeline's task) is not
one, so each model gets the Hub task that describes its interface: LLaVA-pose is ``image-text-to-text`` (an
``AutoModelForImageTextToText``: an image and a prompt in, an answer with ``<pose6D>`` tokens out); the baseline is
``image-classification`` (a vision backbone with classification heads: 189 categories and 3 × 40 angle bins).
"""

from __future__ import annotations

import math
from typing import Any

from modeling.hub.model_card import BASELINE, LLAVA_POSE, OFFICIAL_DATASET_ID, REPORTED_METRICS
from modeling.utils.errors import ImageNet3DError

PROJECT_LICENSE = "apache-2.0"
DATA_LICENSE = "cc-by-nc-4.0"
POSE_TASK = "object-pose-estimation"
"""The task name of the project's custom transformers pipeline (not a Hub task)."""
PIPELINE_TAGS = {LLAVA_POSE: "image-text-to-text", BASELINE: "image-classification"}
"""model_type → the Hub ``pipeline_tag`` (see the module docstring for why)."""
TASK_NAMES = {"joint": "ImageNet3D Task 3: joint classification and pose (3D-aware error)",
              "pose": "ImageNet3D: pose estimation", "open_vocab": "ImageNet3D Task 2: open-vocabulary pose"}
METRIC_NAMES = {"acc_pi6": "Acc@π/6 (%)", "acc_pi18": "Acc@π/18 (%)", "median_error_deg": "median error (°)"}
BLOCK_SPLITS = {"known": "validation_known", "novel": "validation_novel"}


def _metric_name(task: str, metric: str) -> str:
    return ("3D-aware " if task == "joint" else "") + METRIC_NAMES[metric]


def _metric_type(task: str, metric: str) -> str:
    """The joint task's errors add π for a wrong category: their own metric types (``3d_aware_acc_pi6``, ...), so
    that a result holding a joint and a pose-only evaluation of one split never lists a type twice."""
    return ("3d_aware_" if task == "joint" else "") + metric


def _dataset(source: dict, dataset_id: str | None) -> tuple[str, str]:
    """(dataset id for ``model-index``, pretty name) of an evaluation's or a training's build."""
    synthetic = source.get("kind") == "synthetic"
    name = "ImageNet3D (synthetic release)" if synthetic else "ImageNet3D"
    if dataset_id:
        return dataset_id, name
    if source.get("kind") == "official":
        return OFFICIAL_DATASET_ID, name
    return ("imagenet3d-synthetic" if synthetic else "imagenet3d"), name


def _value(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 2)


def eval_results(facts: dict, dataset_id: str | None = None) -> list:
    """``EvalResult``s of every recorded evaluation: per task and split, the three reported metrics.

    ``model-index`` holds one result per task type, dataset, config and split (huggingface_hub groups the
    ``EvalResult``s so, under the first one's task name), and our tasks share these: the joint task on
    ``validation_known`` and open_vocab's known block, or the joint and pose tasks on ``validation``. Such a result is
    named by every ImageNet3D task measured on it, and the joint task's metrics keep types of their own
    (:func:`_metric_type`), so that each number says which task measured it.
    """
    from huggingface_hub import EvalResult

    task_type = PIPELINE_TAGS.get(facts["model"]["model_type"], POSE_TASK)
    found = []
    for entry in facts.get("evaluations", []):
        dataset_type, dataset_name = _dataset(entry["source"], dataset_id)
        config = "open_vocab" if entry["task"] == "open_vocab" or entry["split"].startswith("validation_") \
            else "pose"
        for block, metrics in entry["blocks"].items():
            split = entry["split"] if block == "overall" else BLOCK_SPLITS[block]
            for metric in REPORTED_METRICS:
                value = _value(metrics.get(metric))
                if value is not None:
                    found.append((entry["task"], dict(
                        task_type=task_type, dataset_type=dataset_type, dataset_name=dataset_name,
                        dataset_config=config, dataset_split=split, metric_type=_metric_type(entry["task"], metric),
                        metric_name=_metric_name(entry["task"], metric), metric_value=value)))
    def where(fields: dict) -> tuple:
        return fields["dataset_type"], fields["dataset_config"], fields["dataset_split"]

    tasks: dict[tuple, list[str]] = {}
    for task, fields in found:
        names = tasks.setdefault(where(fields), [])
        if TASK_NAMES[task] not in names:
            names.append(TASK_NAMES[task])
    return [EvalResult(task_name=" + ".join(tasks[where(fields)]), **fields) for _, fields in found]


def _sources(facts: dict) -> list[dict]:
    found = [facts["training_data"]] if facts.get("training_data") else []
    return found + [entry["source"] for entry in facts.get("evaluations", [])]


def card_data(facts: dict, repo_id: str | None = None, dataset_ids: tuple[str, ...] = ()) -> Any:
    """The card's YAML as a ``ModelCardData``: license, library, pipeline tag, tags, datasets, base model and
    ``model-index``."""
    from huggingface_hub import ModelCardData

    model = facts["model"]
    official = any(s.get("kind") == "official" for s in _sources(facts))
    synthetic = any(s.get("kind") == "synthetic" for s in _sources(facts))
    datasets = list(dataset_ids) or ([OFFICIAL_DATASET_ID] if official else [])
    tags = ["imagenet3d", "3d-pose-estimation", "viewpoint-estimation", POSE_TASK]
    tags += ["llava", "custom_code"] if model["model_type"] == LLAVA_POSE else ["pose-classification"]
    if model["kind"] == "adapter":
        tags += ["peft", "lora"]
    if synthetic:
        tags.append("synthetic-data")
    results = eval_results(facts, dataset_ids[0] if dataset_ids else None)
    name = (repo_id or "").rsplit("/", 1)[-1] or _title(facts)
    return ModelCardData(
        license=DATA_LICENSE if official else PROJECT_LICENSE, library_name="transformers",
        pipeline_tag=PIPELINE_TAGS.get(model["model_type"]), tags=tags, datasets=datasets or None,
        base_model=facts.get("base_model") or None, model_name=name if results else None,
        eval_results=results or None)


def _title(facts: dict) -> str:
    model = facts["model"]
    what = "LLaVA-pose" if model["model_type"] == LLAVA_POSE else "ImageNet3D pose classification baseline"
    return f"{what} (LoRA adapter)" if model["kind"] == "adapter" else what


def _count(value: int | None) -> str:
    if value is None:
        return "unknown"
    return f"{value / 1e9:.2f}B" if value >= 1e9 else f"{value / 1e6:.2f}M" if value >= 1e6 else f"{value:,}"


def _what_it_is(facts: dict) -> str:
    model = facts["model"]
    if model["model_type"] == LLAVA_POSE:
        text = ("LLaVA-pose for [ImageNet3D](https://arxiv.org/abs/2406.09613): a LLaVA whose language model writes "
                "`<pose6D>` where an object's pose belongs (\"a car CAR1 with <pose6D>\"); a pose head reads that "
                "token's hidden state and the image tokens and gives the object's azimuth, elevation and in-plane "
                "rotation θ (3 × 40 bins), its distance and its centre. The paper released no code: this one "
                "follows LISA's embedding-as-output design. "
                + ("The processor's code ships in this folder, the model's with its base (`trust_remote_code=True`)."
                   if model["kind"] == "adapter" else
                   "The model's code ships in this folder (`trust_remote_code=True`)."))
    else:
        text = ("The classification baseline of [ImageNet3D](https://arxiv.org/abs/2406.09613) (the paper's Table 3): "
                "a vision backbone with a 189-way category head and a 3 × 40-bin pose head (azimuth, elevation, "
                "in-plane rotation θ), on object-centric crops.")
    text += f"\n\nParameters stored in this folder: {_count(model['parameters'])}."
    if model["kind"] == "adapter":
        text += (f" This is a LoRA adapter (rank {model['lora_rank']}): it needs its base model, "
                 f"`{model['adapter_base']}` (`base_model_name_or_path` in `adapter_config.json`).")
    if facts.get("base_model"):
        text += f" Converted from `{facts['base_model']}` (`imagenet3d init-model --base`)."
    return text


def _snippets(facts: dict, model_id: str) -> list[str]:
    model = facts["model"]
    blocks = []
    image = 'image = Image.new("RGB", (320, 240), "gray")  # your photo: Image.open("photo.jpg").convert("RGB")'
    if model["model_type"] == LLAVA_POSE:
        if model["kind"] == "adapter":
            load = (f'base = AutoModel.from_pretrained("{model["adapter_base"]}", trust_remote_code=True)\n'
                    "model = PeftModel.from_pretrained(base, model_id).eval()")
        else:
            load = "model = AutoModel.from_pretrained(model_id, trust_remote_code=True).eval()"
        peft = "from peft import PeftModel\n" if model["kind"] == "adapter" else ""
        blocks.append(
            f"{peft}from PIL import Image\nfrom transformers import AutoModel, AutoProcessor\n\n"
            f'model_id = "{model_id}"\n{load}\n'
            "processor = AutoProcessor.from_pretrained(model_id, trust_remote_code=True)\n"
            f"{image}\n"
            'inputs = processor(images=[image], text=[processor.describe_prompt()], return_tensors="pt")\n'
            "out = model.generate(**inputs, max_new_tokens=96, return_poses=True)\n"
            "objects = processor.post_process_pose_generation(out, [(image.height, image.width)])[0]\n"
            "# one list per image: [{\"tag\", \"category\", \"azimuth\", \"elevation\", \"theta\" (radians), "
            "\"distance\", \"px\", \"py\", \"confidence\"}, ...]")
    else:
        remote = "AutoModel" in model["auto_map"]
        register = "" if remote else ("import modeling.baseline.model  # registers the baseline with AutoModel (this "
                                      "folder ships no code): the imagenet3d project's package, not on PyPI "
                                      "(`pip install -e .` in its source folder)\n")
        trust = ", trust_remote_code=True" if remote else ""
        blocks.append(
            f"{register}from PIL import Image\nfrom transformers import AutoImageProcessor, AutoModel\n\n"
            f'model_id = "{model_id}"\nmodel = AutoModel.from_pretrained(model_id{trust}).eval()\n'
            f"processor = AutoImageProcessor.from_pretrained(model_id{trust})\n"
            'crop = Image.new("RGB", (64, 64), "gray")  # an object-centric crop of one object\n'
            'outputs = model(**processor(images=[crop], return_tensors="pt"))\n'
            "azimuth_bins = outputs.pose_logits[:, 0].argmax(-1)  # 40 bins over [0, 2π); [:, 1] elevation, "
            "[:, 2] θ\n"
            "category = model.config.id2label[int(outputs.category_logits.argmax(-1)[0])]")
    if POSE_TASK in model["custom_pipelines"]:
        blocks.append(
            "from PIL import Image\nfrom transformers import pipeline\n\n"
            f'pose = pipeline("{POSE_TASK}", model="{model_id}", trust_remote_code=True)\n'
            f"{image}\n"
            "objects = pose(image)  # [{\"tag\", \"category\", \"azimuth\", ..., \"confidence\", \"box\"}, ...]")
    return blocks


def _training_section(facts: dict) -> str:
    training = facts.get("training")
    if not training:
        if facts.get("base_model"):
            return (f"Not fine-tuned: the weights of `{facts['base_model']}` with a new `<pose6D>` token and a new, "
                    "untrained pose head. Train it with `imagenet3d train --stage 2`.")
        return "No training record in this folder (no `training_summary.json` or `training.json`)."
    source = facts.get("training_data") or {"kind": "unknown"}
    lines = [f"- command: `imagenet3d {training['command']}`"
             + (f", stage {training['stage']}" if training.get("stage") else "")
             + (f", started from `{training['start']}`" if training.get("start") else "")]
    lines.append(f"- data: `{training['data_dir']}`, {_source_words(source)}"
                 + (", the 63 known categories only (`--known-only`)" if training.get("known_only") else ""))
    if training.get("items"):
        lines.append("- training items: " + ", ".join(f"{k} {v:,}" for k, v in training["items"].items()
                                                      if isinstance(v, int)))
    if training.get("categories"):
        lines.append(f"- categories seen: {len(training['categories'])} ({', '.join(training['categories'])})")
    lines.append(f"- trained: {training['what']}")
    if training.get("trainable_parameters"):
        lines.append(f"- trainable parameters: {training['trainable_parameters']:,} of "
                     f"{training['total_parameters']:,}")
    opts = training.get("options") or {}
    shown = [f"{k} {opts[k]}" for k in ("max_steps", "epochs", "batch_size", "learning_rate", "lr_scheduler",
                                        "warmup_ratio", "weight_decay", "lora_rank", "caption_ratio", "seed")
             if opts.get(k) is not None and (k != "lora_rank" or training.get("stage") == 2)]
    lines.append("- options: " + ", ".join(shown) + " (all in the training summary)")
    loss = training.get("loss")
    lines.append(f"- {training['steps']} steps on {training.get('processes') or 1} process(es), "
                 f"{training.get('seconds')} s; mean training loss {loss:.4f}" if loss is not None else
                 f"- {training['steps']} steps")
    final = {k: v for k, v in (training.get("final_eval") or {}).items() if k.endswith("acc_pi6")}
    if final:
        lines.append("- at the end, teacher-forced on validation (not the official protocol; see Evaluation): "
                     + ", ".join(f"{k} {v:.3f}" for k, v in final.items()))
    return "\n".join(lines)


def _source_words(source: dict) -> str:
    if source.get("kind") == "synthetic":
        categories = source.get("categories") or []
        return (f"built from the **synthetic release** (procedurally rendered by `imagenet3d synthesize`, "
                f"{len(categories)} categories, seed {source.get('seed')})")
    if source.get("kind") == "official":
        return "built from the official ImageNet3D release (ImageNet-21k images, CC BY-NC 4.0)"
    return "source release not recorded"


def _evaluation_section(facts: dict) -> str:
    evaluations = facts.get("evaluations") or []
    if not evaluations:
        return ("Not evaluated yet: `imagenet3d evaluate --model THIS_FOLDER --data DATASET --out DIR` adds its "
                "numbers here.")
    lines = ["Measured by `imagenet3d evaluate` with the official metric (geodesic pose error; the joint task adds "
             "π for a wrong category):", "",
             "| task | split | data | objects | Acc@π/6 | Acc@π/18 | median error (°) |",
             "|---|---|---|---:|---:|---:|---:|"]
    for entry in evaluations:
        data = "synthetic" if entry["source"].get("kind") == "synthetic" else entry["source"].get("kind")
        for block, metrics in entry["blocks"].items():
            split = entry["split"] if block == "overall" else BLOCK_SPLITS[block]
            cells = [f"{v:.1f}" if (v := _value(metrics.get(m))) is not None else "–" for m in REPORTED_METRICS]
            lines.append(f"| {entry['task']} | {split} | {data} | {metrics['count']:,} | " + " | ".join(cells) + " |")
    lines.append("")
    for entry in evaluations:
        per_meta = ", ".join(f"{name} {block['acc_pi6']:.1f}" for name, block in entry["meta_classes"].items())
        lines.append(f"- {entry['task']} / {entry['split']}, Acc@π/6 per meta-class: {per_meta}")
        if entry.get("no_pose"):
            lines.append(f"  - answers without a `<pose6D>` (counted as error π): {entry['no_pose']}")
    return "\n".join(lines)


def _limitations(facts: dict) -> str:
    lines = []
    if any(s.get("kind") == "synthetic" for s in _sources(facts)):
        lines.append("- **Synthetic data.** Numbers here were measured on (and the model was trained on) the synthetic "
                     "release: procedural meshes rendered by `imagenet3d synthesize`. They do not say how the model "
                     "does on real photos.")
    training = facts.get("training") or {}
    if training.get("known_only"):
        lines.append("- Trained on the known categories only: novel categories were never seen.")
    lines += [
        "- **Symmetric objects** (bottles, cups, wheels seen along their axis) have no defined azimuth; the error "
        "counts it anyway, and the azimuth confidence is low there.",
        "- **Meta-classes are a reconstruction**: the official category → meta-class file is not public; "
        "per-meta-class numbers compare with each other, not with the paper's tables.",
        "- Inputs are object-centric crops as in training; a crop that frames the object differently degrades the "
        "pose.",
    ]
    return "\n".join(lines)


def render_model_card(facts: dict, repo_id: str | None = None, model_id: str | None = None,
                      dataset_ids: tuple[str, ...] = ()) -> str:
    """The card (README.md text) of a folder's facts; ``model_id`` (default: ``repo_id``) goes into the snippets.

    The result is parsed back by :func:`check_model_card` (raises ImageNet3DError if huggingface_hub refuses it).
    """
    from imagenet3d import CITATION

    data = card_data(facts, repo_id, dataset_ids)
    snippets = "\n\n".join(f"```python\n{block}\n```" for block in _snippets(facts, model_id or repo_id or "."))
    body = (f"# {_title(facts)}\n\n{_what_it_is(facts)}\n\n## How to use\n\n{snippets}\n\n"
            f"## Training data and procedure\n\n{_training_section(facts)}\n\n"
            f"## Evaluation\n\n{_evaluation_section(facts)}\n\n## Limitations\n\n{_limitations(facts)}\n\n"
            f"## Citation\n\n```bibtex\n{CITATION}\n```\n\nWritten by `imagenet3d` from this folder's measured "
            "files (`model_card_data.json`); do not edit by hand.\n")
    text = f"---\n{data.to_yaml()}\n---\n\n{body}"
    check_model_card(text)
    return text


def check_model_card(text: str, where: str = "README.md") -> Any:
    """Parse a model card with ``huggingface_hub.ModelCard`` (YAML, ``model-index``) and check what the Hub needs
    from ours offline: license, ``library_name``, a ``pipeline_tag`` that transformers knows. Returns the card;
    raises ImageNet3DError naming ``where`` and the field."""
    from huggingface_hub import ModelCard

    try:
        card = ModelCard(text)
    except (ValueError, TypeError) as err:
        raise ImageNet3DError(f"{where}: not a valid model card: {str(err).splitlines()[0]}") from None
    for field in ("license", "library_name", "pipeline_tag"):
        if not card.data.get(field):
            raise ImageNet3DError(f"{where}: model card YAML: no {field}")
    from transformers.pipelines import SUPPORTED_TASKS

    if card.data.pipeline_tag not in SUPPORTED_TASKS:
        raise ImageNet3DError(f"{where}: model card YAML: pipeline_tag {card.data.pipeline_tag!r} is not a known task")
    for result in card.data.eval_results or []:
        if not isinstance(result.metric_value, (int, float)):
            raise ImageNet3DError(f"{where}: model-index: {result.metric_type} is not a number")
    return card


__all__ = ["PIPELINE_TAGS", "POSE_TASK", "card_data", "check_model_card", "eval_results", "render_model_card"]

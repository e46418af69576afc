"""Fine-tune LLaVA-pose on a built ImageNet3D dataset, in LLaVA's two stages: :func:`train` (and ``imagenet3d train``,
whose options are the fields of :class:`~modeling.llava_pose.training_arguments.LlavaPoseTrainingArguments`).

Built on the HF :class:`~transformers.Trainer`, so the same command scales to several GPUs unchanged::

    accelerate launch -m modeling.cli train --data imagenet3d --model base --output run --bf16

``batch_size`` is per process: N processes with batch b train as one with batch N·b (the same examples, order and
loss weighting; dropout draws and a training BatchNorm tower are each process's own). The main process alone writes
the checkpoints and the output folder; ``--resume`` works with another number of processes. The README's "More than
one GPU / machine" has the configs (``configs/accelerate/``) and the measured agreement.

**Stage 1** (``--stage 1``) stands in for the pretraining a real LLaVA checkpoint already has; it is meant for the
built-in random base of ``imagenet3d init-model`` only (a frozen random vision tower cannot see a pose). It is full
fine-tuning: every parameter trains (vision tower, projector, language model with its embeddings and ``lm_head``,
pose head) on the LM loss of the answers plus the pose loss, by default on the joint task alone
(``caption_ratio`` 0). It saves a complete model folder (weights, custom code, processor), which stage 2 takes as
``--model``. LLaVA starts from a pretrained CLIP and keeps it frozen; the built-in base does the same when its tower
comes from a trained classification baseline (``init-model --vision-tower BASELINE_DIR``, the baseline's backbone)
and stage 1 runs with ``--freeze-vision-tower``: it then trains the projector, LM and pose head on a tower that
already sees category and pose. Through the LM alone a random tower learns pose far more slowly.

**Stage 2** (``--stage 2``, the default, and the path of a real checkpoint) is PEFT: LoRA on the language model's
attention projections only (``--lora-targets``, a regex over module names, default
``.*language_model.*\\.(q_proj|k_proj|v_proj|o_proj)``; a plain list such as ``["q_proj"]`` would also adapt the
CLIP tower, so the adapted modules are checked and a match in the vision tower is an error), the pose head and the
projector trained in full and saved with the adapter (``modules_to_save``), and the ``<pose6D>`` rows of the input
embeddings and of ``lm_head`` trainable (``trainable_token_indices``; LLaVA does not tie them). Everything else is
frozen. It saves the adapter and the processor to OUTPUT; ``--merge`` also writes a merged full model to
OUTPUT/merged that loads with ``AutoModel.from_pretrained(dir, trust_remote_code=True)``. The adapter's config
records the base's absolute path (:func:`portable_adapter_config`), so OUTPUT loads from any working directory. Every
model folder written (stage 1, merged) carries the ``object-pose-estimation`` pipeline (``custom_pipelines`` in its
config.json and ``pipeline_llava_pose.py``: ``LlavaPoseForConditionalGeneration.save_pretrained``).

**A real checkpoint** (GPU, network once)::

    imagenet3d init-model llava7b --base llava-hf/llava-1.5-7b-hf      # adds <pose6D> and a fresh pose head
    imagenet3d train --stage 2 --model llava7b --data imagenet3d --output run --bf16 --batch-size 4 --merge

Data (see :mod:`modeling.llava_pose.training_data`): the joint task on the ``pose`` config's crops mixed with the
``captions`` config (``--caption-ratio``); ``--known-only`` keeps the 63 known categories (Task 2). Evaluation
during training reports teacher-forced pose and 3D-aware accuracies (:mod:`modeling.llava_pose.trainer`); the
``imagenet3d evaluate`` command measures the real ones by generation.

Checkpoints go to OUTPUT/checkpoint-N every ``--save-steps``; ``--resume`` continues from the last one (or a
given one) and ends with the same weights as an uninterrupted run: the data order, the mirroring and the dropout
are seeded and restored. The same seed gives the same loss curve on CPU.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modeling.llava_pose.training_arguments import DEFAULT_LORA_TARGETS, LlavaPoseTrainingArguments
from modeling.utils.errors import ImageNet3DError, located
from modeling.utils.model_folder import MERGED_DIR, check_output_folder
from modeling.utils.textfile import read_text

MODULES_TO_SAVE = ("pose_head", "multi_modal_projector")
"""Trained in full in stage 2 and saved with the adapter."""
SUMMARY_FILE = "training_summary.json"
LARGE_MODEL_PARAMETERS = 100_000_000


def apply_lora(model: Any, rank: int = 16, alpha: float | None = None, dropout: float = 0.05,
               targets: str = DEFAULT_LORA_TARGETS) -> tuple[Any, list[str]]:
    """Wrap a LLaVA-pose in a PEFT LoRA model for stage 2; returns ``(peft_model, adapted_module_names)``.

    LoRA on the modules matching ``targets``; ``pose_head`` and ``multi_modal_projector`` trained in full
    (``modules_to_save``); the ``<pose6D>`` rows of ``embed_tokens`` and ``lm_head`` trainable. Raises
    ImageNet3DError when the regex matches nothing or adapts a vision-tower module.
    """
    from peft import LoraConfig, get_peft_model
    from peft.tuners.lora import LoraLayer

    pose_id = model.config.pose_token_id
    config = LoraConfig(r=rank, lora_alpha=alpha if alpha is not None else 2 * rank, lora_dropout=dropout,
                        target_modules=targets, modules_to_save=list(MODULES_TO_SAVE),
                        trainable_token_indices={"embed_tokens": [pose_id], "lm_head": [pose_id]})
    try:
        peft_model = get_peft_model(model, config)
    except ValueError as err:
        raise ImageNet3DError(f"--lora-targets {targets!r}: {err}") from None
    adapted = [name for name, module in peft_model.named_modules() if isinstance(module, LoraLayer)]
    vision = [name for name in adapted if "vision_tower" in name]
    if vision:
        raise ImageNet3DError(f"--lora-targets {targets!r} adapts {len(vision)} vision-tower module(s) (e.g. "
                              f"{vision[0]}): stage 2 adapts the language model only; anchor the regex on "
                              "language_model")
    if not adapted:
        raise ImageNet3DError(f"--lora-targets {targets!r}: no module adapted")
    return peft_model, adapted


def _check_bf16() -> None:
    from transformers.utils import is_torch_bf16_gpu_available

    if not is_torch_bf16_gpu_available():
        raise ImageNet3DError("--bf16: this machine has no GPU with bfloat16 support (CUDA compute capability >= 8 "
                              "or equivalent); train in float32 without --bf16")


def _trained_description(stage: int, model: Any, adapted: Sequence[str]) -> dict[str, Any]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    if stage == 2:
        what = (f"LoRA on {len(adapted)} language-model modules; pose_head and multi_modal_projector in full; the "
                "<pose6D> rows of embed_tokens and lm_head")
    elif any(p.requires_grad for p in model.model.vision_tower.parameters()):
        what = ("all parameters (full fine-tuning): vision tower, multi-modal projector, language model with its "
                "embeddings and lm_head, pose head")
    else:
        what = ("multi-modal projector, language model with its embeddings and lm_head, pose head (vision tower "
                "frozen)")
    return {"what": what, "trainable_parameters": trainable, "total_parameters": total,
            "lora_modules": len(adapted)}


def _final_evaluation(trainer: Any) -> dict[str, float]:
    """The evaluation of the final weights: the one logged at the last step if there was one, else a new one."""
    last = trainer.state.log_history[-2:] if trainer.state.log_history else []
    for entry in last:
        if "eval_loss" in entry and entry.get("step") == trainer.state.global_step:
            return {k: v for k, v in entry.items() if k != "step"}
    return trainer.evaluate()


def train(data_dir: str | Path, model_dir: str | Path, output_dir: str | Path,
          args: LlavaPoseTrainingArguments | None = None, *, callbacks: Sequence[Any] = (), progress: bool = True,
          **overrides: Any) -> Path:
    """Fine-tune the LLaVA-pose in ``model_dir`` on the built dataset ``data_dir``; write to ``output_dir``.

    The options are ``args`` (a :class:`LlavaPoseTrainingArguments`), with any of its fields given as keywords
    replacing its values (``train(data, base, out, stage=1, max_steps=200)``). ``callbacks`` are extra
    ``TrainerCallback``s; ``progress`` shows the tqdm bar. Writes the model (stage 1) or the adapter (stage 2) with
    the processor to ``output_dir``, checkpoints to ``output_dir/checkpoint-N`` and a summary (options, data, what
    was trained, log history, final evaluation, wall time) to ``output_dir/training_summary.json``.

    Returns the folder of the model to evaluate: ``output_dir`` for stage 1, ``output_dir/merged`` with ``merge``,
    else ``output_dir`` (an adapter folder; load it with :func:`load_trained`).
    """
    import torch
    from transformers import TrainingArguments, set_seed
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from modeling.baseline.trainer_common import resume_checkpoint
    from modeling.hub.model_card import write_model_card
    from modeling.llava_pose.inference import load_model
    from modeling.llava_pose.trainer import EpochCallback, PoseProgressCallback, PoseTrainer
    from modeling.llava_pose.training_data import LlavaPoseCollator, load_training_data

    opts = dataclasses.replace(args or LlavaPoseTrainingArguments(), **overrides).resolved()
    output_dir = Path(output_dir)
    # A stage-2 output holds the adapter: a rerun there (e.g. --resume) is fine, as is a LLaVA-pose model folder.
    check_output_folder(output_dir, accepted=("llava_pose",), keeps="adapter_config.json" if opts.stage == 2 else "")
    resume_from = resume_checkpoint(opts.resume, output_dir)
    if opts.bf16:
        _check_bf16()
    start = time.perf_counter()
    model, processor = load_model(model_dir)
    if opts.bf16 and opts.stage == 2:
        model.to(torch.bfloat16)  # the frozen base in bf16; PEFT keeps the adapter weights in float32
    if opts.pose_loss_weight is not None:
        model.config.pose_loss_weight = float(opts.pose_loss_weight)
    if opts.lm_loss_reduction is not None:
        model.config.lm_loss_reduction = opts.lm_loss_reduction
    data = load_training_data(data_dir, processor, known_only=opts.known_only, caption_ratio=opts.caption_ratio,
                              seed=opts.seed, hflip=opts.hflip, augment=opts.augment,
                              max_eval_samples=opts.max_eval_samples)

    set_seed(opts.seed)  # before LoRA's initialisation
    adapted: list[str] = []
    if opts.stage == 1:
        model.requires_grad_(True)
        if opts.freeze_vision_tower:
            model.model.vision_tower.requires_grad_(False)
        if sum(p.numel() for p in model.parameters()) > LARGE_MODEL_PARAMETERS:
            print(f"warning: stage 1 fine-tunes every parameter; it stands in for pretraining of the built-in "
                  f"random base. A pretrained checkpoint such as {model_dir} starts at stage 2.")
    else:
        model, adapted = apply_lora(model, opts.lora_rank, opts.lora_alpha, opts.lora_dropout, opts.lora_targets)

    evaluate = data.eval is not None
    training_args = TrainingArguments(
        output_dir=str(output_dir),
        seed=opts.seed, data_seed=opts.seed,
        max_steps=opts.max_steps if opts.max_steps is not None else -1,
        num_train_epochs=opts.epochs,
        per_device_train_batch_size=opts.batch_size,
        per_device_eval_batch_size=opts.eval_batch_size if opts.eval_batch_size is not None else opts.batch_size,
        gradient_accumulation_steps=opts.gradient_accumulation_steps,
        learning_rate=opts.learning_rate, weight_decay=opts.weight_decay, warmup_steps=opts.warmup_ratio,
        lr_scheduler_type=opts.lr_scheduler, bf16=opts.bf16,
        eval_strategy="steps" if evaluate and opts.eval_steps else "no", eval_steps=opts.eval_steps or None,
        save_strategy="steps" if opts.save_steps else "no", save_steps=opts.save_steps or 500,
        save_total_limit=opts.save_total_limit,
        logging_strategy="steps", logging_steps=opts.logging_steps, logging_first_step=True,
        report_to="none", disable_tqdm=not progress,
        remove_unused_columns=False,
        # Trainer treats any name containing "label" as a label; say which inputs are targets.
        label_names=["labels", "pose_labels", "pose_regression_labels", "pose_mask"],
        dataloader_num_workers=opts.num_workers, dataloader_pin_memory=torch.cuda.is_available(),
        # Without CUDA, several processes (accelerate launch) are CPU processes joined by gloo, not copies that
        # each train alone.
        use_cpu=not torch.cuda.is_available(),
    )
    trainer = PoseTrainer(
        model=model, args=training_args, train_dataset=data.train, eval_dataset=data.eval,
        data_collator=LlavaPoseCollator(processor, num_bins=model.config.num_bins), processing_class=processor,
        pose_token_id=model.config.pose_token_id, callbacks=[EpochCallback(data.train), *callbacks],
    )
    trainer.remove_callback(ProgressCallback if progress else PrinterCallback)
    if progress:
        trainer.add_callback(PoseProgressCallback(f"train (stage {opts.stage})"))

    result = trainer.train(resume_from_checkpoint=resume_from)
    final_eval = _final_evaluation(trainer) if evaluate else {}  # every process: evaluation is collective
    trainer.save_model(str(output_dir))  # the model (stage 1) or the adapter (stage 2), and the processor; once
    # Counted before a merge: merge_and_unload folds the adapter into the base and changes what trainer.model holds.
    trained = _trained_description(opts.stage, trainer.model, adapted)
    target = output_dir / MERGED_DIR if opts.merge else output_dir
    if trainer.is_world_process_zero():  # with several processes, the main one alone writes the rest
        if opts.stage == 2:
            portable_adapter_config(output_dir)
        if opts.merge:
            merged = trainer.model.merge_and_unload()
            merged.save_pretrained(target)
            processor.save_pretrained(target)
        summary = {
            "stage": opts.stage, "model": str(model_dir), "data": data.info, "output": str(target),
            "options": dataclasses.asdict(opts), "trained": trained, "processes": trainer.accelerator.num_processes,
            "global_step": trainer.state.global_step, "train_loss": result.training_loss,
            "train_runtime_s": result.metrics.get("train_runtime"),
            "wall_time_s": round(time.perf_counter() - start, 2), "eval": final_eval,
            "log_history": trainer.state.log_history,
        }
        (output_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
        write_model_card(output_dir)  # README.md (the Hub model card) of the folder and of merged/, from the summary
    trainer.accelerator.wait_for_everyone()  # every process returns once the folder is complete
    return target


ADAPTER_AUTO_MAPPING = {"base_model_class": "AutoModelForImageTextToText", "parent_library": "transformers"}
"""The base class an adapter's config names for ``peft.AutoPeftModel``: a transformers auto class, which loads the
base's own code (``trust_remote_code=True``), rather than this package's class, which a user may not have."""


def portable_adapter_config(adapter_dir: str | Path) -> None:
    """Make a stage-2 adapter folder load from any working directory and without this package.

    PEFT writes ``base_model_name_or_path`` as the base was given to ``from_pretrained``: :func:`train` loads it by
    its absolute path (:func:`modeling.llava_pose.inference.load_model`), and a relative path still found here is
    made absolute. ``auto_mapping`` is set to :data:`ADAPTER_AUTO_MAPPING`, so that
    ``AutoPeftModel.from_pretrained(adapter_dir, trust_remote_code=True)`` works. To publish the adapter, set
    ``base_model_name_or_path`` to the base's Hub id once the base is on the Hub (or publish ``merged/``). A
    missing or unreadable config raises ImageNet3DError naming it.
    """
    config_file = Path(adapter_dir) / "adapter_config.json"
    try:
        config = json.loads(read_text(config_file, byte_order_mark=False))
    except (json.JSONDecodeError, OSError) as err:
        raise located(config_file, f"not a PEFT adapter config ({err})") from None
    base = config.get("base_model_name_or_path")
    if isinstance(base, str) and base and not Path(base).is_absolute() and Path(base).exists():
        config["base_model_name_or_path"] = str(Path(base).resolve())
    if config.get("task_type") is None:
        config["auto_mapping"] = dict(ADAPTER_AUTO_MAPPING)
    config_file.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load_trained(folder: str | Path) -> tuple[Any, Any]:
    """``(model, processor)`` from what :func:`train` wrote: a full model folder (stage 1, ``merged``, or any
    LLaVA-pose), or a stage-2 adapter folder, loaded as a PEFT model (not merged, for training further) on the base
    named in its adapter config (:func:`modeling.llava_pose.inference.adapter_base`). For inference,
    :func:`modeling.llava_pose.inference.load_model` takes the same folders and merges the adapter."""
    from modeling.llava_pose.inference import load_model

    folder = Path(folder)
    adapter_config = folder / "adapter_config.json"
    if not adapter_config.is_file():
        return load_model(folder)
    from peft import PeftModel

    from modeling.llava_pose.inference import adapter_base

    base, _ = load_model(adapter_base(folder))
    from modeling.processing_llava_pose import LlavaPoseProcessor

    model = PeftModel.from_pretrained(base, folder).eval()
    return model, LlavaPoseProcessor.from_pretrained(folder)


__all__ = ["ADAPTER_AUTO_MAPPING", "DEFAULT_LORA_TARGETS", "MODULES_TO_SAVE", "SUMMARY_FILE",
           "LlavaPoseTrainingArguments", "apply_lora", "load_trained", "portable_adapter_config", "train"]

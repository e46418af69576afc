"""``imagenet3d train``: fine-tune LLaVA-pose on a built ImageNet3D dataset, in LLaVA's two stages.

Built on the HF :class:`~transformers.Trainer`, so the same command scales to several GPUs unchanged::

    accelerate launch -m modeling.cli train --data imagenet3d --model base --output run --bf16

**Stage 1** (``--stage 1``) stands in for the pretraining a real LLaVA checkpoint already has; it is meant for the
built-in random base of ``imagenet3d init-model`` only (a frozen random vision tower cannot see a pose). It is full
fine-tuning: every parameter trains (vision tower, projector, language model with its embeddings and ``lm_head``,
pose head) on the LM loss of the answers plus the pose loss, by default on the joint task alone
(``caption_ratio`` 0). It saves a complete model folder (weights, custom code, processor), which stage 2 takes as
``--model``. LLaVA starts from a pretrained CLIP and keeps it frozen; the built-in base does the same when its tower
comes from a trained classification baseline (``init-model --vision-tower BASELINE_DIR``, the baseline's backbone)
and stage 1 runs with ``--freeze-vision-tower``: it then trains the projector, LM and pose head on a tower that
already sees category and pose. Through the LM alone a random tower learns pose far more slowly (issue 5 notes).

**Stage 2** (``--stage 2``, the default, and the path of a real checkpoint) is PEFT: LoRA on the language model's
attention projections only (``--lora-targets``, a regex over module names, default
``.*language_model.*\\.(q_proj|k_proj|v_proj|o_proj)``; a plain list such as ``["q_proj"]`` would also adapt the
CLIP tower, so the adapted modules are checked and a match in the vision tower is an error), the pose head and the
projector trained in full and saved with the adapter (``modules_to_save``), and the ``<pose6D>`` rows of the input
embeddings and of ``lm_head`` trainable (``trainable_token_indices``; LLaVA does not tie them). Everything else is
frozen. It saves the adapter and the processor to OUTPUT; ``--merge`` also writes a merged full model to
OUTPUT/merged that loads with ``AutoModel.from_pretrained(dir, trust_remote_code=True)``.

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

import argparse
import dataclasses
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modeling.utils.errors import ImageNet3DError, located

DEFAULT_LORA_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj)"
"""LoRA targets: the language model's attention projections (never the vision tower's, which share the names)."""
MODULES_TO_SAVE = ("pose_head", "multi_modal_projector")
"""Trained in full in stage 2 and saved with the adapter."""
STAGE_DEFAULTS: dict[int, dict[str, float]] = {
    1: {"learning_rate": 1e-3, "caption_ratio": 0.0},
    2: {"learning_rate": 2e-4, "caption_ratio": 0.25},
}
"""Per-stage defaults of the options left as None."""
DEFAULT_EPOCHS = 3.0
MERGED_DIR = "merged"
SUMMARY_FILE = "training_summary.json"
LARGE_MODEL_PARAMETERS = 100_000_000


@dataclass
class TrainOptions:
    """Every option of :func:`train` (and of ``imagenet3d train``; the CLI flag is the name with dashes).

    Attributes:
        stage: 1 = full fine-tuning of the built-in random base; 2 = LoRA (see the module docstring).
        known_only: train on the 63 known categories only (Task 2's open-vocabulary protocol).
        lora_rank: LoRA rank r (stage 2).
        lora_alpha: LoRA scaling α (the update is scaled by α / r); None = 2 · r.
        lora_dropout: dropout on the LoRA branch's input.
        lora_targets: regex over module names selecting the LoRA targets (must not match the vision tower).
        max_steps: optimizer steps to train; overrides ``epochs``.
        freeze_vision_tower: stage 1 only: keep the vision tower frozen (a tower taken from a trained baseline with
            ``init-model --vision-tower``, as LLaVA keeps CLIP frozen: gradients from a fresh projector, LM and pose
            head would wreck what the tower learned).
        epochs: passes over the training mix (fractions allowed); default 3 when ``max_steps`` is not given.
        batch_size: examples per device and step.
        gradient_accumulation_steps: batches accumulated per optimizer step.
        learning_rate: peak learning rate of AdamW; None = 1e-3 in stage 1, 2e-4 in stage 2.
        weight_decay: AdamW weight decay.
        warmup_ratio: fraction of the steps with a linear warm-up.
        lr_scheduler: the Trainer's scheduler name ("cosine", "linear", "constant", ...).
        bf16: bfloat16 mixed precision (and a bfloat16 frozen base in stage 2); needs a GPU that supports it.
        eval_steps: evaluate every N steps (0: only at the end).
        save_steps: write a checkpoint every N steps (0: none, then ``resume`` has nothing to resume from).
        save_total_limit: keep at most this many checkpoints (None: all).
        logging_steps: log (and update the progress bar's loss and accuracy) every N steps.
        max_eval_samples: evaluate on at most N validation rows (a seeded subset; None or 0: all).
        caption_ratio: fraction of the training items that are captions, in [0, 1]; None = 0 in stage 1, 0.25 in
            stage 2.
        hflip: mirror joint-task crops with probability 1/2 (the official augmentation).
        augment: jitter joint-task crops (zoom, shift ±8 %, colour ±20 %; `modeling.data.augmentation`).
        pose_loss_weight: weight of the pose loss against the LM loss; None keeps the model's config value.
        merge: stage 2: also save a merged full model to OUTPUT/merged.
        resume: continue from the last checkpoint in OUTPUT (True) or from this checkpoint folder.
        seed: seed of everything random (initialisation of LoRA, data order, mirroring, dropout).
        num_workers: DataLoader worker processes (0: load in the main process).
    """

    stage: int = 2
    known_only: bool = False
    lora_rank: int = 16
    lora_alpha: float | None = None
    lora_dropout: float = 0.05
    lora_targets: str = DEFAULT_LORA_TARGETS
    max_steps: int | None = None
    freeze_vision_tower: bool = False
    epochs: float | None = None
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    learning_rate: float | None = None
    weight_decay: float = 0.0
    warmup_ratio: float = 0.03
    lr_scheduler: str = "cosine"
    bf16: bool = False
    eval_steps: int = 100
    save_steps: int = 100
    save_total_limit: int | None = None
    logging_steps: int = 10
    max_eval_samples: int | None = 256
    caption_ratio: float | None = None
    hflip: bool = True
    augment: bool = True
    pose_loss_weight: float | None = None
    merge: bool = False
    resume: bool | str | None = None
    seed: int = 0
    num_workers: int = 0

    def resolved(self) -> TrainOptions:
        """A checked copy with the stage defaults filled in; bad values raise ImageNet3DError naming the option."""
        if self.stage not in STAGE_DEFAULTS:
            raise ImageNet3DError(f"--stage: expected 1 or 2, got {self.stage}")
        if self.max_steps is not None and self.epochs is not None:
            raise ImageNet3DError("--max-steps and --epochs: give one of them")
        checks = [("max_steps", self.max_steps is None or self.max_steps > 0), ("epochs", self.epochs is None or
                  self.epochs > 0), ("batch_size", self.batch_size > 0), ("lora_rank", self.lora_rank > 0),
                  ("gradient_accumulation_steps", self.gradient_accumulation_steps > 0),
                  ("eval_steps", self.eval_steps >= 0), ("save_steps", self.save_steps >= 0),
                  ("logging_steps", self.logging_steps > 0), ("lora_dropout", 0 <= self.lora_dropout < 1),
                  ("warmup_ratio", 0 <= self.warmup_ratio < 1), ("num_workers", self.num_workers >= 0),
                  ("learning_rate", self.learning_rate is None or self.learning_rate > 0),
                  ("caption_ratio", self.caption_ratio is None or 0 <= self.caption_ratio <= 1)]
        for name, ok in checks:
            if not ok:
                raise ImageNet3DError(f"--{name.replace('_', '-')}: invalid value {getattr(self, name)!r}")
        try:
            re.compile(self.lora_targets)
        except re.error as err:
            raise ImageNet3DError(f"--lora-targets: not a regular expression: {err}") from None
        if self.freeze_vision_tower and self.stage != 1:
            raise ImageNet3DError("--freeze-vision-tower: stage 1 only (stage 2 always keeps the tower frozen)")
        if self.merge and self.stage == 1:
            raise ImageNet3DError("--merge: stage 1 already saves a full model (there is no adapter to merge)")
        defaults = STAGE_DEFAULTS[self.stage]
        return dataclasses.replace(
            self,
            learning_rate=self.learning_rate if self.learning_rate is not None else defaults["learning_rate"],
            caption_ratio=self.caption_ratio if self.caption_ratio is not None else defaults["caption_ratio"],
            lora_alpha=self.lora_alpha if self.lora_alpha is not None else 2.0 * self.lora_rank,
            epochs=self.epochs if self.epochs is not None or self.max_steps is not None else DEFAULT_EPOCHS,
        )


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


def _resume_checkpoint(resume: bool | str | None, output_dir: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    if not resume:
        if output_dir.is_dir() and get_last_checkpoint(str(output_dir)):
            raise located(output_dir, "holds checkpoints of an earlier run: pass --resume to continue it, or choose "
                                      "an empty output folder")
        return None
    if resume is True:
        last = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
        if last is None:
            raise located(output_dir, "--resume: no checkpoint-N folder to resume from")
        return last
    path = Path(resume)
    if not (path / "trainer_state.json").is_file():
        raise located(path, "--resume: not a Trainer checkpoint (no trainer_state.json)")
    return str(path)


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


def train(data_dir: str | Path, model_dir: str | Path, output_dir: str | Path, options: TrainOptions | None = None,
          *, callbacks: Sequence[Any] = (), progress: bool = True, **overrides: Any) -> Path:
    """Fine-tune the LLaVA-pose in ``model_dir`` on the built dataset ``data_dir``; write to ``output_dir``.

    Options are a :class:`TrainOptions` and/or its fields as keywords (``stage=1, max_steps=200, ...``).
    ``callbacks`` are extra ``TrainerCallback``s; ``progress`` shows the tqdm bar. Writes the model (stage 1) or
    the adapter (stage 2) with the processor to ``output_dir``, checkpoints to ``output_dir/checkpoint-N`` and a
    summary (options, data, what was trained, log history, final evaluation, wall time) to
    ``output_dir/training_summary.json``.

    Returns the folder of the model to evaluate: ``output_dir`` for stage 1, ``output_dir/merged`` with ``merge``,
    else ``output_dir`` (an adapter folder; load it with :func:`load_trained`).
    """
    import torch
    from transformers import TrainingArguments, set_seed
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from modeling.llava_pose.inference import load_model
    from modeling.llava_pose.trainer import EpochCallback, PoseProgressCallback, PoseTrainer
    from modeling.llava_pose.training_data import LlavaPoseCollator, load_training_data

    opts = dataclasses.replace(options or TrainOptions(), **overrides).resolved()
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise located(output_dir, "output exists and is not a folder")
    resume_from = _resume_checkpoint(opts.resume, output_dir)
    if opts.bf16:
        _check_bf16()
    start = time.perf_counter()
    model, processor = load_model(model_dir)
    if opts.bf16 and opts.stage == 2:
        model.to(torch.bfloat16)  # the frozen base in bf16; PEFT keeps the adapter weights in float32
    if opts.pose_loss_weight is not None:
        model.config.pose_loss_weight = float(opts.pose_loss_weight)
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
    args = TrainingArguments(
        output_dir=str(output_dir),
        seed=opts.seed, data_seed=opts.seed,
        max_steps=opts.max_steps if opts.max_steps is not None else -1,
        num_train_epochs=opts.epochs if opts.epochs is not None else DEFAULT_EPOCHS,
        per_device_train_batch_size=opts.batch_size, per_device_eval_batch_size=opts.batch_size,
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
    )
    trainer = PoseTrainer(
        model=model, args=args, train_dataset=data.train, eval_dataset=data.eval,
        data_collator=LlavaPoseCollator(processor, num_bins=model.config.num_bins), processing_class=processor,
        pose_token_id=model.config.pose_token_id, callbacks=[EpochCallback(data.train), *callbacks],
    )
    trainer.remove_callback(ProgressCallback if progress else PrinterCallback)
    if progress:
        trainer.add_callback(PoseProgressCallback(f"train (stage {opts.stage})"))

    result = trainer.train(resume_from_checkpoint=resume_from)
    final_eval = _final_evaluation(trainer) if evaluate else {}
    trainer.save_model(str(output_dir))  # the model (stage 1) or the adapter (stage 2), and the processor
    target = output_dir
    if opts.merge:
        target = output_dir / MERGED_DIR
        merged = trainer.model.merge_and_unload()
        merged.save_pretrained(target)
        processor.save_pretrained(target)
    seconds = time.perf_counter() - start
    summary = {
        "stage": opts.stage, "model": str(model_dir), "data": data.info, "output": str(target),
        "options": dataclasses.asdict(opts), "trained": _trained_description(opts.stage, trainer.model, adapted),
        "global_step": trainer.state.global_step, "train_loss": result.training_loss,
        "train_runtime_s": result.metrics.get("train_runtime"), "wall_time_s": round(seconds, 2),
        "eval": final_eval, "log_history": trainer.state.log_history,
    }
    if trainer.is_world_process_zero():
        (output_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    return target


def load_trained(folder: str | Path) -> tuple[Any, Any]:
    """``(model, processor)`` from what :func:`train` wrote: a full model folder (stage 1, ``merged``, or any
    LLaVA-pose), or a stage-2 adapter folder, loaded as a PEFT model on the base named in its adapter config."""
    from modeling.llava_pose.inference import load_model

    folder = Path(folder)
    adapter_config = folder / "adapter_config.json"
    if not adapter_config.is_file():
        return load_model(folder)
    from peft import PeftModel

    try:
        base_dir = json.loads(adapter_config.read_text(encoding="utf-8"))["base_model_name_or_path"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise located(adapter_config, f"not a PEFT adapter config ({err})") from None
    base, _ = load_model(base_dir)
    from modeling.processing_llava_pose import LlavaPoseProcessor

    model = PeftModel.from_pretrained(base, folder).eval()
    return model, LlavaPoseProcessor.from_pretrained(folder)


# ---- command line ----------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = __doc__.split("\n\n", 1)[1]
    defaults = TrainOptions()
    parser.add_argument("--data", required=True, type=Path, metavar="DATASET_DIR",
                        help="dataset folder written by `imagenet3d build` (configs pose, and captions if mixed)")
    parser.add_argument("--model", required=True, type=Path, metavar="BASE_DIR",
                        help="LLaVA-pose folder: `imagenet3d init-model` (tiny or --base), or a stage-1 output")
    parser.add_argument("--output", required=True, type=Path, metavar="DIR", help="folder for the result")
    parser.add_argument("--stage", type=int, choices=(1, 2), default=defaults.stage,
                        help="1: full fine-tuning of the built-in random base; 2: LoRA (default: 2)")
    parser.add_argument("--known-only", action="store_true", help="train on the 63 known categories (Task 2)")
    parser.add_argument("--lora-rank", type=int, default=defaults.lora_rank, metavar="R", help="LoRA rank (16)")
    parser.add_argument("--lora-alpha", type=float, metavar="A", help="LoRA alpha (default: 2 x rank)")
    parser.add_argument("--lora-dropout", type=float, default=defaults.lora_dropout, help="LoRA dropout (0.05)")
    parser.add_argument("--lora-targets", default=defaults.lora_targets, metavar="REGEX",
                        help=f"regex of the LoRA target modules (default: {DEFAULT_LORA_TARGETS})")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--max-steps", type=int, metavar="N", help="optimizer steps to train")
    length.add_argument("--epochs", type=float, metavar="E", help=f"epochs to train (default: {DEFAULT_EPOCHS:g})")
    parser.add_argument("--freeze-vision-tower", action="store_true",
                        help="stage 1 only: keep the vision tower frozen (one taken from a trained baseline with "
                             "`init-model --vision-tower`)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size, metavar="B",
                        help=f"examples per device and step (default: {defaults.batch_size})")
    parser.add_argument("--gradient-accumulation-steps", type=int, default=1, metavar="N",
                        help="batches per optimizer step (default: 1)")
    parser.add_argument("--learning-rate", type=float, metavar="LR",
                        help="peak AdamW learning rate (default: 1e-3 in stage 1, 2e-4 in stage 2)")
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay, help="AdamW weight decay (0)")
    parser.add_argument("--warmup-ratio", type=float, default=defaults.warmup_ratio,
                        help=f"fraction of steps of linear warm-up (default: {defaults.warmup_ratio})")
    parser.add_argument("--lr-scheduler", default=defaults.lr_scheduler,
                        help="learning-rate schedule, a Trainer scheduler name (default: cosine)")
    parser.add_argument("--bf16", action="store_true",
                        help="bfloat16 mixed precision (needs a GPU with bf16; an error elsewhere)")
    parser.add_argument("--eval-steps", type=int, default=defaults.eval_steps, metavar="N",
                        help=f"evaluate every N steps, 0: only at the end (default: {defaults.eval_steps})")
    parser.add_argument("--max-eval-samples", type=int, default=defaults.max_eval_samples, metavar="N",
                        help=f"validation rows evaluated, 0: all (default: {defaults.max_eval_samples})")
    parser.add_argument("--save-steps", type=int, default=defaults.save_steps, metavar="N",
                        help=f"checkpoint every N steps, 0: never (default: {defaults.save_steps})")
    parser.add_argument("--save-total-limit", type=int, metavar="N", help="keep the last N checkpoints (all)")
    parser.add_argument("--logging-steps", type=int, default=defaults.logging_steps, metavar="N",
                        help=f"log loss and accuracy every N steps (default: {defaults.logging_steps})")
    parser.add_argument("--resume", nargs="?", const=True, default=None, metavar="CHECKPOINT",
                        help="continue from the last checkpoint in --output, or from CHECKPOINT")
    parser.add_argument("--merge", action="store_true", help="stage 2: also save a merged model to OUTPUT/merged")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default: 0)")
    parser.add_argument("--caption-ratio", type=float, metavar="P",
                        help="fraction of training items that are captions (default: 0 in stage 1, 0.25 in stage 2)")
    parser.add_argument("--no-hflip", dest="hflip", action="store_false", help="no mirror augmentation")
    parser.add_argument("--no-augment", dest="augment", action="store_false",
                        help="no zoom / shift / colour jitter of the joint-task crops")
    parser.add_argument("--pose-loss-weight", type=float, metavar="W",
                        help="weight of the pose loss against the LM loss (default: the model's config)")
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes (default: 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    names = {f.name for f in dataclasses.fields(TrainOptions)}
    options = TrainOptions(**{k: v for k, v in vars(args).items() if k in names})
    target = train(args.data, args.model, args.output, options, progress=not args.no_progress)
    summary = json.loads((args.output / SUMMARY_FILE).read_text(encoding="utf-8"))
    shown = {k: round(v, 4) for k, v in summary["eval"].items() if isinstance(v, float)}
    print(f"stage {summary['stage']}: {summary['global_step']} steps in {summary['wall_time_s']} s, "
          f"train loss {summary['train_loss']:.4f}; evaluation: {shown or 'none'}")
    print(f"trained: {summary['trained']['what']} ({summary['trained']['trainable_parameters']:,} parameters)")
    print(f"model to evaluate: {target}")
    return 0


__all__ = ["DEFAULT_LORA_TARGETS", "MODULES_TO_SAVE", "TrainOptions", "apply_lora", "load_trained", "train"]

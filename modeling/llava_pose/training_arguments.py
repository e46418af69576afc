"""The options of LLaVA-pose training (:func:`modeling.llava_pose.training.train` and ``imagenet3d train``).

One dataclass; each field's help is in its metadata, and the command line derives its options from the fields (the
flag is the name with dashes). The names it shares with the baseline's ``BaselineTrainingArguments`` mean the same
thing there.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from modeling.utils.errors import ImageNet3DError
from modeling.utils.options import check_options, steps_or_epochs

DEFAULT_LORA_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj)"
"""LoRA targets: the language model's attention projections (never the vision tower's, which share the names)."""
STAGE_DEFAULTS: dict[int, dict[str, float]] = {
    1: {"learning_rate": 1e-3, "caption_ratio": 0.0},
    2: {"learning_rate": 2e-4, "caption_ratio": 0.25},
}
"""Per-stage values of the options left as None."""


@dataclass
class LlavaPoseTrainingArguments:
    """Every option of LLaVA-pose training; bad values raise ImageNet3DError naming the option.

    ``resolved()`` fills in the values that depend on the stage (learning rate, caption ratio) and the LoRA alpha.
    """

    stage: int = field(default=2, metadata={
        "choices": (1, 2),
        "help": "1: full fine-tuning of the built-in random base, standing in for pretraining; 2: LoRA on the "
                "language model, the path of a real checkpoint"})
    known_only: bool = field(default=False, metadata={
        "help": "train on the 63 known categories only (the open-vocabulary protocol of Task 2)"})
    lora_rank: int = field(default=16, metadata={"help": "stage 2: LoRA rank"})
    lora_alpha: float | None = field(default=None, metadata={
        "help": "stage 2: LoRA scaling alpha, the update being scaled by alpha / rank; when not given, twice "
                "the rank"})
    lora_dropout: float = field(default=0.05, metadata={"help": "stage 2: dropout on the input of the LoRA branch"})
    lora_targets: str = field(default=DEFAULT_LORA_TARGETS, metadata={
        "metavar": "REGEX",
        "help": "stage 2: regular expression over module names that selects the LoRA targets; it must not "
                "match the vision tower"})
    max_steps: int | None = field(default=None, metadata={
        "help": "optimizer steps to train, overriding epochs; when not given (or -1), train for epochs"})
    freeze_vision_tower: bool = field(default=False, metadata={
        "help": "stage 1 only: keep the vision tower frozen, as LLaVA keeps CLIP frozen (for a tower taken from a "
                "trained classification baseline with init-model --vision-tower)"})
    epochs: float = field(default=3.0, metadata={
        "help": "passes over the training mix (fractions allowed), unless max steps are given"})
    batch_size: int = field(default=8, metadata={"help": "examples per device and step"})
    eval_batch_size: int | None = field(default=None, metadata={
        "help": "validation examples per device and step of the evaluation; when not given, the batch size. The "
                "evaluation loss averages per-batch mean losses, so runs whose eval batches differ (N processes of "
                "batch b against one of batch N*b) group the rows differently: give both the same eval batch"})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "batches accumulated per optimizer step"})
    learning_rate: float | None = field(default=None, metadata={
        "help": "peak AdamW learning rate; when not given, 1e-3 in stage 1 and 2e-4 in stage 2"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    warmup_ratio: float = field(default=0.03, metadata={
        "help": "fraction of the steps spent in a linear warm-up, in [0, 1)"})
    lr_scheduler: str = field(default="cosine", metadata={
        "help": "learning-rate schedule after the warm-up, a Trainer scheduler name (cosine, linear, constant, ...)"})
    bf16: bool = field(default=False, metadata={
        "help": "bfloat16 mixed precision, and a bfloat16 frozen base in stage 2; needs a GPU that supports it"})
    eval_steps: int = field(default=100, metadata={"help": "evaluate every N steps (0: only at the end)"})
    save_steps: int = field(default=100, metadata={
        "help": "write a checkpoint every N steps (0: none, and then there is nothing to resume from)"})
    save_total_limit: int | None = field(default=None, metadata={
        "help": "keep at most this many checkpoints; when not given, all"})
    logging_steps: int = field(default=10, metadata={
        "help": "log the loss, and update the progress bar's loss and accuracy, every N steps"})
    max_eval_samples: int | None = field(default=256, metadata={
        "help": "evaluate on at most N validation rows, a seeded subset (0: all)"})
    caption_ratio: float | None = field(default=None, metadata={
        "help": "fraction of the training items that are captions, in [0, 1]; when not given, 0 in stage 1 and "
                "0.25 in stage 2"})
    hflip: bool = field(default=True, metadata={
        "help": "mirror the joint-task crops with probability 1/2, and their poses with them (the official "
                "augmentation)"})
    augment: bool = field(default=True, metadata={
        "help": "jitter the joint-task crops: zoom, shift up to 8 %, brightness and colour up to 20 %"})
    pose_loss_weight: float | None = field(default=None, metadata={
        "help": "weight of the pose loss against the LM loss; when not given, the model's config value"})
    lm_loss_reduction: str | None = field(default=None, metadata={
        "choices": ("token", "example"),
        "help": "how the LM loss averages: over every answer token of the batch (token) or per example first "
                "(example: a long caption weighs as much as a short joint answer); when not given, the model's "
                "config value"})
    merge: bool = field(default=False, metadata={
        "help": "stage 2: also save a merged full model to the merged folder inside the output folder"})
    resume: bool | str | None = field(default=None, metadata={
        "metavar": "CHECKPOINT",
        "help": "continue from the last checkpoint in the output folder (given alone, or True), or from this "
                "checkpoint folder"})
    seed: int = field(default=0, metadata={
        "help": "seed of everything random: the LoRA initialisation, the data order, the mirroring, the dropout"})
    num_workers: int = field(default=0, metadata={"help": "DataLoader worker processes (0: load in the main process)"})

    def __post_init__(self) -> None:
        self.max_steps = steps_or_epochs(self.max_steps)
        check_options(self, [
            ("stage", self.stage in STAGE_DEFAULTS, "must be 1 or 2"),
            ("max_steps", self.max_steps is None or self.max_steps > 0, "must be positive (or -1: use epochs)"),
            ("epochs", self.epochs > 0, "must be positive"),
            ("batch_size", self.batch_size > 0, "must be positive"),
            ("eval_batch_size", self.eval_batch_size is None or self.eval_batch_size > 0, "must be positive"),
            ("lora_rank", self.lora_rank > 0, "must be positive"),
            ("gradient_accumulation_steps", self.gradient_accumulation_steps > 0, "must be positive"),
            ("eval_steps", self.eval_steps >= 0, "must be 0 or more"),
            ("save_steps", self.save_steps >= 0, "must be 0 or more"),
            ("logging_steps", self.logging_steps > 0, "must be positive"),
            ("lora_dropout", 0 <= self.lora_dropout < 1, "must be in [0, 1)"),
            ("warmup_ratio", 0 <= self.warmup_ratio < 1, "must be in [0, 1)"),
            ("num_workers", self.num_workers >= 0, "must be 0 or more"),
            ("learning_rate", self.learning_rate is None or self.learning_rate > 0, "must be positive"),
            ("caption_ratio", self.caption_ratio is None or 0 <= self.caption_ratio <= 1, "must be in [0, 1]"),
            ("lm_loss_reduction", self.lm_loss_reduction in (None, "token", "example"), "must be token or example"),
        ])
        try:
            re.compile(self.lora_targets)
        except re.error as err:
            raise ImageNet3DError(f"--lora-targets: not a regular expression: {err}") from None
        if self.freeze_vision_tower and self.stage != 1:
            raise ImageNet3DError("--freeze-vision-tower: stage 1 only (stage 2 always keeps the tower frozen)")
        if self.merge and self.stage == 1:
            raise ImageNet3DError("--merge: stage 1 already saves a full model (there is no adapter to merge)")

    def resolved(self) -> LlavaPoseTrainingArguments:
        """A copy with the options left as None that have a computed value filled in: the stage's learning rate and
        caption ratio, and a LoRA alpha of twice the rank."""
        defaults = STAGE_DEFAULTS[self.stage]
        return dataclasses.replace(
            self,
            learning_rate=self.learning_rate if self.learning_rate is not None else defaults["learning_rate"],
            caption_ratio=self.caption_ratio if self.caption_ratio is not None else defaults["caption_ratio"],
            lora_alpha=self.lora_alpha if self.lora_alpha is not None else 2.0 * self.lora_rank,
        )


__all__ = ["DEFAULT_LORA_TARGETS", "STAGE_DEFAULTS", "LlavaPoseTrainingArguments"]

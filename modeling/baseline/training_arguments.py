"""The options of baseline training (:func:`modeling.baseline.training.train_baseline` and
``imagenet3d train-baseline``).

One dataclass; each field's help is in its metadata, and the command line derives its options from the fields (the
flag is the name with dashes). The names it shares with LLaVA-pose's ``LlavaPoseTrainingArguments`` mean the same
thing there, except ``hflip``: a probability here, a switch (probability 1/2) there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from modeling.utils.options import check_options, steps_or_epochs


@dataclass
class BaselineTrainingArguments:
    """Every option of baseline training; bad values raise ImageNet3DError naming the option."""

    size: str = field(default="small", metadata={
        "help": "size of a new random ResNet, when no backbone is given: tiny or small"})
    image_size: int | None = field(default=None, metadata={
        "help": "input side of a new model; when not given, the size's own (96 for small) or the backbone's"})
    known_only: bool = field(default=False, metadata={
        "help": "train on the 63 known categories only (the open_vocab train split, the protocol of Task 2); "
                "otherwise on every category of the pose train split"})
    epochs: float = field(default=30.0, metadata={
        "help": "passes over the training rows (fractions allowed), unless max steps are given"})
    max_steps: int | None = field(default=None, metadata={
        "help": "optimizer steps to train, overriding epochs; when not given (or -1), train for epochs"})
    learning_rate: float = field(default=2e-3, metadata={
        "help": "peak AdamW learning rate, reached after the warm-up and then decayed to 0 on a cosine"})
    batch_size: int = field(default=64, metadata={"help": "images per step"})
    weight_decay: float = field(default=0.05, metadata={"help": "AdamW weight decay"})
    warmup_ratio: float = field(default=0.05, metadata={
        "help": "fraction of the steps spent in a linear warm-up, in [0, 1)"})
    hflip: float = field(default=0.5, metadata={
        "help": "probability of mirroring each training image, its pose mirrored with it (0: never)"})
    augment: bool = field(default=True, metadata={
        "help": "jitter each training image: zoom, shift up to 8 %, brightness and colour up to 20 %"})
    whole_image_ratio: float = field(default=0.0, metadata={
        "metavar": "FRACTION",
        "help": "fraction of the training items that are whole images of the image config (the image's category, no "
                "pose), resized to the crops' size: the backbone then also knows whole images, which LLaVA-pose's "
                "describe task shows its vision tower (0: crops only; needs the image config)"})
    seed: int = field(default=0, metadata={
        "help": "seed of everything random: the initialisation of a new model, the batch order, the flips"})
    logging_steps: int = field(default=10, metadata={"help": "log the loss every N steps"})
    save_steps: int = field(default=0, metadata={
        "help": "write a checkpoint to OUTPUT/checkpoint-N every N steps (0: none, and then there is nothing to "
                "resume from)"})
    save_total_limit: int | None = field(default=None, metadata={
        "help": "keep at most this many checkpoints; when not given, all"})
    resume: bool | str | None = field(default=None, metadata={
        "metavar": "CHECKPOINT",
        "help": "continue from the last checkpoint in the output folder (given alone, or True), or from this "
                "checkpoint folder; also with another number of processes"})

    def __post_init__(self) -> None:
        self.max_steps = steps_or_epochs(self.max_steps)
        check_options(self, [
            ("max_steps", self.max_steps is None or self.max_steps > 0, "must be positive (or -1: use epochs)"),
            ("epochs", self.epochs > 0, "must be positive"),
            ("learning_rate", self.learning_rate > 0, "must be positive"),
            ("batch_size", self.batch_size > 0, "must be positive"),
            ("warmup_ratio", 0 <= self.warmup_ratio < 1, "must be in [0, 1)"),
            ("hflip", not isinstance(self.hflip, bool) and 0 <= self.hflip <= 1, "must be a probability in [0, 1]"),
            ("image_size", self.image_size is None or self.image_size > 0, "must be positive"),
            ("whole_image_ratio", 0 <= self.whole_image_ratio < 1, "must be in [0, 1)"),
            ("logging_steps", self.logging_steps > 0, "must be positive"),
            ("save_steps", self.save_steps >= 0, "must be 0 or more"),
            ("save_total_limit", self.save_total_limit is None or self.save_total_limit > 0, "must be positive"),
        ])


__all__ = ["BaselineTrainingArguments"]

"""The two trainers' options: one dataclass each, every field with a help, the CLI derived from the fields, the
same names for the same things, the old flags and defaults kept."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from modeling import cli
from modeling.baseline.training_arguments import BaselineTrainingArguments
from modeling.cli.options import dataclass_from_args, flag
from modeling.cli.train_baseline import ALIASES
from modeling.llava_pose.training_arguments import DEFAULT_LORA_TARGETS, LlavaPoseTrainingArguments
from modeling.utils.errors import ImageNet3DError

COMMANDS = {"train": (LlavaPoseTrainingArguments, ["--data", "d", "--model", "m", "--output", "o"]),
            "train-baseline": (BaselineTrainingArguments, ["--data", "d", "--output", "o"])}
SHARED = {"known_only", "epochs", "max_steps", "learning_rate", "batch_size", "weight_decay", "warmup_ratio",
          "hflip", "augment", "seed", "logging_steps", "save_steps", "save_total_limit", "resume"}
"""Options both trainers have, under the same name."""


def parse(command: str, *options: str):
    argv = [command, *COMMANDS[command][1], *options]
    return cli.build_parser(argv).parse_args(argv)


def options_of(command: str, *options: str):
    return dataclass_from_args(COMMANDS[command][0], parse(command, *options))


def help_of(command: str, capsys) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("cls", [LlavaPoseTrainingArguments, BaselineTrainingArguments])
def test_every_field_has_a_plain_help(cls):
    for field in dataclasses.fields(cls):
        text = field.metadata.get("help", "")
        assert isinstance(text, str) and len(text.split()) >= 2, field.name
        for markup in (":class:", ":func:", "``", "issue", "note"):
            assert markup not in text.lower(), (field.name, markup)


@pytest.mark.parametrize("command", COMMANDS)
def test_the_cli_exposes_every_field(command, capsys):
    cls = COMMANDS[command][0]
    text = help_of(command, capsys)
    namespace = vars(parse(command))
    for field in dataclasses.fields(cls):
        switch = "--no-" + flag(field.name)[2:] if field.default is True else flag(field.name)
        assert switch in text, switch
        assert namespace[field.name] == field.default, field.name
    assert options_of(command) == cls()  # no option given: the dataclass's defaults


def test_shared_options_have_one_name_and_type():
    hints = [typing.get_type_hints(cls) for cls in (LlavaPoseTrainingArguments, BaselineTrainingArguments)]
    assert SHARED <= set(hints[0]) & set(hints[1])
    for name in SHARED - {"learning_rate", "hflip"}:
        assert hints[0][name] == hints[1][name], name
    # LLaVA-pose's learning rate may be left to the stage; the baseline's hflip is a probability, not a switch.
    assert hints[0]["learning_rate"] == float | None and hints[1]["learning_rate"] is float
    assert hints[0]["hflip"] is bool and hints[1]["hflip"] is float


def test_defaults_are_unchanged():
    assert dataclasses.asdict(LlavaPoseTrainingArguments()) == {
        "stage": 2, "known_only": False, "lora_rank": 16, "lora_alpha": None, "lora_dropout": 0.05,
        "lora_targets": DEFAULT_LORA_TARGETS, "max_steps": None, "freeze_vision_tower": False, "epochs": 3.0,
        "batch_size": 8, "eval_batch_size": None, "gradient_accumulation_steps": 1, "learning_rate": None,
        "weight_decay": 0.0,
        "warmup_ratio": 0.03, "lr_scheduler": "cosine", "bf16": False, "eval_steps": 100, "save_steps": 100,
        "save_total_limit": None, "logging_steps": 10, "max_eval_samples": 256, "caption_ratio": None,
        "hflip": True, "augment": True, "pose_loss_weight": None, "lm_loss_reduction": None, "merge": False,
        "resume": None, "seed": 0, "num_workers": 0}
    resolved = {stage: LlavaPoseTrainingArguments(stage=stage).resolved() for stage in (1, 2)}
    assert (resolved[1].learning_rate, resolved[1].caption_ratio) == (1e-3, 0.0)
    assert (resolved[2].learning_rate, resolved[2].caption_ratio, resolved[2].lora_alpha) == (2e-4, 0.25, 32.0)
    assert dataclasses.asdict(BaselineTrainingArguments()) == {
        "size": "small", "image_size": None, "known_only": False, "epochs": 30.0, "max_steps": None,
        "learning_rate": 2e-3, "batch_size": 64, "weight_decay": 0.05, "warmup_ratio": 0.05, "hflip": 0.5,
        "augment": True, "whole_image_ratio": 0.0, "seed": 0, "logging_steps": 10, "save_steps": 0,
        "save_total_limit": None, "resume": None}


def test_every_old_train_flag_keeps_its_meaning():
    args = vars(parse("train", "--stage", "1", "--known-only", "--lora-rank", "4", "--lora-alpha", "8",
                      "--lora-dropout", "0.1", "--lora-targets", "x", "--max-steps", "5", "--freeze-vision-tower",
                      "--batch-size", "2", "--gradient-accumulation-steps", "3", "--learning-rate", "0.01",
                      "--weight-decay", "0.1", "--warmup-ratio", "0.2", "--lr-scheduler", "linear", "--bf16",
                      "--eval-steps", "7", "--max-eval-samples", "9", "--save-steps", "11", "--save-total-limit",
                      "2", "--logging-steps", "3", "--resume", "--merge", "--seed", "5", "--caption-ratio", "0.4",
                      "--no-hflip", "--no-augment", "--pose-loss-weight", "2", "--num-workers", "1",
                      "--no-progress"))
    assert args | {"_run": None} == {
        "command": "train", "_run": None, "data": args["data"], "model": args["model"], "output": args["output"],
        "stage": 1, "known_only": True, "lora_rank": 4, "lora_alpha": 8.0, "lora_dropout": 0.1, "lora_targets": "x",
        "max_steps": 5, "freeze_vision_tower": True, "epochs": 3.0, "batch_size": 2, "gradient_accumulation_steps": 3,
        "learning_rate": 0.01, "weight_decay": 0.1, "warmup_ratio": 0.2, "lr_scheduler": "linear", "bf16": True,
        "eval_steps": 7, "max_eval_samples": 9, "save_steps": 11, "save_total_limit": 2, "logging_steps": 3,
        "resume": True, "merge": True, "seed": 5, "caption_ratio": 0.4, "hflip": False, "augment": False,
        "pose_loss_weight": 2.0, "lm_loss_reduction": None, "num_workers": 1, "no_progress": True,
        "eval_batch_size": None}
    assert options_of("train", "--epochs", "1.5", "--resume", "run/checkpoint-4").epochs == 1.5
    assert options_of("train", "--eval-batch-size", "4").eval_batch_size == 4
    with pytest.raises(ImageNet3DError, match="eval_batch_size|eval-batch-size"):
        LlavaPoseTrainingArguments(eval_batch_size=0)
    assert options_of("train", "--lm-loss-reduction", "example").lm_loss_reduction == "example"
    assert vars(parse("train", "--resume", "run/checkpoint-4"))["resume"] == "run/checkpoint-4"


def test_every_old_train_baseline_flag_keeps_its_meaning():
    args = parse("train-baseline", "--backbone", "b", "--size", "tiny", "--image-size", "32", "--known-only",
                 "--epochs", "2", "--max-steps", "5", "--lr", "0.01", "--batch-size", "4", "--weight-decay", "0.1",
                 "--hflip", "0.2", "--no-augment", "--seed", "3", "--no-progress")
    assert (args.backbone, args.no_progress) == ("b", True)
    assert dataclass_from_args(BaselineTrainingArguments, args) == BaselineTrainingArguments(
        size="tiny", image_size=32, known_only=True, epochs=2.0, max_steps=5, learning_rate=0.01, batch_size=4,
        weight_decay=0.1, hflip=0.2, augment=False, seed=3)
    # -1, the old default of --max-steps (and of transformers), still means "train for the epochs".
    assert options_of("train-baseline", "--max-steps", "-1").max_steps is None
    assert LlavaPoseTrainingArguments(max_steps=-1).max_steps is None


def test_old_spellings_are_aliases(capsys):
    assert ALIASES == {"learning_rate": ["--lr"]}
    assert options_of("train-baseline", "--lr", "0.01") == options_of("train-baseline", "--learning-rate", "0.01")
    assert "--lr LEARNING_RATE" in help_of("train-baseline", capsys)

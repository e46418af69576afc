"""modeling/cli/options.py: command-line options derived from a dataclass's fields."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pytest

from modeling.cli.options import add_dataclass_arguments, dataclass_from_args, flag


@dataclass
class Example:
    """A field of every kind the helper handles."""

    stage: int = field(default=2, metadata={"choices": (1, 2), "help": "the stage"})
    learning_rate: float | None = field(default=None, metadata={"help": "peak rate"})
    ratio: float = field(default=0.5, metadata={"help": "a share, 50 % by default"})
    known_only: bool = field(default=False, metadata={"help": "known categories only"})
    augment: bool = field(default=True, metadata={"help": "jitter the images"})
    resume: bool | str | None = field(default=None, metadata={"metavar": "CHECKPOINT", "help": "continue"})
    name: str = field(default="cosine", metadata={"help": "a name"})


def parser_for(cls: type = Example, **aliases: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="example")
    add_dataclass_arguments(parser, cls, aliases=aliases or None)
    return parser


def parse(argv: list[str], **aliases: list[str]) -> Example:
    return dataclass_from_args(Example, parser_for(**aliases).parse_args(argv))


def test_defaults_come_from_the_fields():
    assert parse([]) == Example()


def test_every_kind_of_field_parses():
    got = parse(["--stage", "1", "--learning-rate", "0.01", "--ratio", "0.25", "--known-only", "--no-augment",
                 "--resume", "--name", "linear"])
    assert got == Example(stage=1, learning_rate=0.01, ratio=0.25, known_only=True, augment=False, resume=True,
                          name="linear")
    assert parse(["--resume", "run/checkpoint-3"]).resume == "run/checkpoint-3"


def test_choices_and_types_are_enforced():
    with pytest.raises(SystemExit):
        parse(["--stage", "3"])
    with pytest.raises(SystemExit):
        parse(["--ratio", "half"])
    with pytest.raises(SystemExit):
        parse(["--augment"])  # a True default is turned off with --no-augment only


def test_aliases_set_the_same_field():
    assert parse(["--lr", "0.01"], learning_rate=["--lr"]) == parse(["--learning-rate", "0.01"])
    with pytest.raises(ValueError, match="does not have"):
        parser_for(lr=["--lr"])


def test_help_shows_every_field_with_its_help_and_default(capsys):
    with pytest.raises(SystemExit):
        parser_for().parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--stage {1,2}", "--learning-rate", "--known-only", "--no-augment", "--resume [CHECKPOINT]"):
        assert option in text
    assert "a share, 50 % by default (default: 0.5)" in text  # a % in a help text is not an argparse format
    assert "turn off: jitter the images" in text and "(default: cosine)" in text


def test_a_field_without_help_or_default_is_refused():
    @dataclass
    class NoHelp:
        steps: int = 1

    @dataclass
    class NoDefault:
        steps: int = field(metadata={"help": "steps"})

    with pytest.raises(ValueError, match="help"):
        parser_for(NoHelp)
    with pytest.raises(ValueError, match="default"):
        parser_for(NoDefault)


def test_flag_spelling():
    assert flag("learning_rate") == "--learning-rate"

"""Command-line options derived from a dataclass: one option per field, its help from ``metadata["help"]``.

The fields follow the convention of ``transformers.HfArgumentParser`` (``field(default=..., metadata={"help": ...})``;
``choices`` and ``metavar`` in the metadata go to argparse as they are; an int's metavar is otherwise N), but the
options are added to a parser that already exists, such as the subparser of an ``imagenet3d`` command, which
HfArgumentParser cannot do through its public API. The flag is the field's name with dashes. A ``bool`` field
defaulting to False is a switch (``--known-only``), one defaulting to True is turned off with ``--no-<name>``
(``--no-augment``); a field that is a bool or a value (``resume: bool | str | None``) takes an optional value
(``--resume`` alone gives True); a field whose default is None takes a value of its other type.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
PASSED_THROUGH = ("choices", "metavar")
"""Metadata keys handed to ``add_argument`` unchanged (besides ``help``)."""


def flag(name: str) -> str:
    """The command-line flag of a field: ``learning_rate`` → ``--learning-rate``."""
    return "--" + name.replace("_", "-")


def _value_types(hint: Any) -> tuple[type, ...]:
    """The types a field's value may have, None left out: ``float | None`` → ``(float,)``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return tuple(t for t in typing.get_args(hint) if t is not type(None))
    return (hint,)


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type,
                            aliases: Mapping[str, Sequence[str]] | None = None) -> None:
    """Add one option per init field of the dataclass ``cls`` to ``parser``, in the order of the fields.

    ``aliases`` maps a field's name to more flags that set it (old spellings kept working, e.g.
    ``{"learning_rate": ["--lr"]}``; for a ``--no-<name>`` switch, the aliases of that switch). Every field needs a
    non-empty ``metadata["help"]``; the default, when it is not None, is appended to the help.
    """
    aliases = dict(aliases or {})
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    unknown = set(aliases) - {f.name for f in fields}
    if unknown:
        raise ValueError(f"aliases for fields {cls.__name__} does not have: {sorted(unknown)}")
    for field in fields:
        help_text = str(field.metadata.get("help", "")).strip()
        if not help_text:
            raise ValueError(f"{cls.__name__}.{field.name}: no metadata['help']")
        if field.default is dataclasses.MISSING:
            raise ValueError(f"{cls.__name__}.{field.name}: a field without a default cannot be an option")
        help_text = help_text.replace("%", "%%")  # argparse formats help strings with %
        kwargs = {key: field.metadata[key] for key in PASSED_THROUGH if key in field.metadata}
        kinds = _value_types(hints[field.name])
        names = list(aliases.get(field.name, ()))
        if kinds == (bool,) and field.default is True:
            parser.add_argument("--no-" + flag(field.name)[2:], *names, dest=field.name, action="store_false",
                                default=True, help=f"turn off: {help_text}", **kwargs)
        elif kinds == (bool,):
            parser.add_argument(flag(field.name), *names, dest=field.name, action="store_true",
                                default=bool(field.default), help=help_text, **kwargs)
        else:
            others = [t for t in kinds if t is not bool]
            if len(others) != 1:
                raise ValueError(f"{cls.__name__}.{field.name}: cannot make an option of {hints[field.name]}")
            if bool in kinds:  # `--resume` alone is True, `--resume VALUE` a value
                kwargs.update(nargs="?", const=True)
            if field.default is not None:
                help_text += f" (default: {_shown(field.default)})"
            if others[0] is int and "choices" not in kwargs:
                kwargs.setdefault("metavar", "N")
            parser.add_argument(flag(field.name), *names, dest=field.name, type=others[0], default=field.default,
                                help=help_text, **kwargs)


def dataclass_from_args(cls: type[T], args: argparse.Namespace) -> T:
    """An instance of the dataclass ``cls`` from the parsed options that :func:`add_dataclass_arguments` added."""
    return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if f.init})  # type: ignore[call-arg]


def torch_device(text: str) -> str:
    """``--device``: a torch device this machine has (``cpu``, ``cuda``, ``cuda:1``, ``mps``), checked before any
    work, so that a typo or a missing GPU is a usage error rather than a traceback from inside torch."""
    import torch

    try:
        device = torch.device(text)
    except RuntimeError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a torch device ({str(err).splitlines()[0]})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: this torch has no usable CUDA GPU (use cpu)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text!r}: MPS is not available on this machine")
    return text

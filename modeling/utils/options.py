"""Checks shared by the trainers' argument dataclasses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from modeling.utils.errors import ImageNet3DError


def check_options(options: Any, rules: Iterable[tuple[str, bool, str]]) -> None:
    """Raise ImageNet3DError for the first ``(field, ok, requirement)`` rule that is not ok.

    The message names the option as the command line spells it: ``--epochs: must be positive, got 0``.
    """
    for name, ok, requirement in rules:
        if not ok:
            raise ImageNet3DError(f"--{name.replace('_', '-')}: {requirement}, got {getattr(options, name)!r}")


def steps_or_epochs(max_steps: int | None) -> int | None:
    """``max_steps`` with transformers' ``-1`` (train for the epochs) read as None, the trainers' spelling of it."""
    return None if max_steps == -1 else max_steps

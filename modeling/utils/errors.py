"""Errors the project raises for bad input: they name the file and the field, and the CLI prints
them as one line (no traceback)."""

from __future__ import annotations


class ImageNet3DError(ValueError):
    """Bad input to a command or a function: a malformed file, a missing field, an invalid option."""


def located(path: object, message: str, line: int | None = None) -> ImageNet3DError:
    """An error that starts with ``path`` (and ``:line`` when given), as compilers print them."""
    where = f"{path}:{line}" if line is not None else f"{path}"
    return ImageNet3DError(f"{where}: {message}")

"""Checking that a folder holds a model of ours before loading it: one clear error instead of a deep traceback."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

from modeling.utils.errors import located
from modeling.utils.textfile import read_text


def model_type_of(model_dir: str | Path, accepted: Collection[str], what: str, hint: str = "") -> str:
    """The ``model_type`` in ``model_dir/config.json``, which must be one of ``accepted``.

    A missing folder, a folder without config.json, an unreadable config or another model type raises
    ImageNet3DError naming the folder or the file; ``what`` names the expected model in words ("a LLaVA-pose
    model") and ``hint`` (e.g. how to create the right folder) ends the message.
    """
    model_dir = Path(model_dir)
    config_file = model_dir / "config.json"
    suffix = f" ({hint})" if hint else ""
    if not model_dir.is_dir():
        raise located(model_dir, "model folder not found")
    if not config_file.is_file():
        raise located(model_dir, f"not a model folder: no config.json{suffix}")
    try:
        # transformers reads config.json after us as plain UTF-8: no byte-order mark.
        model_type = json.loads(read_text(config_file, byte_order_mark=False)).get("model_type")
    except (json.JSONDecodeError, AttributeError) as err:
        raise located(config_file, f"not a valid JSON config: {err}") from None
    if model_type not in accepted:
        expected = " or ".join(repr(t) for t in accepted)
        raise located(config_file, f"model_type is {model_type!r}: not {what} ({expected}){suffix}")
    return model_type

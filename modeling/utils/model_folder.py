"""Checking that a folder holds a model of ours before loading it: one clear error instead of a deep traceback."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

from modeling.utils.errors import ImageNet3DError, located
from modeling.utils.textfile import read_text

MERGED_DIR = "merged"
"""Where ``imagenet3d train --stage 2 --merge`` writes the merged model, inside its output folder."""


def config_model_type(config_file: Path) -> str | None:
    """The ``model_type`` of a model's ``config.json`` (None when it has none).

    Raises ImageNet3DError naming the file when it is not a JSON object, not UTF-8, or starts with a byte-order
    mark (transformers reads config.json after us as plain UTF-8).
    """
    try:
        return json.loads(read_text(config_file, byte_order_mark=False)).get("model_type")
    except (json.JSONDecodeError, AttributeError) as err:
        raise located(config_file, f"not a valid JSON config: {err}") from None


def model_type_of(model_dir: str | Path, accepted: Collection[str], what: str, hint: str = "") -> str:
    """The ``model_type`` in ``model_dir/config.json``, which must be one of ``accepted``.

    A missing folder, a folder without config.json, an unreadable config or another model type raises
    ImageNet3DError naming the folder or the file; ``what`` names the expected model in words ("a LLaVA-pose
    model") and ``hint`` (e.g. how to create the right folder) ends the message.
    """
    model_dir = Path(model_dir)
    config_file = model_dir / "config.json"
    suffix = f" ({hint})" if hint else ""
    if not model_dir.exists():
        raise located(model_dir, "model folder not found")
    if not model_dir.is_dir():
        raise located(model_dir, "is a file, not a model folder")
    if not config_file.is_file():
        if (model_dir / "adapter_config.json").is_file():
            merged = model_dir / MERGED_DIR
            where = f"the merged model is in {merged}" if (merged / "config.json").is_file() else \
                "train with --merge for a merged model"
            raise located(model_dir, f"a LoRA adapter (imagenet3d train --stage 2), not a full model: {where}{suffix}")
        raise located(model_dir, f"not a model folder: no config.json{_what_it_holds(model_dir) or suffix}")
    model_type = config_model_type(config_file)
    if model_type not in accepted:
        expected = " or ".join(repr(t) for t in accepted)
        raise located(config_file, f"model_type is {model_type!r}: not {what} ({expected}){suffix}")
    return model_type


def _what_it_holds(folder: Path) -> str:
    """Words for a folder that a user gave as a model folder by mistake: the model folders inside it (``demo_output/
    models``), or what our commands wrote there (a built dataset, a release, an evaluation); "" otherwise."""
    inside = sorted(p.name for p in folder.iterdir() if p.is_dir() and any(
        (p / name).is_file() for name in ("config.json", "adapter_config.json")))
    if inside:
        shown = ", ".join(inside[:6]) + (", ..." if len(inside) > 6 else "")
        return f"; it holds model folders: {shown}: give one of them"
    held = [f"{what} ({marker})" for marker, what in FOLDER_MARKERS.items() if (folder / marker).is_file()]
    return f"; it holds {held[0]}" if held else ""


# Marker files of the folders our commands write, to tell them apart before one is written into another.
FOLDER_MARKERS = {"build_report.json": "a built dataset", "synthetic.json": "a synthetic release",
                  "adapter_config.json": "a LoRA adapter", "metrics.json": "an evaluation's output"}


def check_output_folder(out_dir: str | Path, accepted: Collection[str] = (), keeps: str = "") -> None:
    """Refuse to write into ``out_dir`` when it holds something else than what the command writes there.

    A missing or empty folder is fine, and so is one holding a model whose ``model_type`` is in ``accepted``
    (retraining, resuming) or the marker file named by ``keeps`` (a rerun of the same command). A file, a model of
    another type, a built dataset, a release, an adapter or an evaluation's output raises ImageNet3DError naming the
    folder: writing would mix files or overwrite another model's weights.
    """
    out_dir = Path(out_dir)
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise located(out_dir, "output exists and is not a folder")
    if keeps and (out_dir / keeps).is_file():
        return
    config_file = out_dir / "config.json"
    if config_file.is_file():
        try:
            model_type = config_model_type(config_file)
        except ImageNet3DError:
            model_type = None
        if model_type in accepted:
            return
        raise located(out_dir, f"output folder holds another model (model_type {model_type!r}): choose a new folder")
    for marker, what in FOLDER_MARKERS.items():
        if marker != keeps and (out_dir / marker).is_file():
            raise located(out_dir, f"output folder holds {what} ({marker}): choose a new folder")

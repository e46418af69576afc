"""Open one split of a dataset folder written by ``imagenet3d build``, with clear errors for anything else.

Training and evaluation read the built dataset through :func:`load_split`: it checks that the folder is a built
dataset (a ``README.md`` whose YAML front matter lists ``configs:``), that it holds the config and split asked
for, and that the category labels are the official 189 in the official order (the class heads' index), before
handing over to ``datasets.load_dataset``. :func:`load_pose_split` is the one definition of "known categories
only" on the rows (Task 2's protocol) for every trainer and the evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dataset_card import CATEGORIES, KNOWN_CATEGORIES
from modeling.utils.errors import ImageNet3DError, located
from modeling.utils.textfile import read_text


def built_configs(data_dir: str | Path) -> dict[str, list[str]]:
    """Config name -> its split names, from the dataset card of a built dataset folder."""
    import yaml

    data_dir = Path(data_dir)
    card = data_dir / "README.md"
    if not data_dir.is_dir():
        raise located(data_dir, "dataset folder not found (build one with `imagenet3d build RELEASE OUT`)")
    if not card.is_file():
        raise located(data_dir, "not a built ImageNet3D dataset: no README.md (build one with `imagenet3d build`)")
    text = read_text(card, byte_order_mark=False)  # datasets reads the card after us, as plain UTF-8
    parts = text.split("---", 2)
    if not text.startswith("---") or len(parts) < 3:
        raise located(card, "not a built ImageNet3D dataset: the card has no YAML front matter")
    try:
        meta = yaml.safe_load(parts[1]) or {}
    except yaml.YAMLError as err:
        raise located(card, f"malformed YAML front matter: {err}") from None
    configs = meta.get("configs") if isinstance(meta, dict) else None
    if not isinstance(configs, list) or not configs:
        raise located(card, "not a built ImageNet3D dataset: the YAML front matter has no `configs:`")
    out: dict[str, list[str]] = {}
    for entry in configs:
        if isinstance(entry, dict) and "config_name" in entry:
            files = entry.get("data_files") or []
            out[str(entry["config_name"])] = [str(f.get("split")) for f in files if isinstance(f, dict)]
    return out


def missing_config_error(data_dir: str | Path, wanted: str, needed_by: str | None = None,
                         alternatives: tuple[str, ...] = (), otherwise: str | None = None) -> ImageNet3DError:
    """The error for a built dataset without the `wanted` config (or any of `alternatives`), naming its card, what
    needs it, and a rebuild command that keeps the configs the folder has: a build replaces the whole folder, so
    `--configs wanted` alone would drop the others; `otherwise`: another way out, said last ("pass the release")."""
    configs = list(built_configs(data_dir))
    names = " nor a ".join(repr(name) for name in (wanted, *alternatives))
    what = f"neither a {names} config" if alternatives else f"no {wanted!r} config"
    keep = " ".join(dict.fromkeys([*configs, wanted]))
    reason = f", which {needed_by} needs" if needed_by else ""
    return located(Path(data_dir) / "README.md",
                   f"the dataset has {what}{reason} (it has {', '.join(configs) or 'none'}); rebuild it with "
                   f"`imagenet3d build RELEASE {data_dir} --configs {keep}` (a build replaces the whole folder: "
                   "list every config you need)" + (f", or {otherwise}" if otherwise else ""))


def load_split(data_dir: str | Path, config: str, split: str, needed_by: str | None = None,
               otherwise: str | None = None):
    """The `datasets.Dataset` of `config`/`split` in a built dataset folder (offline, local). Raises
    ImageNet3DError naming the dataset card when the config or split is missing (`needed_by`, `otherwise`: what
    needs the config and another way out, for the message: `missing_config_error`), or when the category column is
    not the official ClassLabel."""
    from datasets import load_dataset

    configs = built_configs(data_dir)
    card = Path(data_dir) / "README.md"
    if config not in configs:
        raise missing_config_error(data_dir, config, needed_by, otherwise=otherwise)
    if split not in configs[config]:
        raise located(card, f"config {config!r} has no split {split!r} (it has {', '.join(configs[config])})")
    dataset = load_dataset(str(data_dir), config, split=split)
    names = getattr(dataset.features.get("category"), "names", None)
    if names != list(CATEGORIES):
        raise located(card, f"config {config!r}: the `category` column is not the official 189-category ClassLabel")
    if len(dataset) == 0:
        raise ImageNet3DError(f"{data_dir}: {config}/{split} is empty")
    return dataset


CATEGORY_GROUPS = ("all", "known", "novel")
"""Which categories :func:`load_pose_split` keeps: every one, the 63 known ones, or the other (novel) ones."""


def select_category_group(dataset: Any, categories: str = "all") -> Any:
    """The rows of a `datasets.Dataset` with a `category` column (the official index) whose category is in a group
    of `CATEGORY_GROUPS` ("known": the 63 of `dataset_card.KNOWN_CATEGORIES`, "novel": the others), in order; may be
    empty. Raises ImageNet3DError for another group."""
    if categories not in CATEGORY_GROUPS:
        raise ImageNet3DError(f"categories: expected one of {', '.join(CATEGORY_GROUPS)}, got {categories!r}")
    if categories == "all":
        return dataset
    known_ids = {CATEGORIES.index(name) for name in KNOWN_CATEGORIES}
    want_known = categories == "known"
    return dataset.select([i for i, c in enumerate(dataset["category"]) if (c in known_ids) == want_known])


def load_pose_split(data_dir: str | Path, split: str, categories: str = "all", allow_empty: bool = False):
    """The `pose` config's `split` (crops, boxes, poses), restricted to a group of `CATEGORY_GROUPS`.

    "known" keeps the rows of the 63 known categories (`dataset_card.KNOWN_CATEGORIES`), "novel" the others, in the
    split's order. These are the rows of the `open_vocab` config (its `train`, `validation_known` and
    `validation_novel` splits read the `-known` / `-novel` shards of `pose` in the same order), with every `pose`
    column: the box too, which `open_vocab` lacks. A group without any row raises ImageNet3DError unless
    `allow_empty`.
    """
    if categories not in CATEGORY_GROUPS:
        raise ImageNet3DError(f"categories: expected one of {', '.join(CATEGORY_GROUPS)}, got {categories!r}")
    dataset = select_category_group(load_split(data_dir, "pose", split), categories)
    if len(dataset) == 0 and not allow_empty:
        group = "63 known" if categories == "known" else "novel"
        raise ImageNet3DError(f"{data_dir}: pose/{split} has no object of the {group} categories")
    return dataset


DECODE_ONCE_LIMIT = 2 << 30
"""Largest set of crops (bytes of RGB pixels) that the trainers decode once and keep in memory instead of decoding a
JPEG per item per epoch."""


def decode_crops_once(rows: Any) -> np.ndarray | None:
    """The ``image`` crops of a ``datasets.Dataset`` decoded once, as one (N, H, W, 3) uint8 array, when they share
    one size and fit in :data:`DECODE_ONCE_LIMIT` (whole columns read at once); None otherwise (a plain sequence of
    rows, no ``image`` column, mixed sizes, too large: the caller then decodes each item when it reads it)."""
    if rows is None or not len(rows) or not hasattr(rows, "column_names") or "image" not in rows.column_names:
        return None
    first = rows[0]["image"]
    if len(rows) * first.width * first.height * 3 > DECODE_ONCE_LIMIT:
        return None
    images = [np.asarray(image.convert("RGB")) for image in rows["image"]]
    if len({image.shape for image in images}) != 1:
        return None
    return np.stack(images)


__all__ = ["CATEGORY_GROUPS", "DECODE_ONCE_LIMIT", "built_configs", "decode_crops_once", "load_pose_split",
           "load_split", "missing_config_error", "select_category_group"]

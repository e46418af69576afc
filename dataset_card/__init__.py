"""The ImageNet3D taxonomy, read from the data files beside this module.

* ``categories.txt``: the 189 category folder names of the v1 release (spec §3).
* ``meta_classes.json``: meta-class full name → categories. The official mapping
  (``imagenet3d_metaclasses_189.json``) is not public; this one is OUR RECONSTRUCTION with the
  per-meta-class counts of the paper's figure (Elec 34, Furn 15, Hou 52, Mus 6, Spo 12, Veh 38,
  Work 32). Numbers per meta-class are therefore comparable only to each other, not to the paper's.
* ``known_categories.txt``: the 63 known categories of the open-vocabulary split
  (``know_categories.txt`` of the official baselines); the other 126 are novel.

This module is the one home of the taxonomy: ``imagenet3d`` and ``modeling`` re-export it.
"""

from __future__ import annotations

import json
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _read_names(filename: str) -> tuple[str, ...]:
    lines = (_HERE / filename).read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip())


CATEGORIES: tuple[str, ...] = tuple(sorted(_read_names("categories.txt")))
"""The 189 categories, sorted (the official class index is the position in this tuple)."""

META_CLASSES: dict[str, tuple[str, ...]] = {
    name: tuple(sorted(members))
    for name, members in json.loads((_HERE / "meta_classes.json").read_text(encoding="utf-8")).items()
}
"""Meta-class full name → sorted categories (a reconstruction, see the module docstring)."""

META_CLASS_ABBREVIATIONS: dict[str, str] = {
    "Electronics": "Elec.", "Furniture": "Furn.", "Household": "Hou.", "Music": "Mus.",
    "Sports": "Spo.", "Transportation": "Veh.", "Work": "Work",
}
"""Column headers of the paper's tables (the figure says Transportation, the tables Veh.)."""

META_CLASS_OF: dict[str, str] = {cat: meta for meta, cats in META_CLASSES.items() for cat in cats}
"""Category → meta-class full name."""

KNOWN_CATEGORIES: tuple[str, ...] = tuple(sorted(_read_names("known_categories.txt")))
"""The 63 categories seen in training in the open-vocabulary task (Task 2)."""

NOVEL_CATEGORIES: tuple[str, ...] = tuple(c for c in CATEGORIES if c not in set(KNOWN_CATEGORIES))
"""The 126 categories held out in the open-vocabulary task."""


def _check() -> None:
    if len(CATEGORIES) != len(set(CATEGORIES)):
        raise ValueError("dataset_card/categories.txt lists a category twice")
    if set(META_CLASS_OF) != set(CATEGORIES) or sum(map(len, META_CLASSES.values())) != len(CATEGORIES):
        raise ValueError("dataset_card/meta_classes.json must assign every category to exactly one meta-class")
    if set(META_CLASSES) != set(META_CLASS_ABBREVIATIONS):
        raise ValueError("dataset_card/meta_classes.json must hold exactly the 7 meta-classes")
    unknown = set(KNOWN_CATEGORIES) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"dataset_card/known_categories.txt names unknown categories: {sorted(unknown)}")


_check()

__all__ = ["CATEGORIES", "KNOWN_CATEGORIES", "META_CLASSES", "META_CLASS_ABBREVIATIONS", "META_CLASS_OF",
           "NOVEL_CATEGORIES"]

CARD_TEMPLATE: Path = _HERE / "README.template.md"
"""The dataset card template that ``imagenet3d build`` fills in (``modeling.data.card``)."""

CONFIG_SECTIONS: Path = _HERE / "configs"
"""One Markdown section per config (``configs/<config>.md``): the card describes the configs a build holds, only."""

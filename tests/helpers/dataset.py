"""Helpers of the dataset tests: an independent reading of a release (numpy, trusted test files only)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

SPLIT_NAMES = {"train": "train", "val": "validation"}
POSE_KEYS = ("azimuth", "elevation", "theta", "distance", "px", "py")


def npz_objects(release: Path, category: str, image_id: str) -> list[dict]:
    """The annotation dicts of an image, read with plain numpy (our own synthetic files: trusted)."""
    with np.load(release / "annotations" / category / f"{image_id}.npz", allow_pickle=True) as data:
        return list(data["annotations"])


def official_filter(obj: dict) -> bool:
    """The official baselines' filter, written out again: status present and not bad, pose keys, distance > 0."""
    return ("object_status" in obj and obj["object_status"] != "status_bad" and all(k in obj for k in POSE_KEYS)
            and obj["distance"] > 0)


def listed_images(release: Path) -> dict[str, list[tuple[str, str]]]:
    """HF split → (category, image_id) in list order, category by category."""
    out: dict[str, list[tuple[str, str]]] = {"train": [], "validation": []}
    for category in sorted(p.name for p in (release / "annotations").iterdir() if p.is_dir()):
        for split, hf_split in SPLIT_NAMES.items():
            text = (release / "lists" / f"{category}_imagenet_{split}.txt").read_text(encoding="utf-8")
            out[hf_split] += [(category, image_id) for image_id in text.split()]
    return out


def expected_objects(release: Path) -> dict[str, dict[str, tuple[str, dict]]]:
    """HF split → object_id → (category, npz dict) for every object that passes the filter."""
    out: dict[str, dict[str, tuple[str, dict]]] = {}
    for split, images in listed_images(release).items():
        out[split] = {f"{image_id}_{k:02d}": (category, obj) for category, image_id in images
                      for k, obj in enumerate(npz_objects(release, category, image_id)) if official_filter(obj)}
    return out


def tree_digest(folder: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under a folder."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def good_object(**overrides) -> dict:
    """An annotation dict with every official key and type, as the release writes it; ``overrides`` replace keys."""
    obj = {"bbox": np.array([10.0, 20.0, 60.0, 80.0]), "class": "chair", "azimuth": 1.0, "elevation": 0.2,
           "theta": 6.0, "distance": 5.0, "px": 35.0, "py": 50.0, "principal": np.array([35.0, 50.0]),
           "focal": 1.0, "viewport": 2000, "height": np.uint16(100), "width": np.uint16(120), "cad_index": 2,
           "object_status": "status_good", "dense": "dense_no", "ignore": np.int64(0)}
    obj.update(overrides)
    return obj

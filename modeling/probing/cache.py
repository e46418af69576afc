"""Task 1's feature cache on disk: what identifies a built dataset, and features stored under a key.

An entry is two files in the cache folder (``imagenet3d probe`` uses ``probe_output/feature_cache``):
``<key>.npy``, the features (views, N, F) read back memory-mapped, and ``<key>.json``, the fields the key was
made of and what the extraction reported (the row layout, the number of layers). The key is the SHA-256 of
the fields as canonical JSON: the backbone's identity (kind, config and image-processor hashes, and the
weights hash, or the name and Hub commit when there is none), the dataset fingerprint, the config and split,
a hash of the rows' object ids (so a subset or another order is another entry), the mirrored view, the dtype
and the cache format. The ``.npy`` is written under a temporary name and renamed, then the ``.json`` is
written: an interrupted extraction leaves no entry. Entries are never evicted: delete the folder to reclaim
the space.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from modeling.utils.errors import located

CACHE_FORMAT = 1
"""Bumped when what a feature row holds changes, so that older entries are not read."""


def _sha256_json(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def dataset_fingerprint(data_dir: str | Path) -> str:
    """16 hex digits identifying a built dataset folder: SHA-256 of its ``README.md`` and ``build_report.json``
    (when present) and of the relative path and size of every Parquet file under it.

    Raises ImageNet3DError naming the folder when it does not exist.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise located(data_dir, "dataset folder not found (build one with `imagenet3d build RELEASE OUT`)")
    digest = hashlib.sha256()
    for name in ("README.md", "build_report.json"):
        path = data_dir / name
        digest.update(name.encode("utf-8") + b"\0" + (path.read_bytes() if path.is_file() else b"<absent>") + b"\0")
    for path in sorted(data_dir.rglob("*.parquet")):
        digest.update(f"{path.relative_to(data_dir).as_posix()}:{path.stat().st_size}\0".encode())
    return digest.hexdigest()[:16]


def rows_sha256(object_ids: Iterable[str]) -> str:
    """SHA-256 of a split's object ids in order (which rows, in which order)."""
    digest = hashlib.sha256()
    for object_id in object_ids:
        digest.update(str(object_id).encode("utf-8") + b"\n")
    return digest.hexdigest()


def cache_key(fields: dict) -> str:
    """24 hex digits: SHA-256 of ``fields`` (JSON-ready) and the cache format, as canonical JSON."""
    return _sha256_json({"cache_format": CACHE_FORMAT, **fields})[:24]


def _read_entry(npy: Path, meta_path: Path, fields: dict) -> tuple[np.ndarray, dict] | None:
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        features = np.load(npy, mmap_mode="r")
    except (OSError, ValueError):
        return None
    canonical = json.loads(json.dumps(fields, default=str))
    if not isinstance(meta, dict) or meta.get("fields") != canonical or list(features.shape) != meta.get("shape"):
        return None
    return features, meta.get("info", {})


def cached_features(cache_dir: str | Path, fields: dict,
                    extract: Callable[[Path], dict]) -> tuple[np.ndarray, dict, bool, Path]:
    """The features stored under ``fields``, extracting them first when there is no (complete) entry.

    Args:
        cache_dir: the cache folder (created when missing).
        fields: what identifies the features (JSON-ready; see the module docstring).
        extract: writes the ``.npy`` at the path it is given and returns JSON-ready information to keep
            beside it (read back as ``info`` on a later hit).

    Returns ``(features, info, hit, path)``: the array memory-mapped read-only (views, N, F), the extraction's
    information, whether the entry was already there, and the ``.npy`` path. An unreadable or mismatching
    entry is extracted again and replaced.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = cache_key(fields)
    npy, meta_path = cache_dir / f"{key}.npy", cache_dir / f"{key}.json"
    if npy.is_file() and meta_path.is_file():
        entry = _read_entry(npy, meta_path, fields)
        if entry is not None:
            return entry[0], entry[1], True, npy
    partial = cache_dir / f"{key}.{os.getpid()}.partial.npy"
    try:
        info = extract(partial)
        os.replace(partial, npy)
    finally:
        partial.unlink(missing_ok=True)
    features = np.load(npy, mmap_mode="r")
    meta = {"fields": fields, "shape": list(features.shape), "dtype": str(features.dtype), "info": info}
    tmp = meta_path.with_name(f"{meta_path.name}.{os.getpid()}.partial")
    tmp.write_text(json.dumps(meta, indent=1, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, meta_path)
    return features, info, False, npy

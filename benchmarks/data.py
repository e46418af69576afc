"""The files the benchmarks run on: synthetic releases generated once and reused, and builds shared by benchmarks.

Releases are cached under ``$IMAGENET3D_BENCH_CACHE`` (default: ``<tmp>/imagenet3d-benchmarks``), one folder per
set of arguments: the generator gives the same bytes for the same arguments, so a cached release is the release.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from modeling.synthetic.generator import DEFAULT_CATEGORIES, MANIFEST, generate_release

QUICK_CATEGORIES = ("car", "chair", "bed", "guitar")
"""The quick runs' categories: known and novel ones, 4 of the 18 of the synthetic release."""
QUICK_IMAGES, QUICK_SIZE = 4, (64, 48)
"""The quick runs' one release: 4 images per category of 64 × 48 pixels."""
PRODUCED: dict[str, Path] = {}
"""Outputs one benchmark made that a later one of the same run may reuse (e.g. the build's, for the loader)."""


def cache_dir() -> Path:
    """Where releases are kept between runs."""
    return Path(os.environ.get("IMAGENET3D_BENCH_CACHE", Path(tempfile.gettempdir()) / "imagenet3d-benchmarks"))


def release(images_per_category: int, image_size: tuple[int, int] | None = None, quick: bool = False) -> Path:
    """A synthetic release (all 18 categories; 4 when ``quick``), generated on first use and reused after."""
    categories = QUICK_CATEGORIES if quick else DEFAULT_CATEGORIES
    size = f"{image_size[0]}x{image_size[1]}" if image_size else "imagenet"
    root = cache_dir() / f"release-{len(categories)}c-{images_per_category}-{size}"
    if not (root / MANIFEST).is_file():
        shutil.rmtree(root, ignore_errors=True)
        print(f"   generating {root} (once; later runs reuse it)", flush=True)
        generate_release(root, list(categories), images_per_category, image_size, seed=0, progress=False,
                         num_proc=min(2, os.cpu_count() or 1))
    return root


def subset(source: Path, out: Path, fraction: float) -> Path:
    """A release holding the first ``fraction`` of every list of ``source`` (images, annotations, CAD linked)."""
    out.mkdir(parents=True, exist_ok=True)
    for folder in ("images", "annotations", "CAD"):
        if not (out / folder).exists():
            (out / folder).symlink_to(source / folder, target_is_directory=True)
    (out / "lists").mkdir(exist_ok=True)
    for path in sorted((source / "lists").glob("*.txt")):
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        keep = lines[:max(1, round(len(lines) * fraction))]
        (out / "lists" / path.name).write_text("\n".join(keep) + "\n")
    return out


def listed_images(root: Path) -> int:
    """Images named by the list files of a release."""
    return sum(len([line for line in p.read_text().splitlines() if line.strip()])
               for p in (root / "lists").glob("*.txt"))


def quick_release() -> Path:
    """The one release of ``--quick`` runs."""
    return release(QUICK_IMAGES, QUICK_SIZE, quick=True)

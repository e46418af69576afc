"""Small test builds of the synthetic release (conftest.small_dataset, and variants in the tests)."""

from __future__ import annotations

from pathlib import Path

CROP = 32
"""Crop side of the test builds: small, so that training and evaluation take seconds."""


def build_small(release: Path, out: Path, configs: tuple[str, ...] = ("pose", "open_vocab")) -> Path:
    """Build `configs` of the synthetic release into `out` with CROP-pixel crops."""
    from modeling.data.build import build

    build(release, out, configs=list(configs), crop_size=CROP, progress=False)
    return out

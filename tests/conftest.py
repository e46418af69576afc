"""Shared fixtures: a small synthetic release, generated once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Nothing downloads in tests: a mistyped local path must fail at once, not fall back to the Hub.
os.environ["HF_HUB_OFFLINE"] = "1"

from modeling.synthetic.generator import DEFAULT_CATEGORIES, generate_release

SYNTHETIC_IMAGES_PER_CATEGORY = 5
SYNTHETIC_SEED = 0


@pytest.fixture(autouse=True)
def _datasets_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """load_dataset caches Arrow files: keep them in the session's tmp folder, out of the user's cache."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path_factory.getbasetemp() / "hf_cache"))


@pytest.fixture(scope="session")
def synthetic_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic release in the official v1 layout (all default categories, 5 images each, with the zip).

    Its generation arguments are recorded in ``synthetic.json`` at the root. Treat it as read-only:
    it is shared by every test of the session.
    """
    root = tmp_path_factory.mktemp("synthetic") / "release"
    return generate_release(root, DEFAULT_CATEGORIES, images_per_category=SYNTHETIC_IMAGES_PER_CATEGORY,
                            seed=SYNTHETIC_SEED, make_zip=True, progress=False)


@pytest.fixture(scope="session")
def small_dataset(synthetic_release: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `pose` and `open_vocab` configs of the synthetic release at 32-pixel crops; read-only, shared."""
    from tests.helpers.evaluation import build_small

    return build_small(synthetic_release, tmp_path_factory.mktemp("small_dataset") / "ds")


@pytest.fixture(scope="session")
def tiny_baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny classification baseline folder (seed 0); read-only, shared."""
    from modeling.baseline.model import build_baseline

    return build_baseline(tmp_path_factory.mktemp("baseline") / "tiny", size="tiny", seed=0)

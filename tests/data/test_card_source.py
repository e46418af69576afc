"""The dataset card: checked by huggingface_hub's DatasetCard, only the configs built, and "synthetic" when the
source was the synthetic release (detected from the marker file the generator writes)."""

from __future__ import annotations

import shutil

import datasets
import pytest
from huggingface_hub import DatasetCard

from modeling.data.build import build
from modeling.data.card import SYNTHETIC_MARKER, check_dataset_card
from modeling.synthetic import generator
from modeling.synthetic.generator import generate_release
from modeling.utils.errors import ImageNet3DError


def test_the_marker_is_the_file_the_generator_writes():
    assert SYNTHETIC_MARKER == generator.MANIFEST


def test_a_synthetic_build_says_synthetic_and_describes_only_its_configs(small_dataset):
    card = DatasetCard.load(small_dataset / "README.md")
    check_dataset_card(small_dataset)
    assert card.data.license == "apache-2.0" and "synthetic" in card.data.tags
    assert "**This is the synthetic release, not ImageNet3D's photos.**" in card.text
    assert "CC BY-NC 4.0, as the official release" not in card.text
    built = [entry["config_name"] for entry in card.data.configs]
    assert built == ["pose", "open_vocab"]
    for config in ("image", "classification", "probe", "captions", "cad"):
        assert f"### `{config}`" not in card.text and f'load_dataset("imagenet3d", "{config}"' not in card.text
    assert "### `pose` (default)" in card.text and "### `open_vocab`" in card.text
    assert sorted(datasets.get_dataset_config_names(str(small_dataset))) == sorted(built)
    for category in generator.DEFAULT_CATEGORIES:
        assert f"`{category}`" in card.text


def test_a_release_without_the_marker_is_the_official_one(tmp_path):
    release = generate_release(tmp_path / "release", ["car", "chair"], images_per_category=2, progress=False)
    (release / SYNTHETIC_MARKER).unlink()
    out = tmp_path / "built"
    report = build(release, out, configs=["pose"], crop_size=16, progress=False)
    assert report["source"] == {"kind": "official"}
    card = check_dataset_card(out)
    assert card.data.license == "cc-by-nc-4.0" and "synthetic" not in card.data.tags
    assert "synthetic release" not in card.text and "### `open_vocab`" not in card.text


def test_a_card_whose_configs_match_no_shard_is_refused(small_dataset, tmp_path):
    copy = tmp_path / "ds"
    shutil.copytree(small_dataset, copy)
    for shard in (copy / "data" / "pose" / "validation").glob("*-novel.parquet"):
        shard.unlink()
    with pytest.raises(ImageNet3DError, match="validation_novel: no file matches"):
        check_dataset_card(copy)

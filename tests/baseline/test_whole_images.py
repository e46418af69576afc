"""Whole images in the baseline's training (`whole_image_ratio`): category only, no pose."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from dataset_card import CATEGORIES, KNOWN_CATEGORIES
from modeling import cli
from modeling.baseline.model import NO_POSE, create_baseline, load_baseline, pose_bins
from modeling.baseline.training import AugmentedRows, BaselineCollator, train_baseline, whole_images
from modeling.baseline.training_arguments import BaselineTrainingArguments
from modeling.utils.errors import ImageNet3DError


@pytest.fixture(scope="module")
def image_dataset(synthetic_release, tmp_path_factory):
    from tests.helpers.evaluation import build_small

    return build_small(synthetic_release, tmp_path_factory.mktemp("whole") / "ds", configs=("pose", "image"))


def _crop_rows(n: int, side: int = 8) -> list[dict]:
    return [{"image": Image.fromarray(np.full((side, side, 3), 10 * k, dtype=np.uint8)), "category": k,
             "azimuth": 1.0, "elevation": 0.3, "theta": 0.5} for k in range(n)]


def test_a_nan_angle_is_no_pose_and_the_pose_loss_skips_those_rows():
    labels = pose_bins(np.array([1.0, np.nan]), np.array([0.3, np.nan]), np.array([0.5, np.nan]))
    assert labels[1].tolist() == [NO_POSE] * 3 and (labels[0] >= 0).all()
    torch.manual_seed(0)
    model, _ = create_baseline(size="tiny", image_size=16)
    model.eval()  # BatchNorm's running statistics: each row's output does not depend on the others
    pixels = torch.randn(3, 3, 16, 16)
    posed = torch.tensor([[1, 2, 3], [NO_POSE] * 3, [4, 5, 6]])
    out = model(pixel_values=pixels, pose_labels=posed)
    alone = model(pixel_values=pixels[[0, 2]], pose_labels=posed[[0, 2]])
    torch.testing.assert_close(out.pose_loss, alone.pose_loss)  # the mean over the rows with a pose
    none = model(pixel_values=pixels[:1], pose_labels=posed[1:2])
    assert none.pose_loss.item() == 0.0
    none.loss.backward()  # still in the graph: a process whose batch is all whole images gives the head a gradient
    assert model.pose_head.weight.grad is not None and not model.pose_head.weight.grad.any()


def test_whole_items_follow_the_crops_seeded_and_without_pose():
    rows = _crop_rows(6)
    whole = (np.stack([np.full((8, 8, 3), 200 + k, dtype=np.uint8) for k in range(4)]), np.array([7, 8, 9, 10]))
    data = AugmentedRows(rows, seed=2, hflip=0.5, augment=True, whole=whole, whole_count=6)
    assert len(data) == 12
    items = [data[i] for i in range(12)]
    assert all(not np.isnan(item["azimuth"]) for item in items[:6])
    assert all(np.isnan([item[name] for name in ("azimuth", "elevation", "theta")]).all() for item in items[6:])
    assert sorted(item["category"] for item in items[6:10]) == [7, 8, 9, 10]  # a permutation, then cycled
    assert [item["category"] for item in items[10:]] == [item["category"] for item in items[6:8]]
    again = AugmentedRows(rows, seed=2, hflip=0.5, augment=True, whole=whole, whole_count=6)
    assert [np.asarray(again[i]["image"]).tobytes() for i in range(12)] == [np.asarray(i["image"]).tobytes()
                                                                          for i in items]
    _, processor = create_baseline(size="tiny", image_size=8)
    batch = BaselineCollator(processor, 40)(items)
    assert (batch["pose_labels"][6:] == NO_POSE).all() and (batch["pose_labels"][:6] >= 0).all()
    assert batch["category_labels"][6:].tolist() == [item["category"] for item in items[6:]]


def test_whole_images_are_the_image_configs_train_split_resized(image_dataset):
    images, categories = whole_images(image_dataset, (16, 12), known_only=True)
    assert images.shape[1:] == (12, 16, 3) and images.dtype == np.uint8 and len(images) == len(categories)
    assert {CATEGORIES[c] for c in categories} <= set(KNOWN_CATEGORIES)
    everything, _ = whole_images(image_dataset, (16, 12))
    assert len(everything) >= len(images)


def test_training_with_whole_images(image_dataset, small_dataset, tmp_path, capsys):
    torch.set_num_threads(2)
    summary = train_baseline(image_dataset, None, tmp_path / "model", known_only=True, max_steps=3, batch_size=8,
                             size="tiny", whole_image_ratio=0.25, progress=False)
    whole = summary["whole_images"]
    assert whole["images"] > 0 and whole["items"] == round(summary["train_rows"] * 0.25 / 0.75)
    assert json.loads((tmp_path / "model" / "training.json").read_text())["whole_images"] == whole
    load_baseline(tmp_path / "model")
    card = (tmp_path / "model" / "README.md").read_text()
    assert f"- training items: crops {summary['train_rows']:,}, whole images (category only) {whole['items']:,}" in card
    # The command line says what it trained on, whole images included.
    assert cli.main(["train-baseline", "--data", str(image_dataset), "--output", str(tmp_path / "cli"), "--size",
                     "tiny", "--known-only", "--max-steps", "1", "--batch-size", "8", "--whole-image-ratio", "0.25",
                     "--no-progress"]) == 0
    said = capsys.readouterr().out
    assert re.search(r"objects of \d+ categories \(known categories only\) and [\d,]+ whole-image items \(category "
                     r"only, drawn from [\d,]+ images\)", said), said
    # A dataset built without the image config: the error names the card, the option and a build that keeps the
    # configs the folder has (a build replaces the folder).
    with pytest.raises(ImageNet3DError, match=r"README\.md: the dataset has no 'image' config, which "
                                              r"--whole-image-ratio needs \(it has pose, open_vocab\).*"
                                              r"--configs pose open_vocab image`"):
        train_baseline(small_dataset, None, tmp_path / "other", known_only=True, max_steps=1, batch_size=8,
                       size="tiny", whole_image_ratio=0.25, progress=False)
    with pytest.raises(ImageNet3DError, match=r"--whole-image-ratio: must be in \[0, 1\)"):
        BaselineTrainingArguments(whole_image_ratio=1.0)


def test_batch_jitter_gives_the_whole_items_of_the_per_item_path():
    import io

    from datasets import Dataset
    from datasets import Image as ImageFeature

    pngs = []
    for row in _crop_rows(6):
        buffer = io.BytesIO()
        row["image"].save(buffer, format="PNG")
        pngs.append({"bytes": buffer.getvalue(), "path": None})
    rows = Dataset.from_dict({"image": pngs, "category": list(range(6)), "azimuth": [1.0] * 6,
                              "elevation": [0.3] * 6, "theta": [0.5] * 6}).cast_column("image", ImageFeature())
    gradient = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    whole = (np.stack([gradient + k for k in range(3)]), np.array([7, 8, 9]))
    per_item = AugmentedRows(rows, seed=1, hflip=0.5, whole=whole, whole_count=5)
    batched = AugmentedRows(rows, seed=1, hflip=0.5, whole=whole, whole_count=5, batch_jitter=True)
    assert batched.batch_jitter
    _, processor = create_baseline(size="tiny", image_size=8)
    collate = BaselineCollator(processor, 40)
    a, b = collate([per_item[i] for i in range(11)]), collate([batched[i] for i in range(11)])
    for key in ("pixel_values", "category_labels", "pose_labels"):
        assert torch.equal(a[key], b[key]), key
    assert (b["pose_labels"][6:] == NO_POSE).all()

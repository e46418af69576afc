"""The classification baseline: forward and loss, save/load round trip, any HF backbone, training with a falling
loss on the known categories only, the flip augmentation, and the train-baseline CLI."""

from __future__ import annotations

import json
import os

import datasets
import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoConfig, AutoModel, ViTConfig, ViTModel

from dataset_card import CATEGORIES, KNOWN_CATEGORIES, NOVEL_CATEGORIES
from modeling import cli
from modeling.baseline.model import (
    MODEL_TYPE,
    PoseClassifier,
    PoseClassifierConfig,
    PoseClassifierOutput,
    build_baseline,
    create_baseline,
    decode,
    load_baseline,
)
from modeling.baseline.training import AugmentedRows, BaselineCollator, train_baseline
from modeling.geometry import angle_to_bin, bin_to_angle, flip_pose, soft_bin_targets
from modeling.utils.errors import ImageNet3DError


def _images(n: int, side: int = 32) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)) for _ in range(n)]


def test_forward_shapes_and_the_loss_is_ce_cls_plus_ce_pose(tiny_baseline):
    model, processor = load_baseline(tiny_baseline)
    pixels = processor(images=_images(4), return_tensors="pt")["pixel_values"]
    categories = torch.tensor([0, 5, 7, 188])
    bins = torch.tensor([[0, 1, 2], [39, 20, 3], [5, 5, 5], [10, 0, 39]])
    out = model(pixel_values=pixels, category_labels=categories, pose_labels=bins)
    assert out.category_logits.shape == (4, len(CATEGORIES))
    assert out.pose_logits.shape == (4, 3, 40)
    ce_cls = torch.nn.functional.cross_entropy(out.category_logits, categories)
    # Soft targets (the built-in sigma of 1 bin): exp(-d²/2) over the periodic bin distance d, normalised.
    assert model.config.pose_bin_sigma == 1.0
    distance = (torch.arange(40)[None, None] - bins[..., None]).abs()
    distance = torch.minimum(distance, 40 - distance).double()
    soft = torch.exp(-0.5 * distance**2)
    soft = (soft / soft.sum(-1, keepdim=True)).float()
    log_p = out.pose_logits.log_softmax(-1)
    ce_pose = -(soft * log_p).sum(-1).mean(0).sum()
    torch.testing.assert_close(out.loss, ce_cls + ce_pose)
    model.config.pose_bin_sigma = 0.0  # one-hot targets: the plain cross-entropy of the official baselines
    hard = model(pixel_values=pixels, category_labels=categories, pose_labels=bins)
    ce_hard = sum(torch.nn.functional.cross_entropy(out.pose_logits[:, k], bins[:, k]) for k in range(3))
    torch.testing.assert_close(hard.loss, ce_cls + ce_hard)
    assert model(pixel_values=pixels).loss is None
    assert model.config.id2label[5] == CATEGORIES[5]


def test_decode_gives_argmax_category_and_bin_centres():
    logits = torch.full((2, 3, 40), -10.0)
    logits[0, 0, 3] = logits[0, 1, 39] = logits[0, 2, 0] = 10.0  # azimuth bin 3, elevation bin 39, theta bin 0
    logits[1, :, 17] = 10.0
    category = torch.zeros(2, len(CATEGORIES))
    category[0, 7], category[1, 100] = 5.0, 5.0
    out = decode(PoseClassifierOutput(category_logits=category, pose_logits=logits))
    assert [o["category"] for o in out] == [CATEGORIES[7], CATEGORIES[100]]
    assert out[0]["azimuth"] == pytest.approx(bin_to_angle(3))
    assert out[0]["elevation"] == pytest.approx(bin_to_angle(39))
    assert out[0]["theta"] == pytest.approx(bin_to_angle(0)) and out[1]["theta"] == pytest.approx(bin_to_angle(17))
    assert out[0]["confidence"]["azimuth"] == pytest.approx(1.0, abs=1e-6)


def test_save_load_round_trip(tiny_baseline, tmp_path):
    model, processor = load_baseline(tiny_baseline)
    pixels = processor(images=_images(2), return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        before = model(pixel_values=pixels)
    model.save_pretrained(tmp_path / "again")
    processor.save_pretrained(tmp_path / "again")
    for loaded in (load_baseline(tmp_path / "again")[0], AutoModel.from_pretrained(tmp_path / "again").eval()):
        assert isinstance(loaded, PoseClassifier)
        with torch.no_grad():
            after = loaded(pixel_values=pixels)
        torch.testing.assert_close(after.pose_logits, before.pose_logits)
        torch.testing.assert_close(after.category_logits, before.category_logits)
    config = json.loads((tmp_path / "again" / "config.json").read_text())
    assert config["model_type"] == MODEL_TYPE and config["backbone_config"]["model_type"] == "resnet"
    assert AutoConfig.from_pretrained(tmp_path / "again").pooling == "mean"


def test_any_hf_backbone_and_its_pooling(tmp_path):
    vit = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=64)
    for pooling in ("cls", "mean", "pooler"):
        model = PoseClassifier(PoseClassifierConfig(backbone_config=vit, pooling=pooling))
        assert model(pixel_values=torch.zeros(2, 3, 32, 32)).pose_logits.shape == (2, 3, 40)
    cnn = PoseClassifier(PoseClassifierConfig(pooling="cls")).eval()  # the default backbone is a ResNet: no CLS
    with pytest.raises(ValueError, match="no CLS token"):
        cnn(pixel_values=torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="pooling"):
        PoseClassifierConfig(pooling="max")
    # A pretrained backbone from a local folder: its weights are used, new heads added.
    torch.manual_seed(1)
    ViTModel(vit).save_pretrained(tmp_path / "vit")
    folder = build_baseline(tmp_path / "wrapped", backbone=tmp_path / "vit", pooling="cls", image_size=32)
    wrapped, _ = load_baseline(folder)
    reference = ViTModel.from_pretrained(tmp_path / "vit")
    torch.testing.assert_close(wrapped.backbone.embeddings.cls_token, reference.embeddings.cls_token)
    assert wrapped.config.backbone == str(tmp_path / "vit")


@pytest.mark.skipif(os.environ.get("HF_HUB_OFFLINE") == "1", reason="needs the Hub (facebook/dinov2-small)")
def test_real_pretrained_backbone(tmp_path):  # pragma: no cover - network only
    folder = build_baseline(tmp_path / "dinov2", backbone="facebook/dinov2-small", pooling="pooler")
    model, processor = load_baseline(folder)
    pixels = processor(images=_images(1, 64), return_tensors="pt")["pixel_values"]
    assert model(pixel_values=pixels).pose_logits.shape == (1, 3, 40)


def test_flip_augmentation_mirrors_image_and_pose():
    _, processor = create_baseline(size="tiny", image_size=8)
    image = Image.fromarray(np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3))
    row = {"image": image, "category": 3, "azimuth": 1.0, "elevation": 0.3, "theta": 0.5}
    plain = BaselineCollator(processor, 40)([AugmentedRows([row], hflip=0.0)[0]])
    flipped = BaselineCollator(processor, 40)([AugmentedRows([row], hflip=1.0)[0]])
    torch.testing.assert_close(flipped["pixel_values"], plain["pixel_values"].flip(-1))
    expected = angle_to_bin(np.array(flip_pose(1.0, 0.3, 0.5)))
    assert flipped["pose_labels"].tolist() == [expected.tolist()]
    assert plain["pose_labels"].tolist() == [angle_to_bin(np.array([1.0, 0.3, 0.5])).tolist()]
    assert flipped["category_labels"].tolist() == [3]


def test_each_item_draws_from_seed_epoch_and_index_alone():
    # What makes two processes see the examples of one: an item's flip and jitter do not depend on who loads it.
    rows = [{"image": Image.fromarray(np.full((8, 8, 3), 10 * k, dtype=np.uint8)), "category": k, "azimuth": 1.0,
             "elevation": 0.3, "theta": 0.5} for k in range(16)]
    data = AugmentedRows(rows, seed=3, hflip=0.5, augment=True)
    first = [np.asarray(data[i]["image"]).tobytes() + bytes(str(data[i]["azimuth"]), "ascii") for i in range(16)]
    again = AugmentedRows(rows, seed=3, hflip=0.5, augment=True)
    assert [np.asarray(again[i]["image"]).tobytes() + bytes(str(again[i]["azimuth"]), "ascii")
            for i in reversed(range(16))] == first[::-1]  # any order, any process: the same items
    assert 0 < sum(data[i]["azimuth"] != 1.0 for i in range(16)) < 16  # some mirrored, some not
    data.set_epoch(1)
    assert [np.asarray(data[i]["image"]).tobytes() + bytes(str(data[i]["azimuth"]), "ascii")
            for i in range(16)] != first  # new draws each epoch


def test_training_on_known_categories_lowers_the_loss(small_dataset, tmp_path):
    torch.set_num_threads(2)
    summary = train_baseline(small_dataset, None, tmp_path / "trained", known_only=True, max_steps=20, batch_size=16,
                             learning_rate=3e-3, size="tiny", logging_steps=5, progress=False)
    losses = summary["logged_losses"]
    assert summary["steps"] == 20 and len(losses) == 4
    # Soft pose targets have entropy, a floor no model goes under: what must fall is the loss above it.
    target = soft_bin_targets(torch.tensor(0), 40, 1.0).numpy()
    floor = -3 * float(sum(t * np.log(t) for t in target if t > 0))
    assert np.mean(losses[-2:]) - floor < 0.85 * (losses[0] - floor), (losses, floor)
    # Task 2 protocol: no novel category in the training data, and every known one of the release is there.
    assert summary["novel_categories_seen"] == [] and set(summary["train_categories"]) <= set(KNOWN_CATEGORIES)
    open_vocab = datasets.load_dataset(str(small_dataset), "open_vocab", split="train")
    names = open_vocab.features["category"].names
    assert set(summary["train_categories"]) == {names[i] for i in open_vocab["category"]}
    assert summary["train_rows"] == len(open_vocab)
    saved = json.loads((tmp_path / "trained" / "training.json").read_text())
    assert saved["novel_categories_seen"] == []
    model, _ = load_baseline(tmp_path / "trained")
    assert model.config.backbone_config.hidden_sizes == [8, 16, 16, 32]


def test_training_on_all_categories_sees_novel_ones_and_is_seeded(small_dataset, tmp_path, capsys):
    runs = [train_baseline(small_dataset, None, tmp_path / f"run{k}", known_only=False, max_steps=3, batch_size=16,
                           size="tiny", logging_steps=1, progress=False, seed=7) for k in range(2)]
    assert "{'loss'" not in capsys.readouterr().out  # progress=False prints no log dicts either
    assert set(runs[0]["train_categories"]) & set(NOVEL_CATEGORIES)
    assert runs[0]["logged_losses"] == runs[1]["logged_losses"]
    # Continuing from a saved baseline folder starts from its weights.
    again = train_baseline(small_dataset, tmp_path / "run0", tmp_path / "continued", max_steps=1, batch_size=16,
                           logging_steps=1, progress=False, seed=7)
    assert again["start"] == str(tmp_path / "run0")


def test_cli_help_and_bad_input(small_dataset, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train-baseline", "--help"])
    assert exit_info.value.code == 0
    assert "--known-only" in capsys.readouterr().out
    assert cli.main(["train-baseline", "--data", str(tmp_path), "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a built ImageNet3D dataset" in err and str(tmp_path) in err
    assert cli.main(["train-baseline", "--data", str(small_dataset), "--output", str(tmp_path / "o"),
                     "--epochs", "0"]) == 2
    assert "--epochs: must be positive, got 0.0" in capsys.readouterr().err
    with pytest.raises(ImageNet3DError, match="--hflip: must be a probability"):  # a probability, not a switch
        train_baseline(small_dataset, None, tmp_path / "o", hflip=True)
    with pytest.raises(TypeError, match="lr"):  # the options are the fields of BaselineTrainingArguments
        train_baseline(small_dataset, None, tmp_path / "o", lr=1e-3)
    (tmp_path / "notamodel").mkdir()
    with pytest.raises(ImageNet3DError, match="no config.json"):
        train_baseline(small_dataset, tmp_path / "notamodel", tmp_path / "o", max_steps=1)
    with pytest.raises(ImageNet3DError, match="cannot load the backbone"):
        create_baseline(str(tmp_path / "no_such_backbone"))
    with pytest.raises(ImageNet3DError, match="unknown baseline size"):
        create_baseline(size="huge")


def test_decoding_once_gives_the_items_of_decoding_per_item(tmp_path):
    """The training crops decoded into one array at the start: every item (image, flip, jitter, labels) is the one
    the per-item JPEG decode gives, and the batch is the image processor's, bit for bit."""
    import io

    from datasets import Dataset
    from datasets import Image as ImageFeature

    rng = np.random.default_rng(0)
    jpegs = []
    for _ in range(12):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(buffer, format="JPEG")
        jpegs.append({"bytes": buffer.getvalue(), "path": None})
    rows = Dataset.from_dict({"image": jpegs, "category": list(range(12)), "azimuth": rng.uniform(0, 6, 12).tolist(),
                              "elevation": rng.uniform(-1, 1, 12).tolist(), "theta": rng.uniform(-1, 1, 12).tolist()}
                             ).cast_column("image", ImageFeature())
    once = AugmentedRows(rows, seed=1, hflip=0.5, augment=True)
    per_item = AugmentedRows(rows, seed=1, hflip=0.5, augment=True, decode_once=False)
    assert once._decoded is not None and per_item._decoded is None
    once.set_epoch(2)
    per_item.set_epoch(2)
    _, processor = create_baseline(size="tiny", image_size=16)
    for i in range(12):
        a, b = once[i], per_item[i]
        assert np.array_equal(np.asarray(a["image"]), np.asarray(b["image"]))
        assert {k: v for k, v in a.items() if k != "image"} == {k: v for k, v in b.items() if k != "image"}
    batch = BaselineCollator(processor, 40, channels_last=True)([once[i] for i in range(12)])
    expected = processor(images=[once[i]["image"] for i in range(12)], return_tensors="pt")["pixel_values"]
    assert torch.equal(batch["pixel_values"], expected)
    assert batch["pixel_values"].is_contiguous(memory_format=torch.channels_last)


def test_batch_jitter_items_draw_as_the_per_item_path_and_the_collator_jitters_them(tmp_path):
    # The baseline's training jitters a whole batch at once (batch_jitter); the draws, the mirroring and the labels
    # are those of the per-item path, the pixels within PIL's roundings, and without jitter exactly its values.
    import io

    from datasets import Dataset
    from datasets import Image as ImageFeature

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:16, 0:16]
    jpegs = []
    for k in range(12):
        smooth = np.stack([128 + 90 * np.sin(x / (3.0 + k)), 128 + 90 * np.cos(y / 4.0), 128 + 0 * x], -1)
        buffer = io.BytesIO()
        Image.fromarray(np.clip(smooth, 0, 255).astype(np.uint8)).save(buffer, format="PNG")
        jpegs.append({"bytes": buffer.getvalue(), "path": None})
    rows = Dataset.from_dict({"image": jpegs, "category": list(range(12)), "azimuth": rng.uniform(0, 6, 12).tolist(),
                              "elevation": rng.uniform(-1, 1, 12).tolist(), "theta": rng.uniform(-1, 1, 12).tolist()}
                             ).cast_column("image", ImageFeature())
    _, processor = create_baseline(size="tiny", image_size=16)
    collate = BaselineCollator(processor, 40, channels_last=True)
    for augment in (False, True):
        per_item = AugmentedRows(rows, seed=1, hflip=0.5, augment=augment)
        batched = AugmentedRows(rows, seed=1, hflip=0.5, augment=augment, batch_jitter=True)
        assert batched.batch_jitter and "pixels" in batched[0] and "image" not in batched[0]
        for dataset in (per_item, batched):
            dataset.set_epoch(2)
        a, b = collate([per_item[i] for i in range(12)]), collate([batched[i] for i in range(12)])
        assert torch.equal(a["pose_labels"], b["pose_labels"])
        assert torch.equal(a["category_labels"], b["category_labels"])
        assert b["pixel_values"].shape == (12, 3, 16, 16)
        assert b["pixel_values"].is_contiguous(memory_format=torch.channels_last)
        if not augment:
            assert torch.equal(a["pixel_values"], b["pixel_values"])
        else:  # normalised units: PIL's two 8-bit roundings (2 / 255) over the std (0.5)
            difference = (a["pixel_values"] - b["pixel_values"]).abs()
            assert difference.max() <= 4.0 / 255.0 + 1e-6, difference.max()
    with pytest.raises(ImageNet3DError, match="mixes items"):
        collate([per_item[0], batched[1]])
    # A processor that resizes: each crop jittered as the per-item path does, then the processor (same values).
    _, resizing = create_baseline(size="tiny", image_size=8)
    per_item = AugmentedRows(rows, seed=1, hflip=0.5, augment=True)
    batched = AugmentedRows(rows, seed=1, hflip=0.5, augment=True, batch_jitter=True)
    resize_collate = BaselineCollator(resizing, 40)
    assert torch.equal(resize_collate([per_item[i] for i in range(12)])["pixel_values"],
                       resize_collate([batched[i] for i in range(12)])["pixel_values"])

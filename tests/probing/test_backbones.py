"""Task 1 on every kind of backbone: the built-in tiny ViT, ResNet and ConvNeXt and a baseline folder each probe a
build that has no `probe` config; what is read per kind (CLS, token mean, global average pool, prefix tokens
skipped, hybrids by layer); identities (weights hash of a folder or a tiny backbone, the commit of a Hub snapshot)."""

import json
import shutil

import datasets
import pytest
import torch
from transformers import (
    CLIPVisionConfig,
    CLIPVisionModel,
    DeiTConfig,
    DeiTModel,
    Dinov2WithRegistersConfig,
    Dinov2WithRegistersModel,
    SiglipVisionConfig,
    SiglipVisionModel,
    ViTConfig,
    ViTImageProcessorPil,
    ViTModel,
)

from modeling.probing.backbones import (
    folder_weights_sha256,
    layer_vectors,
    prefix_tokens,
    resolve_backbone,
)
from modeling.probing.probe import probe
from modeling.probing.results import read_results
from modeling.utils.errors import ImageNet3DError

SMALL = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32, image_size=32,
             patch_size=8)


@pytest.mark.parametrize("backbone", ["tiny-vit", "tiny-resnet", "tiny-convnext", "baseline"])
def test_each_kind_probes_a_build_without_probe_config(backbone, small_dataset, tiny_baseline, tmp_path):
    """small_dataset holds pose + open_vocab only: the probe reads `pose`, bins from the angles."""
    name = str(tiny_baseline) if backbone == "baseline" else backbone
    notes = []
    result = probe(name, small_dataset, tmp_path / "out", epochs=1, learning_rates=[0.01, 0.1], progress=False,
                   results=tmp_path / "results.jsonl", cache_dir=tmp_path / "cache", log=notes.append)
    val = datasets.load_dataset(str(small_dataset), "pose", split="validation")
    assert result["overall"]["count"] == len(val)
    [record] = read_results(tmp_path / "results.jsonl")
    assert record["dataset_config"] == "pose" and record["backbone"] == name
    assert record["acc_pi6"] == result["overall"]["acc_pi6"] and not record["features_reused"]
    assert any("no 'probe' config: reading its 'pose' config" in n for n in notes)
    readout = next(n for n in notes if n.startswith("reads: "))
    grid_variants = {g["variant"] for g in result["probe"]["grid"]}
    if backbone == "tiny-vit":
        assert "CLS token (position 0)" in readout and "skipping 1 prefix token" in readout
        assert len(grid_variants) == 6 and record["revision"] is None and record["smoke_test"]
    else:  # stages of a ResNet or ConvNeXt: global average pools; the patch-mean variants are left out
        assert "global average pool" in readout and "avgpool variants left out" in readout
        assert grid_variants == {"last", "last4", "uniform4"}
        assert result["probe"]["protocol"]["num_layers"] == 4
    if backbone == "baseline":
        assert record["backbone_kind"] == "baseline" and not record["smoke_test"]
        assert record["weights_sha256"] == folder_weights_sha256(tiny_baseline)
    else:
        assert record["backbone_kind"] == "tiny" and "smoke test" in notes[1]


def test_baseline_features_are_its_backbone_stages(tiny_baseline):
    from modeling.baseline.model import load_baseline

    source = resolve_backbone(tiny_baseline)
    model = source.load()
    assert model is not None and type(model).__name__ == "ResNetModel"
    reference = load_baseline(tiny_baseline)[0].backbone
    for a, b in zip(model.state_dict().values(), reference.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("model, expected", [
    (lambda: ViTModel(ViTConfig(**SMALL)), (True, 1)),
    (lambda: DeiTModel(DeiTConfig(**SMALL)), (True, 2)),                     # CLS + distillation token
    (lambda: Dinov2WithRegistersModel(Dinov2WithRegistersConfig(**SMALL, num_register_tokens=4)), (True, 5)),
    (lambda: CLIPVisionModel(CLIPVisionConfig(**SMALL)), (True, 1)),         # class_embedding
    (lambda: SiglipVisionModel(SiglipVisionConfig(**SMALL)), (False, 0)),    # no CLS token
])
def test_prefix_tokens_match_the_token_sequence(model, expected):
    model = model().eval()
    assert prefix_tokens(model) == expected
    with torch.no_grad():
        tokens = model(pixel_values=torch.randn(1, 3, 32, 32), output_hidden_states=True).hidden_states[-1]
    assert tokens.shape[1] == expected[1] + 16   # the prefix, then the 4 × 4 patches


def test_layer_vectors_read_each_layer_by_its_shape():
    g = torch.Generator().manual_seed(0)
    stem, stage, tokens = (torch.randn(2, 3, 8, 8, generator=g), torch.randn(2, 5, 4, 4, generator=g),
                           torch.randn(2, 1 + 4 + 9, 6, generator=g))
    # A hybrid: convolutional stages, then transformer blocks with CLS + 4 registers.
    rows, layout = layer_vectors((stem, stage, tokens), [1, 2], has_cls=True, prefix=5)
    assert layout.layers == {1: (0, 5), 2: (5, 6)} and layout.patch == (11, 6) and rows.shape == (2, 17)
    torch.testing.assert_close(rows[:, :5], stage.mean(dim=(2, 3)))
    torch.testing.assert_close(rows[:, 5:11], tokens[:, 0])
    torch.testing.assert_close(rows[:, 11:], tokens[:, 5:].mean(1))              # registers skipped
    assert "global average pool" in layout.description and "CLS token" in layout.description
    rows, layout = layer_vectors((stem, tokens), [1], has_cls=False, prefix=0)     # SigLIP-like: pooled tokens
    torch.testing.assert_close(rows, tokens.mean(1))
    assert layout.patch is None and "mean of the tokens" in layout.description
    with pytest.raises(ImageNet3DError, match="hidden state 1 has shape"):
        layer_vectors((stem, torch.randn(2, 6)), [1], has_cls=True, prefix=1)


def test_identities(tmp_path, tiny_baseline, monkeypatch):
    a, b = resolve_backbone("tiny-resnet"), resolve_backbone("tiny-resnet")
    assert a.weights_sha256 == b.weights_sha256 and a.identity() == b.identity()    # seeded: the same weights
    assert resolve_backbone("tiny-convnext").weights_sha256 != a.weights_sha256
    # A Hub snapshot in the local cache, offline: its commit is the revision.
    import huggingface_hub.constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someorg--vit-tiny"
    torch.manual_seed(0)
    ViTModel(ViTConfig(**SMALL)).save_pretrained(repo / "snapshots" / commit)
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    hub = resolve_backbone("someorg/vit-tiny")
    assert (hub.kind, hub.revision, hub.weights_sha256) == ("hub", commit, None) and commit in hub.describe()
    assert type(hub.load()).__name__ == "ViTModel"
    # A folder: the hash of its weight files, which changes with the weights.
    folder = resolve_backbone(tiny_baseline)
    assert folder.kind == "baseline" and folder.weights_sha256 == folder_weights_sha256(tiny_baseline)
    moved = resolve_backbone(shutil.copytree(tiny_baseline, tmp_path / "moved"))
    assert moved.cache_identity() == folder.cache_identity() and moved.identity() != folder.identity()
    ViTModel(ViTConfig(**SMALL)).save_pretrained(tmp_path / "vit")
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(tmp_path / "vit")
    before = resolve_backbone(tmp_path / "vit").weights_sha256
    ViTModel(ViTConfig(**SMALL)).save_pretrained(tmp_path / "vit")
    assert resolve_backbone(tmp_path / "vit").weights_sha256 != before
    config = json.loads((tmp_path / "vit" / "config.json").read_text())
    assert resolve_backbone(tmp_path / "vit").kind == "folder" and config["model_type"] == "vit"


def test_avgpool_on_needs_a_patch_mean(small_dataset, tmp_path):
    with pytest.raises(ImageNet3DError, match="--avgpool on: this backbone has no patch-token mean"):
        probe("tiny-resnet", small_dataset, tmp_path / "o", epochs=1, avgpool=(True,), learning_rates=[0.1],
              progress=False, log=None)

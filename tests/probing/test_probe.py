"""Task 1 linear probing (`imagenet3d probe`): tiny random ViT and DINOv2 backbones saved locally, a small
built dataset; features per layer set, the batched grid against plain per-head SGD, selection on val,
the outputs against the scorer, errors, and a probe that must learn an easy problem."""

import json

import datasets
import numpy as np
import pytest
import torch
from transformers import (
    CLIPConfig,
    CLIPModel,
    Dinov2Config,
    Dinov2Model,
    ViTConfig,
    ViTMAEConfig,
    ViTMAEModel,
    ViTModel,
)
from transformers.models.bit.image_processing_pil_bit import BitImageProcessorPil
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

from modeling import cli
from modeling.data import build as build_module
from modeling.evaluation.error_kinds import error_kinds_section
from modeling.evaluation.metrics import pose_error
from modeling.evaluation.scoring import score_files
from modeling.geometry import angle_to_bin, bin_to_angle, flip_pose
from modeling.probing.backbones import load_backbone
from modeling.probing.features import (
    FeatureCache,
    bin_labels,
    extract_features,
    layer_indices,
    make_variants,
    num_backbone_layers,
)
from modeling.probing.heads import OFFICIAL_LEARNING_RATES, HeadGrid, cosine_factor, predict_bins, train_grid
from modeling.probing.probe import load_probe_splits, probe
from modeling.utils.errors import ImageNet3DError
from tests.helpers.network import hub_reachable

CROP = 64
TINY = dict(hidden_size=32, num_hidden_layers=8, num_attention_heads=4, intermediate_size=64, image_size=32,
            patch_size=8)
SCORER_KEYS = ("overall", "meta_classes", "error_kinds", "missing_predictions", "warnings")


@pytest.fixture(scope="module")
def dataset_dir(synthetic_release, tmp_path_factory):
    out = tmp_path_factory.mktemp("probe_data") / "imagenet3d"
    build_module.build(synthetic_release, out, configs=["probe"], crop_size=CROP, progress=False)
    return out


@pytest.fixture(scope="module")
def backbones(tmp_path_factory):
    """A random ViT (ViT image processor) and DINOv2 (Bit image processor, as facebook/dinov2-*), 8 layers each."""
    root = tmp_path_factory.mktemp("backbones")
    torch.manual_seed(0)
    ViTModel(ViTConfig(**TINY)).save_pretrained(root / "vit")
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(root / "vit")
    Dinov2Model(Dinov2Config(**TINY)).save_pretrained(root / "dinov2")
    BitImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        root / "dinov2")
    return {"vit": root / "vit", "dinov2": root / "dinov2"}


def test_layer_sets_follow_the_official_selection():
    assert layer_indices("last", 12) == (12,)
    assert layer_indices("last4", 12) == (9, 10, 11, 12)
    assert layer_indices("uniform4", 12) == (3, 6, 9, 12)
    assert layer_indices("uniform4", 24) == (6, 12, 18, 24)
    assert layer_indices("uniform4", 40) == (10, 20, 30, 40)
    with pytest.raises(ImageNet3DError, match="at least 4 layers"):
        layer_indices("last4", 3)
    with pytest.raises(ImageNet3DError, match="unknown layer set"):
        layer_indices("first", 12)
    names = [v.name for v in make_variants(("last", "last4", "uniform4"), 12)]
    assert names == ["last", "last+avgpool", "last4", "last4+avgpool", "uniform4", "uniform4+avgpool"]


@pytest.mark.parametrize("kind", ["vit", "dinov2"])
def test_features_per_layer_set_are_the_backbone_tokens(backbones, dataset_dir, kind, tmp_path):
    model, processor = load_backbone(backbones[kind])
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert num_backbone_layers(model, processor) == 8
    variants = make_variants(("last", "last4", "uniform4"), 8)
    layers = sorted({layer for v in variants for layer in v.layers})
    assert layers == [2, 4, 5, 6, 7, 8]
    train, _, config = load_probe_splits(dataset_dir, max_train=5)
    assert config == "probe"
    images = [im.convert("RGB") for im in train["image"]]
    angles = np.stack([train[a] for a in ("azimuth", "elevation", "theta")], axis=-1)
    stored = datasets.load_dataset(str(dataset_dir), "probe", split="train")
    stored = {r["object_id"]: [r[f"{a}_bin"] for a in ("azimuth", "elevation", "theta")] for r in stored}
    bins = np.array([stored[i] for i in train["object_id"]])     # the bins the build stored
    layout = extract_features(model, processor, [images[:3], images[3:]], 5, layers, tmp_path / "f.npy", mirror=True,
                              progress=False)
    cache = FeatureCache(np.load(tmp_path / "f.npy", mmap_mode="r"), layout, bin_labels(angles, mirror=True))
    assert cache.features.shape == (2, 5, 7 * 32) and cache.layers == tuple(layers)
    assert layout.layers == {layer: (32 * k, 32) for k, layer in enumerate(layers)} and layout.patch == (6 * 32, 32)
    # Independently: one forward pass of the processed and of the mirrored pixels.
    pixels = processor(images=images, return_tensors="pt")["pixel_values"]
    for view, pix in enumerate((pixels, pixels.flip(-1))):
        with torch.no_grad():
            hidden = model(pixel_values=pix, output_hidden_states=True).hidden_states
        for k, layer in enumerate(layers):
            torch.testing.assert_close(torch.from_numpy(cache.features[view, :, 32 * k:32 * (k + 1)]),
                                       hidden[layer][:, 0], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(torch.from_numpy(cache.features[view, :, 192:]), hidden[8][:, 1:].mean(1),
                                   rtol=1e-4, atol=1e-5)
    assert [cache.input_dim(v) for v in variants] == [32, 64, 128, 160, 128, 160]
    inputs = cache.inputs(variants, torch.tensor([1, 4]), torch.tensor([0, 1]))
    assert inputs.shape == (6, 2, 160)
    rows = torch.from_numpy(np.asarray(cache.features)).unflatten(-1, (7, 32))                # (views, N, 6+1, D)
    torch.testing.assert_close(inputs[3, 1, :128], rows[1, 4, 2:6].reshape(-1))       # last4: layers 5..8
    torch.testing.assert_close(inputs[4, 0, :128], rows[0, 1, [0, 1, 3, 5]].reshape(-1))  # uniform4: 2,4,6,8
    torch.testing.assert_close(inputs[5, 0, 128:], rows[0, 1, 6])
    assert inputs[0, :, 32:].abs().sum() == 0                                          # zero padding
    # Labels: the bins the build stored (computed again from the angles), and the bins of the mirrored pose.
    assert torch.equal(cache.labels[0], torch.from_numpy(bins))
    flipped = np.stack(flip_pose(angles[:, 0], angles[:, 1], angles[:, 2]), axis=-1)
    assert torch.equal(cache.labels[1], torch.from_numpy(angle_to_bin(flipped)))


def test_clip_uses_its_vision_model_and_mae_does_not_mask(tmp_path):
    clip = CLIPConfig(text_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                                       vocab_size=99),
                      vision_config={k: v for k, v in TINY.items()}, projection_dim=16)
    CLIPModel(clip).save_pretrained(tmp_path / "clip")
    CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        tmp_path / "clip")
    model, processor = load_backbone(tmp_path / "clip")
    assert type(model).__name__ == "CLIPVisionModel" and num_backbone_layers(model, processor) == 8
    ViTMAEModel(ViTMAEConfig(**TINY)).save_pretrained(tmp_path / "mae")
    ViTImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(tmp_path / "mae")
    model, processor = load_backbone(tmp_path / "mae")
    assert model.config.mask_ratio == 0.0
    pixels = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        tokens = model(pixel_values=pixels, output_hidden_states=True).hidden_states[-1]
    assert tokens.shape[1] == 1 + 16   # CLS + every patch: nothing masked away


def _random_cache(n, dim, views, seed):
    g = torch.Generator().manual_seed(seed)
    return FeatureCache.from_tokens(torch.randn(views, n, 4, dim, generator=g), torch.randn(views, n, dim, generator=g),
                                    (1, 2, 3, 4), torch.randint(0, 40, (views, n, 3), generator=g))


def test_batched_grid_equals_plain_sgd_per_head():
    """Every head of the one-einsum grid ends where torch.optim.SGD + CosineAnnealingLR takes it alone."""
    cache = _random_cache(n=50, dim=6, views=1, seed=1)
    variants = make_variants(("last", "last4"), 4)[:3]     # input sizes 6, 12, 24: padding is exercised
    lrs = [0.01, 0.3]
    grid = train_grid(cache, variants, lrs, epochs=2, batch_size=16, hflip=False, seed=3, progress=False)
    # Replay the generator: the init, then one permutation per epoch.
    g = torch.Generator().manual_seed(3)
    init = HeadGrid(len(variants), len(lrs), grid.width, g)
    orders = [torch.randperm(50, generator=g) for _ in range(2)]
    total = 2 * 4
    for v, variant in enumerate(variants):
        dim = cache.input_dim(variant)
        for r, lr in enumerate(lrs):
            head = torch.nn.Linear(dim, 120)
            with torch.no_grad():
                head.weight.copy_(init.weight[v, r, :dim].T)
                head.bias.zero_()
            opt = torch.optim.SGD(head.parameters(), lr=lr, momentum=0.9, weight_decay=0)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
            for order in orders:
                for start in range(0, 50, 16):
                    index = order[start:start + 16]
                    x = cache.inputs([variant], index)[0]
                    logits = head(x).view(-1, 3, 40)
                    loss = sum(torch.nn.functional.cross_entropy(logits[:, a], cache.labels[0, index, a])
                               for a in range(3))
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    sched.step()
            torch.testing.assert_close(grid.heads.weight[v, r, :dim], head.weight.detach().T, rtol=1e-4, atol=1e-6)
            torch.testing.assert_close(grid.heads.bias[v, r], head.bias.detach(), rtol=1e-4, atol=1e-6)
            # Padded inputs are zero: those weights never move from their initial values.
            torch.testing.assert_close(grid.heads.weight[v, r, dim:], init.weight[v, r, dim:])
    assert cosine_factor(0, 8) == 1.0 and cosine_factor(4, 8) == pytest.approx(0.5)


def test_probe_learns_an_easy_linear_problem():
    """Features that are a noisy one-hot code of the bins (mirror: of the mirrored bins): a working probe
    gets nearly every pose within π/6; a label, flip, learning-rate or selection bug does not."""
    rng = np.random.default_rng(0)
    n_train, n_val = 600, 200
    angles = np.stack([rng.uniform(0, 2 * np.pi, n_train + n_val), rng.uniform(0, 0.6, n_train + n_val),
                       rng.uniform(-0.3, 0.3, n_train + n_val) % (2 * np.pi)], axis=-1)

    def code(a):
        bins = angle_to_bin(a)
        one_hot = np.zeros((len(a), 120), dtype=np.float32)
        for k in range(3):
            one_hot[np.arange(len(a)), 40 * k + bins[:, k]] = 3.0
        return torch.from_numpy(one_hot + rng.normal(0, 0.3, one_hot.shape).astype(np.float32)), bins

    def cache(a, mirror):
        views = [a] + ([np.stack(flip_pose(a[:, 0], a[:, 1], a[:, 2]), axis=-1)] if mirror else [])
        coded = [code(v) for v in views]
        cls = torch.stack([c for c, _ in coded])[:, :, None]
        return FeatureCache.from_tokens(cls, torch.randn(len(views), len(a), 120), (4,),
                                        torch.from_numpy(np.stack([b for _, b in coded])))

    train, val = cache(angles[:n_train], True), cache(angles[n_train:], False)
    variants = make_variants(("last",), 4)
    grid = train_grid(train, variants, [1e-4, 1e-2, 0.1], epochs=10, batch_size=64, hflip=True, progress=False)
    bins = predict_bins(grid, val)
    acc = (pose_error(bin_to_angle(bins), angles[n_train:]) < np.pi / 6).mean(-1)
    assert acc.shape == (2, 3)
    assert acc.max() > 0.95, acc
    assert acc[:, 0].max() < acc.max()      # the tiny learning rate does not get there in 10 epochs
    assert grid.epoch_losses[-1] < grid.epoch_losses[0]


def test_probe_command_writes_consistent_outputs(backbones, dataset_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["probe", "--backbone", str(backbones["dinov2"]), "--data", str(dataset_dir), "--out", str(out),
                     "--epochs", "3", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "| Acc@π/6 |" in printed and "selects on val" in printed
    assert {p.name for p in out.iterdir()} == {"metrics.json", "table.md", "predictions.jsonl", "references.jsonl",
                                              "grid.png"}
    metrics = json.loads((out / "metrics.json").read_text())
    info = metrics["probe"]
    # The whole grid, 6 variants × 13 official learning rates, trained in the one run; the best is the val argmax.
    assert len(info["grid"]) == 6 * 13
    assert sorted({g["learning_rate"] for g in info["grid"]}) == sorted(OFFICIAL_LEARNING_RATES)
    accs = [g["val_acc_pi6"] for g in info["grid"]]
    first_best = info["grid"][int(np.argmax(accs))]
    assert (info["best"]["variant"], info["best"]["learning_rate"]) == (first_best["variant"],
                                                                         first_best["learning_rate"])
    assert metrics["overall"]["acc_pi6"] == pytest.approx(max(accs)) == pytest.approx(info["best"]["val_acc_pi6"])
    assert "selects on val" in info["selection"] and info["protocol"]["epochs"] == 3
    # The scorer recomputes metrics.json from the predictions file.
    rescored = score_files(out / "predictions.jsonl", out / "references.jsonl", "pose")
    assert rescored == {k: metrics[k] for k in SCORER_KEYS}
    val = datasets.load_dataset(str(dataset_dir), "probe")["validation"]
    references = [json.loads(line) for line in (out / "references.jsonl").read_text().splitlines()]
    assert [r["id"] for r in references] == list(val["object_id"])
    assert metrics["overall"]["count"] == len(val)
    assert "| Acc@π/6 |" in (out / "table.md").read_text()
    assert error_kinds_section(metrics["error_kinds"]) in (out / "table.md").read_text()
    assert (out / "grid.png").read_bytes()[:4] == b"\x89PNG"


def test_probe_options_shape_the_grid(backbones, dataset_dir, tmp_path):
    result = probe(backbones["vit"], dataset_dir, tmp_path / "o", epochs=1, layer_sets=["last4"], avgpool=(True,),
                   learning_rates=[0.01, 0.1], max_train=20, max_val=7, hflip=False, progress=False)
    assert [(g["variant"], g["learning_rate"]) for g in result["probe"]["grid"]] == [("last4+avgpool", 0.01),
                                                                                   ("last4+avgpool", 0.1)]
    assert result["probe"]["best"]["layers"] == [5, 6, 7, 8]
    assert result["overall"]["count"] == 7 and result["probe"]["protocol"]["train_objects"] == 20


def test_bad_input_gives_clear_errors(backbones, dataset_dir, tmp_path, capsys):
    def fails(*args):
        assert cli.main(["probe", *args, "--no-progress"]) == 2
        return capsys.readouterr().err

    data = ["--data", str(dataset_dir)]
    err = fails("--backbone", str(tmp_path / "nope"), *data)
    assert "nope: cannot load a backbone" in err and "Traceback" not in err
    (tmp_path / "empty").mkdir()
    assert "empty: not a model folder (no config.json" in fails("--backbone", str(tmp_path / "empty"), *data)
    assert "dataset folder not found" in fails("--backbone", str(backbones["vit"]), "--data", str(tmp_path / "x"))
    assert "not a built ImageNet3D dataset" in fails("--backbone", str(backbones["vit"]), "--data",
                                                     str(tmp_path / "empty"))
    assert "unknown layer set 'first'" in fails("--backbone", str(backbones["vit"]), *data, "--layers", "last,first")
    assert "epochs must be at least 1" in fails("--backbone", str(backbones["vit"]), *data, "--epochs", "0")
    assert "learning rates must be positive" in fails("--backbone", str(backbones["vit"]), *data,
                                                      "--learning-rates", "0.1", "-1")


def test_cli_help_lists_probe(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["probe", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--backbone", "--data", "--layers", "--learning-rates", "--max-train", "--epochs", "--device"):
        assert option in text
    assert "probe" in cli.COMMANDS


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.skipif(not hub_reachable(), reason="needs the Hugging Face Hub (HF_HUB_OFFLINE is set or no network)")
@pytest.mark.parametrize("hub_id", ["facebook/dinov2-small", "openai/clip-vit-base-patch16"])
def test_real_checkpoint_probe(hub_id, dataset_dir, tmp_path):
    """The documented real path, one flag away: --backbone with a Hub id (small subsets to stay quick)."""
    result = probe(hub_id, dataset_dir, tmp_path / "out", epochs=1, learning_rates=[1e-3, 1e-2], max_train=32,
                   max_val=16, progress=False)
    assert result["overall"]["count"] == 16 and len(result["probe"]["grid"]) == 12

"""Task 1, linear probing of object-level 3D awareness: ``imagenet3d probe``.

The official protocol (``shared/imagenet3d_spec.md`` §5 Task 1) for any vision backbone
(:mod:`modeling.probing.backbones`: ViT-like, convolutional, hybrid, our baseline's, a built-in tiny one):

1. the object-centric crops of the ``probe`` config (or of the ``pose`` config when the build has no
   ``probe`` config: the same rows, the 40-bin labels computed from the angles) go through the backbone's
   own image processor; the frozen backbone (eval, no_grad) encodes every training crop and its mirror once,
   and every validation crop, into feature files cached on disk (:mod:`modeling.probing.features`,
   :mod:`modeling.probing.cache`), so a second probe of the same backbone on the same data (other layer
   sets, other learning rates) does not run it again;
2. the grid, 3 layer sets ({last}, {last 4}, {4 uniformly spaced}) × avgpool off/on × 13 learning
   rates, trains together in one pass per epoch over the cached features, with hflip augmentation
   (:mod:`modeling.probing.heads`);
3. the head with the best **validation** Acc@π/6 is reported, on that same validation split: the
   official protocol selects and reports on val (ImageNet3D has no public test split), so the number
   is optimistic by the selection among the grid's heads, as the paper's is.

Outputs in ``OUT`` (default ``probe_output/<backbone name>``): ``metrics.json`` (the scorer's JSON for
the best head, plus ``probe``: its variant and learning rate, the protocol and every head's val
Acc@π/6), ``table.md`` (the paper's layout, then where the error goes), ``predictions.jsonl`` and
``references.jsonl`` (the scorer's formats: ``imagenet3d score --task pose`` reproduces ``metrics.json`` from them) and
``grid.png`` (val Acc@π/6 against the learning rate, one line per variant). With ``results``, one line
per run is appended to a results file (:mod:`modeling.probing.results`) that ``--compare`` reads.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from modeling.evaluation.error_kinds import error_kinds_section
from modeling.evaluation.metrics import THRESHOLDS, pose_error
from modeling.evaluation.scoring import format_metrics_table, score_records
from modeling.geometry import ANGLE_NAMES, bin_to_angle
from modeling.probing.backbones import BackboneSource, Layout, resolve_backbone
from modeling.probing.cache import cached_features, dataset_fingerprint, rows_sha256
from modeling.probing.features import (
    LAYER_SETS,
    FeatureCache,
    angle_columns,
    bin_labels,
    extract_features,
    layer_indices,
    make_variants,
    num_backbone_layers,
    stored_layers,
)
from modeling.probing.heads import OFFICIAL_LEARNING_RATES, GridResult, predict_bins, train_grid
from modeling.probing.results import append_result, is_official_protocol, result_record
from modeling.utils.errors import ImageNet3DError
from modeling.utils.jsonl import write_jsonl

SELECTION_NOTE = ("best head chosen by validation Acc@pi/6 and reported on the same validation split "
                  "(the official protocol selects on val; ImageNet3D has no public test split)")
FEATURE_DTYPES = ("float32", "float16")
_COLUMNS = ("object_id", "image", "category", *ANGLE_NAMES)


def load_probe_splits(data: str | Path, max_train: int | None = None, max_val: int | None = None,
                      seed: int = 0) -> tuple:
    """``(train, validation, config)``: the ``probe`` config's splits, or the ``pose`` config's when the build
    has no ``probe`` config (the same rows; the probe's bins are a function of the angles), optionally a seeded
    random subset of each. Raises ImageNet3DError naming the card when the build has neither config, and the
    split when it lacks a column."""
    from modeling.data.loading import built_configs, load_split, missing_config_error

    configs = built_configs(data)
    config = "probe" if "probe" in configs else "pose" if "pose" in configs else None
    if config is None:
        raise missing_config_error(data, "probe", "linear probing", alternatives=("pose",))
    splits = []
    for name, limit in (("train", max_train), ("validation", max_val)):
        split = load_split(data, config, name)
        missing = [c for c in _COLUMNS if c not in split.column_names]
        if missing:
            raise ImageNet3DError(f"{data}: the {config}/{name} split lacks column(s) {', '.join(missing)}")
        split = split.select_columns(list(_COLUMNS))
        if limit is not None and limit < len(split):
            # The splits are ordered by category: a random subset keeps every category represented.
            split = split.shuffle(seed=seed).select(range(limit))
        splits.append(split)
    return splits[0], splits[1], config


def _image_batches(split, batch_size: int):
    for batch in split.select_columns(["image"]).iter(batch_size=batch_size):
        yield batch["image"]


def head_errors(bins: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Pose errors (V, R, N) of every head's argmax bins (V, R, N, 3), decoded to bin centres, against (N, 3)."""
    # One variant at a time: the rotation matrices of all 78 heads at once would need GBs on the full val split.
    return np.stack([pose_error(bin_to_angle(variant_bins), angles) for variant_bins in bins])


def _plot_grid(path: Path, grid: GridResult, acc: np.ndarray, best: tuple[int, int], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for v, variant in enumerate(grid.variants):
        ax.plot(grid.learning_rates, acc[v], marker="o", markersize=3, label=variant.name)
    ax.scatter([grid.learning_rates[best[1]]], [acc[best]], s=140, facecolors="none", edgecolors="black",
               label="selected (best val)", zorder=3)
    ax.set(xscale="log", xlabel="learning rate", ylabel="val Acc@π/6 (%)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def default_out(backbone: str | Path) -> Path:
    """``probe_output/<backbone name>``: the folder's or the Hub id's last component."""
    return Path("probe_output") / Path(str(backbone).rstrip("/")).name


def split_features(source: BackboneSource, splits: dict, cache_dir: Path, fields: dict, hflip: bool,
                   extract_batch_size: int, feature_dtype: str, device: str, progress: bool,
                   log: Callable[[str], None]) -> tuple[dict[str, FeatureCache], int, bool]:
    """The features of each split (``{"train": ..., "validation": ...}``) from the cache in ``cache_dir``, running
    the backbone (loaded on the first miss only) where there is no entry. The training split gets the mirrored
    view when ``hflip``. Returns the caches, the backbone's number of layers and whether every split was reused.
    """
    loaded: dict = {}

    def backbone() -> tuple[torch.nn.Module, int]:
        if not loaded:
            model = source.load(device)
            loaded.update(model=model, num_layers=num_backbone_layers(model, source.processor))
        return loaded["model"], loaded["num_layers"]

    caches, num_layers, reused = {}, 0, True
    for name, split in splits.items():
        mirror = hflip and name == "train"

        def extract(path: Path, split=split, name=name, mirror=mirror) -> dict:
            model, layers = backbone()
            layout = extract_features(model, source.processor, _image_batches(split, extract_batch_size), len(split),
                                      stored_layers(layers), path, mirror, feature_dtype, f"features ({name})",
                                      progress)
            return {"layout": layout.to_json(), "num_layers": layers}

        key = {**fields, "split": name, "rows_sha256": rows_sha256(split["object_id"]), "mirror": mirror,
               "dtype": feature_dtype}
        features, info, hit, path = cached_features(cache_dir, key, extract)
        log(f"features ({name}, {len(split)} objects{', + mirrored' if mirror else ''}): "
            f"{'reused, the backbone is not run' if hit else 'extracted'}: {path}")
        labels = bin_labels(angle_columns(split), mirror)
        caches[name] = FeatureCache(features, Layout.from_json(info["layout"]), labels)
        num_layers, reused = int(info["num_layers"]), reused and hit
    loaded.clear()
    return caches, num_layers, reused


def _avgpool_choices(avgpool: Sequence[bool], layout: Layout, log: Callable[[str], None]) -> tuple[bool, ...]:
    if layout.patch is not None or True not in avgpool:
        return tuple(avgpool)
    if False not in avgpool:
        raise ImageNet3DError("--avgpool on: this backbone has no patch-token mean apart from its pooled layer "
                              "vectors (a feature map's stages, or tokens without a CLS token); use --avgpool off")
    log("avgpool: left out (the layer vectors are already averaged over the patches or positions)")
    return tuple(a for a in avgpool if not a)


def probe(backbone: str | Path, data: str | Path, out: str | Path | None = None, epochs: int = 5,
          batch_size: int = 128, layer_sets: Sequence[str] = LAYER_SETS, avgpool: Sequence[bool] = (False, True),
          learning_rates: Sequence[float] = OFFICIAL_LEARNING_RATES, max_train: int | None = None,
          max_val: int | None = None, hflip: bool = True, extract_batch_size: int = 32,
          device: str | None = None, seed: int = 0, progress: bool = True, results: str | Path | None = None,
          cache_dir: str | Path | None = None, feature_dtype: str = "float32",
          log: Callable[[str], None] | None = print) -> dict:
    """Run the Task 1 protocol and write its outputs; returns what ``metrics.json`` holds.

    Args:
        backbone: a built-in tiny name (``tiny-vit``, ``tiny-resnet``, ``tiny-convnext``: a smoke test), a
            baseline folder, a local ``save_pretrained`` folder (model + image processor) or a Hub id.
        data: a dataset folder written by ``imagenet3d build`` (its ``probe`` config, else its ``pose`` config).
        out: output folder (default ``probe_output/<backbone name>``).
        epochs, batch_size: training of the heads (official: 5 and 128).
        layer_sets: any of ``last``, ``last4``, ``uniform4`` (default all three, the official grid); stages
            for a convolutional backbone.
        avgpool: the avgpool choices (default both: without, then with the patch-token mean); backbones
            without a separate patch mean (feature maps, no CLS token) keep only "without".
        learning_rates: the grid's base learning rates (default the official 13, 1e-5 ... 0.1).
        max_train, max_val: use a seeded random subset of that many rows (quick runs; the reported
            number is then not the protocol's).
        hflip: mirror augmentation in training (official: on); off skips the mirrored features.
        extract_batch_size: images per backbone forward pass.
        device: ``cuda``, ``cpu``, ... (default: CUDA when available).
        seed: seeds the subsets, the heads' initialisation, the shuffling and the flips.
        progress: progress bars for feature extraction and training.
        results: a results file (JSONL) to append this run's line to; ``None``: none.
        cache_dir: the feature cache folder (:mod:`modeling.probing.cache`); ``None``: a temporary folder,
            deleted at the end (the features still go through a memory-mapped file).
        feature_dtype: ``float32`` or ``float16`` for the stored features.
        log: where the run's notes go (what is read from the backbone, the cache); ``None``: nowhere.

    Raises ImageNet3DError for bad options, a dataset or backbone that cannot be read.
    """
    log = log or (lambda _message: None)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    out = Path(out) if out is not None else default_out(backbone)
    for option, value in (("epochs", epochs), ("batch_size", batch_size), ("extract_batch_size", extract_batch_size),
                          ("max_train", max_train), ("max_val", max_val)):
        if value is not None and value < 1:
            raise ImageNet3DError(f"{option} must be at least 1, got {value}")
    if not layer_sets or not avgpool or not learning_rates:
        raise ImageNet3DError("need at least one layer set, one avgpool choice and one learning rate")
    if any(not (lr > 0 and np.isfinite(lr)) for lr in learning_rates):
        raise ImageNet3DError(f"learning rates must be positive numbers, got {list(learning_rates)}")
    for layer_set in layer_sets:
        if layer_set not in LAYER_SETS:
            raise ImageNet3DError(f"unknown layer set {layer_set!r}; choose from {', '.join(LAYER_SETS)}")
    if feature_dtype not in FEATURE_DTYPES:
        raise ImageNet3DError(f"feature dtype must be one of {', '.join(FEATURE_DTYPES)}, got {feature_dtype!r}")
    train, val, config = load_probe_splits(data, max_train, max_val, seed)
    if config != "probe":
        log(f"data: {data} has no 'probe' config: reading its '{config}' config (bins computed from the angles)")
    source = resolve_backbone(backbone)
    log(f"backbone: {source.describe()}")
    fingerprint = dataset_fingerprint(data)
    fields = {**source.cache_identity(), "dataset_fingerprint": fingerprint, "config": config}

    start = time.perf_counter()
    folder = nullcontext(cache_dir) if cache_dir is not None else tempfile.TemporaryDirectory(prefix="probe_features_")
    with folder as cache_folder:
        caches, num_layers, reused = split_features(source, {"train": train, "validation": val}, Path(cache_folder),
                                                    fields, hflip, extract_batch_size, feature_dtype, device,
                                                    progress, log)
        train_cache, val_cache = caches["train"], caches["validation"]
        log(f"reads: {train_cache.layout.description}")
        avgpool_used = _avgpool_choices(avgpool, train_cache.layout, log)
        variants = make_variants(layer_sets, num_layers, avgpool_used)
        log("layer sets: " + "; ".join(f"{s} = {list(layer_indices(s, num_layers))}" for s in layer_sets))
        extract_s = time.perf_counter() - start

        start = time.perf_counter()
        grid = train_grid(train_cache, variants, learning_rates, epochs, batch_size, hflip, seed, device, progress)
        bins = predict_bins(grid, val_cache, device=device)
        train_s = time.perf_counter() - start
        widths = {str(layer): width for layer, (_, width) in train_cache.layout.layers.items()}
        description = train_cache.layout.description
        del caches, train_cache, val_cache  # release the memory maps before a temporary folder goes

    val_angles = angle_columns(val)
    errors = head_errors(bins, val_angles)                           # (V, R, N)
    acc = (errors < THRESHOLDS["acc_pi6"]).mean(axis=-1) * 100.0     # (V, R)
    best = np.unravel_index(int(np.argmax(acc)), acc.shape)          # first maximum in grid order
    categories = val.features["category"].int2str(list(val["category"]))
    ids = list(val["object_id"])
    predicted = bin_to_angle(bins[best])
    predictions = [{"id": i, **{a: float(p[k]) for k, a in enumerate(ANGLE_NAMES)}} for i, p in zip(ids, predicted)]
    references = [{"id": i, "category": c, **{a: float(g[k]) for k, a in enumerate(ANGLE_NAMES)}}
                  for i, c, g in zip(ids, categories, val_angles)]
    result = score_records(predictions, references, "pose")  # what `imagenet3d score` recomputes from the files
    variant, lr = grid.variants[best[0]], grid.learning_rates[best[1]]
    protocol = {"epochs": epochs, "batch_size": batch_size, "learning_rates": [float(r) for r in learning_rates],
                "layer_sets": list(layer_sets), "avgpool": list(avgpool), "avgpool_used": list(avgpool_used),
                "hflip": hflip, "max_train": max_train, "max_val": max_val, "seed": seed, "train_objects": len(train),
                "val_objects": len(val)}
    protocol["official"] = is_official_protocol(protocol, OFFICIAL_LEARNING_RATES, LAYER_SETS)
    best_info = {"variant": variant.name, "layer_set": variant.layer_set, "layers": list(variant.layers),
                 "avgpool": variant.avgpool, "learning_rate": lr, "val_acc_pi6": float(acc[best])}
    result["probe"] = {
        "backbone": str(backbone), "backbone_identity": source.identity(), "smoke_test": source.smoke_test,
        "data": str(data), "dataset_config": config, "dataset_fingerprint": fingerprint, "readout": description,
        "selection": SELECTION_NOTE, "best": best_info,
        "grid": [{"variant": v.name, "learning_rate": r, "val_acc_pi6": float(acc[i, j])}
                 for i, v in enumerate(grid.variants) for j, r in enumerate(grid.learning_rates)],
        "protocol": {**protocol, "optimizer": "SGD momentum 0.9, wd 0, cosine", "num_layers": num_layers,
                     "feature_widths": widths, "device": str(device), "feature_dtype": feature_dtype},
        "features_reused": reused, "epoch_losses": grid.epoch_losses,
        "seconds": {"features": round(extract_s, 2), "train_and_predict": round(train_s, 2)},
    }

    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "predictions.jsonl", predictions)
    write_jsonl(out / "references.jsonl", references)
    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    name = source.short_name + (" (tiny random backbone: a smoke test, not a result)" if source.smoke_test else "")
    table = format_metrics_table(result, title=f"{source.short_name} ({variant.name}, lr {lr:g})")
    (out / "table.md").write_text(
        f"# Task 1 linear probe: {name}\n\n{table}\n\nSelection: {SELECTION_NOTE}. Heads: {len(grid.variants)} "
        f"variants × {len(grid.learning_rates)} learning rates, {epochs} epochs, batch {batch_size}; "
        f"{len(train)} training and {len(val)} validation objects.\n\n" + error_kinds_section(result["error_kinds"]),
        encoding="utf-8")
    _plot_grid(out / "grid.png", grid, acc, best, f"{source.short_name}: linear probe grid")
    if results is not None:
        record = result_record(source.identity(), source.smoke_test, description, best_info, result, data, config,
                               fingerprint, protocol, reused, out)
        result["probe"]["results_file"] = str(append_result(results, record))
    return result

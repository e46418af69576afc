"""The frozen side of Task 1 (linear probing): layer sets, feature extraction into a memory-mapped file, and
the cached features the heads train on.

The official protocol (``shared/imagenet3d_spec.md`` §5 Task 1; ``wufeim/imagenet3d_exp``
``models/probe_transformers.py`` and ``models/linear_classifier.py``) probes CLS tokens of a set of
layers, concatenated, optionally followed by the mean of the patch tokens of the last chosen layer:

* layer sets (``hidden_states`` indices; index 0 is the embedding output, index ``L`` the last block or stage):
  ``last`` = [L], ``last4`` = [L-3, L-2, L-1, L], ``uniform4`` = [L//4, L//2, (L//4)·3, L] (the
  official ``select_layers``, which counts blocks from 0, shifted by the embedding output);
* tokens are the raw ``hidden_states`` as the official code reads them, so for DINOv2 the last one
  is *before* the final layer norm (``last_hidden_state`` is after it);
* every chosen set ends with the last layer, so one patch-token mean (layer L) serves every variant.

What a layer gives for each kind of backbone (CLS token, token mean, global average pool of a stage) is
:mod:`modeling.probing.backbones`. The backbone runs once over the data (eval mode, ``torch.no_grad``) and
every layer of every official set (:func:`stored_layers`) is written, batch by batch, into a ``.npy`` file
read back memory-mapped, so memory does not grow with the dataset and another layer set needs no new pass.
With ``mirror=True`` the horizontally flipped image goes through it too, so that the heads can be trained
with hflip augmentation in any number of passes over the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from modeling.geometry import ANGLE_NAMES, NUM_BINS, angle_to_bin, flip_pose
from modeling.probing.backbones import Layout, layer_vectors, prefix_tokens
from modeling.utils.errors import ImageNet3DError

LAYER_SETS = ("last", "last4", "uniform4")
"""The official layer choices, in the official order."""


def layer_indices(layer_set: str, num_layers: int) -> tuple[int, ...]:
    """``hidden_states`` indices of a layer set for a backbone with ``num_layers`` blocks."""
    if layer_set not in LAYER_SETS:
        raise ImageNet3DError(f"unknown layer set {layer_set!r}; choose from {', '.join(LAYER_SETS)}")
    if layer_set == "last":
        return (num_layers,)
    if num_layers < 4:
        raise ImageNet3DError(f"layer set {layer_set!r} needs a backbone with at least 4 layers, got {num_layers}")
    if layer_set == "last4":
        return tuple(range(num_layers - 3, num_layers + 1))
    quarter = num_layers // 4
    return (quarter, num_layers // 2, quarter * 3, num_layers)


@dataclass(frozen=True)
class Variant:
    """One feature variant: the CLS tokens of ``layers`` (hidden-state indices), concatenated,
    then the mean patch token of the last of them when ``avgpool``."""

    layer_set: str
    layers: tuple[int, ...]
    avgpool: bool

    @property
    def name(self) -> str:
        """The variant's name: the layer set, with '+avgpool' when the patch-token mean is appended."""
        return self.layer_set + ("+avgpool" if self.avgpool else "")


def make_variants(layer_sets: Sequence[str], num_layers: int,
                  avgpool: Sequence[bool] = (False, True)) -> list[Variant]:
    """The variants of the grid, layer set by layer set (the official order), each without then with avgpool."""
    return [Variant(s, layer_indices(s, num_layers), a) for s in layer_sets for a in avgpool]


def stored_layers(num_layers: int) -> tuple[int, ...]:
    """Every ``hidden_states`` index of any official layer set that fits ``num_layers`` blocks, ascending: what
    the feature file holds, so that any ``--layers`` choice reads it without running the backbone again."""
    sets = LAYER_SETS if num_layers >= 4 else ("last",)
    return tuple(sorted({i for s in sets for i in layer_indices(s, num_layers)}))


@dataclass
class FeatureCache:
    """Backbone features of one split.

    Attributes:
        features: (views, N, F) float32 or float16, a memory-mapped ``.npy`` or an array in memory; view 0 is the
            image, view 1 (when cached) its horizontal mirror. Row layout: ``layout``.
        layout: where each layer's vector (and the patch-token mean) sits in a row.
        labels: 40-bin labels (views, N, 3) int64, (azimuth, elevation, theta) of each view.
    """

    features: np.ndarray
    layout: Layout
    labels: torch.Tensor

    @classmethod
    def from_tokens(cls, tokens: torch.Tensor, patch_mean: torch.Tensor | None, layers: Sequence[int],
                    labels: torch.Tensor) -> FeatureCache:
        """A cache in memory from per-layer vectors (views, N, K, D) of ``layers`` and a patch mean (views, N, D)."""
        views, n, k, d = tokens.shape
        parts = [tokens.reshape(views, n, k * d)] + ([patch_mean] if patch_mean is not None else [])
        layout = Layout({layer: (i * d, d) for i, layer in enumerate(layers)},
                        (k * d, patch_mean.shape[-1]) if patch_mean is not None else None, "in memory")
        return cls(torch.cat(parts, dim=-1).float().numpy(), layout, labels)

    @property
    def num_views(self) -> int:
        """How many views each row has (1, or 2 with the mirrored training crops)."""
        return self.features.shape[0]

    @property
    def layers(self) -> tuple[int, ...]:
        """The ``hidden_states`` indices held, ascending."""
        return tuple(sorted(self.layout.layers))

    def __len__(self) -> int:
        return self.features.shape[1]

    def input_dim(self, variant: Variant) -> int:
        """Width of a head's input for ``variant``: the widths of its layers (+ the patch mean's if avgpool)."""
        return sum(self.layout.layers[layer][1] for layer in variant.layers) + (
            self.layout.patch[1] if variant.avgpool and self.layout.patch else 0)

    def inputs(self, variants: Sequence[Variant], index: torch.Tensor, view: torch.Tensor | None = None,
               width: int | None = None) -> torch.Tensor:
        """Head inputs of the rows ``index`` (each in its ``view``), (len(variants), B, width) float32.

        Variants have different input sizes; each is zero-padded to ``width`` (default: the largest),
        so that all heads of the grid run as one batched matrix product. A zero input never changes
        a weight, so padding does not change what a head learns. Raises ImageNet3DError for a variant
        whose layers (or patch mean) the cache does not hold.
        """
        view = torch.zeros_like(index) if view is None else view
        rows = torch.from_numpy(np.asarray(self.features[view.numpy(), index.numpy()], dtype=np.float32))  # (B, F)
        width = width or max(self.input_dim(v) for v in variants)
        out = rows.new_zeros(len(variants), len(index), width)
        for v, variant in enumerate(variants):
            missing = [layer for layer in variant.layers if layer not in self.layout.layers]
            if missing or (variant.avgpool and self.layout.patch is None):
                raise ImageNet3DError(f"variant {variant.name}: the cached features hold layers "
                                      f"{list(self.layers)}{' and a patch mean' if self.layout.patch else ''}")
            spans = [self.layout.layers[layer] for layer in variant.layers]
            spans += [self.layout.patch] if variant.avgpool else []
            features = torch.cat([rows[:, s:s + w] for s, w in spans], dim=-1)
            out[v, :, :features.shape[-1]] = features
        return out


@torch.no_grad()
def backbone_hidden_states(model: torch.nn.Module, pixel_values: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """All ``hidden_states`` (embedding or stem output first) of a batch: tokens (B, T, D) or maps (B, C, H, W).

    Raises ImageNet3DError when the backbone returns no ``hidden_states``.
    """
    outputs = model(pixel_values=pixel_values, output_hidden_states=True)
    hidden = getattr(outputs, "hidden_states", None)
    if not hidden:
        raise ImageNet3DError(f"{type(model).__name__} returns no hidden_states: the probe reads the backbone's "
                              "intermediate layers")
    return tuple(hidden)


def num_backbone_layers(model: torch.nn.Module, processor: Any) -> int:
    """Blocks (or stages) of the backbone, from one forward pass of a blank image (robust to config naming)."""
    from PIL import Image

    pixels = processor(images=[Image.new("RGB", (64, 64))], return_tensors="pt")["pixel_values"]
    return len(backbone_hidden_states(model, pixels.to(_device_of(model)))) - 1


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def bin_labels(angles: np.ndarray, mirror: bool) -> torch.Tensor:
    """40-bin labels (views, N, 3) of the angles (N, 3), radians: ``geometry.angle_to_bin`` of the angles, then,
    when ``mirror``, of the mirrored pose (:func:`geometry.flip_pose`; a flipped bin index is not a function of
    the bin alone: 2π − a can fall in either neighbour of bin 39 − k)."""
    angles = np.asarray(angles, dtype=np.float64).reshape(-1, 3)
    views = [angle_to_bin(angles, NUM_BINS)]
    if mirror:
        views.append(angle_to_bin(np.stack(flip_pose(angles[:, 0], angles[:, 1], angles[:, 2]), axis=-1), NUM_BINS))
    return torch.from_numpy(np.stack(views).astype(np.int64))


def extract_features(model: torch.nn.Module, processor: Any, images: Iterable[list], num_rows: int,
                     layers: Sequence[int], path: str | Path, mirror: bool = False, dtype: str = "float32",
                     desc: str = "features", progress: bool = True) -> Layout:
    """Run the frozen backbone over batches of PIL images and write one feature row per image and view into
    the ``.npy`` file ``path``, (views, num_rows, F), batch by batch (memory stays flat in ``num_rows``).

    Args:
        model, processor: the frozen backbone and its image processor.
        images: batches (lists) of PIL images, ``num_rows`` in all.
        layers: the ``hidden_states`` indices to keep (ascending after deduplication); the patch mean is
            taken from the largest.
        path: the ``.npy`` file to write (its folder must exist).
        mirror: also encode the horizontally flipped image (view 1). The flip is applied to the
            processed pixels, i.e. it mirrors exactly what the backbone sees.
        dtype: ``float32`` or ``float16`` (half the disk, rounding of ~1e-3 relative).
        desc, progress: the progress bar's label, and whether to show it.

    Returns the row layout. Raises ImageNet3DError when a layer is past the backbone's depth or the images are
    not ``num_rows``.
    """
    layers = tuple(sorted(set(layers)))
    has_cls, prefix = prefix_tokens(model)
    device = _device_of(model)
    views = 2 if mirror else 1
    out, layout, seen = None, None, 0
    with tqdm(total=num_rows, desc=desc, unit="img", disable=not progress) as bar:
        for batch in images:
            if seen + len(batch) > num_rows:
                raise ImageNet3DError(f"expected {num_rows} images, got more")
            pixels = processor(images=[im.convert("RGB") for im in batch], return_tensors="pt")["pixel_values"]
            pixels = pixels.to(device)
            if mirror:
                pixels = torch.cat([pixels, pixels.flip(-1)])
            hidden = backbone_hidden_states(model, pixels)
            if max(layers) >= len(hidden):
                raise ImageNet3DError(f"layer {max(layers)} requested but the backbone has {len(hidden) - 1} layers")
            rows, layout = layer_vectors(hidden, layers, has_cls, prefix)                 # (views·B, F)
            if out is None:
                out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(views, num_rows, rows.shape[-1]))
            out[:, seen:seen + len(batch)] = rows.cpu().unflatten(0, (views, -1)).numpy().astype(dtype)
            seen += len(batch)
            bar.update(len(batch))
    if seen != num_rows or out is None:
        raise ImageNet3DError(f"expected {num_rows} images, got {seen}")
    out.flush()
    del out
    return layout


def angle_columns(rows: Any, suffix: str = "") -> np.ndarray:
    """(N, 3) array of the columns azimuth, elevation, theta (``suffix="_bin"``: their bins) of a table."""
    return np.stack([np.asarray(rows[name + suffix]) for name in ANGLE_NAMES], axis=-1)

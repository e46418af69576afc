"""The frozen side of Task 1 (linear probing): load any Hugging Face vision backbone, cache its features.

The official protocol (``shared/imagenet3d_spec.md`` §5 Task 1; ``wufeim/imagenet3d_exp``
``models/probe_transformers.py`` and ``models/linear_classifier.py``) probes CLS tokens of a set of
layers, concatenated, optionally followed by the mean of the patch tokens of the last chosen layer:

* layer sets (``hidden_states`` indices; index 0 is the embedding output, index ``L`` the last block):
  ``last`` = [L], ``last4`` = [L-3, L-2, L-1, L], ``uniform4`` = [L//4, L//2, (L//4)·3, L] (the
  official ``select_layers``, which counts blocks from 0, shifted by the embedding output);
* tokens are the raw ``hidden_states`` as the official code reads them, so for DINOv2 the last one
  is *before* the final layer norm (``last_hidden_state`` is after it);
* every chosen set ends with the last layer, so one patch-token mean (layer L) serves every variant.

The backbone runs once over the data (eval mode, ``torch.no_grad``); with ``mirror=True`` the
horizontally flipped image goes through it too, so that the heads can be trained with hflip
augmentation in any number of passes over the cache.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from modeling.geometry import ANGLE_NAMES, NUM_BINS, angle_to_bin, flip_pose
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


@dataclass
class FeatureCache:
    """Backbone features of one split.

    Attributes:
        cls: CLS tokens, (views, N, len(layers), D) float32 on the CPU; view 0 is the image, view 1
            (when cached) its horizontal mirror.
        patch_mean: mean patch token of the last layer, (views, N, D).
        layers: the ``hidden_states`` indices held in ``cls``, ascending.
        labels: 40-bin labels (views, N, 3) int64, (azimuth, elevation, theta) of each view.
    """

    cls: torch.Tensor
    patch_mean: torch.Tensor
    layers: tuple[int, ...]
    labels: torch.Tensor

    @property
    def num_views(self) -> int:
        """How many views each row has (1, or 2 with the mirrored training crops)."""
        return self.cls.shape[0]

    def __len__(self) -> int:
        return self.cls.shape[1]

    def input_dim(self, variant: Variant) -> int:
        """Width of a head's input for ``variant``: hidden size × (layers + 1 if avgpool)."""
        return self.cls.shape[-1] * (len(variant.layers) + int(variant.avgpool))

    def inputs(self, variants: Sequence[Variant], index: torch.Tensor, view: torch.Tensor | None = None,
               width: int | None = None) -> torch.Tensor:
        """Head inputs of the rows ``index`` (each in its ``view``), (len(variants), B, width).

        Variants have different input sizes; each is zero-padded to ``width`` (default: the largest),
        so that all heads of the grid run as one batched matrix product. A zero input never changes
        a weight, so padding does not change what a head learns.
        """
        view = torch.zeros_like(index) if view is None else view
        cls = self.cls[view, index]                  # (B, K, D)
        patch = self.patch_mean[view, index]         # (B, D)
        width = width or max(self.input_dim(v) for v in variants)
        out = cls.new_zeros(len(variants), len(index), width)
        position = {layer: k for k, layer in enumerate(self.layers)}
        for v, variant in enumerate(variants):
            parts = [cls[:, position[layer]] for layer in variant.layers] + ([patch] if variant.avgpool else [])
            features = torch.cat(parts, dim=-1)
            out[v, :, :features.shape[-1]] = features
        return out


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def load_backbone(name_or_dir: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, Any]:
    """A frozen vision backbone (eval mode, no gradients) and its image processor.

    ``name_or_dir`` is a local ``save_pretrained`` folder or a Hub id (e.g. ``facebook/dinov2-base``,
    ``facebook/vit-mae-base``, ``openai/clip-vit-base-patch16``). For a composite model with a
    ``vision_config`` (CLIP, SigLIP, ...) the vision model alone is loaded (``CLIPVisionModel``).
    MAE's random masking is switched off (``mask_ratio=0``) so that the probe sees every patch (a
    deviation: the official code kept the default 0.75). The protocol reads the CLS token at position 0,
    so backbones without one (SigLIP, for instance) load but are not meaningfully probed. Without
    torchvision, ``AutoImageProcessor`` falls back to the ``...Pil`` processor classes (checked offline).
    """
    from transformers import AutoConfig, AutoImageProcessor, AutoModel
    from transformers.models.auto.modeling_auto import MODEL_MAPPING

    name = str(name_or_dir)
    path = Path(name)
    if path.exists():
        if not path.is_dir():
            raise ImageNet3DError(f"{name}: is a file; --backbone takes a model folder or a Hub id")
        for required in ("config.json", "preprocessor_config.json"):
            if not (path / required).is_file():
                raise ImageNet3DError(f"{name}: not a model folder (no {required}; save the model and its "
                                      f"image processor with save_pretrained)")
    try:
        config = AutoConfig.from_pretrained(name)
        vision_config = getattr(config, "vision_config", None)
        if vision_config is not None and type(vision_config) in MODEL_MAPPING:
            model = MODEL_MAPPING[type(vision_config)].from_pretrained(name)
        else:
            if hasattr(config, "mask_ratio"):
                config.mask_ratio = 0.0
            model = AutoModel.from_pretrained(name, config=config)
        processor = AutoImageProcessor.from_pretrained(name)
    except (OSError, ValueError, KeyError) as err:
        raise ImageNet3DError(f"{name}: cannot load a backbone: not a model folder, and not a Hub model id that "
                              f"is cached or reachable ({_first_line(err)})") from None
    if "pixel_values" not in inspect.signature(model.forward).parameters:
        raise ImageNet3DError(f"{name}: {type(model).__name__} is not a vision backbone (no pixel_values input)")
    model.requires_grad_(False)
    return model.eval().to(device), processor


def _register_tokens(model: torch.nn.Module) -> int:
    # DINOv2 with registers: [CLS, registers..., patches...]; the patch mean must skip the registers.
    return int(getattr(model.config, "num_register_tokens", 0) or 0)


@torch.no_grad()
def backbone_hidden_states(model: torch.nn.Module, pixel_values: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """All ``hidden_states`` (embedding output first) of a batch; an error if the backbone has no token sequence."""
    outputs = model(pixel_values=pixel_values, output_hidden_states=True)
    hidden = getattr(outputs, "hidden_states", None)
    if not hidden or hidden[-1].dim() != 3:
        raise ImageNet3DError(f"{type(model).__name__} does not return token hidden states (batch, tokens, dim); "
                              "the probe needs a ViT-like backbone with a CLS token")
    return tuple(hidden)


def num_backbone_layers(model: torch.nn.Module, processor: Any) -> int:
    """Blocks of the backbone, from one forward pass of a blank image (robust to config naming)."""
    from PIL import Image

    pixels = processor(images=[Image.new("RGB", (64, 64))], return_tensors="pt")["pixel_values"]
    return len(backbone_hidden_states(model, pixels.to(_device_of(model)))) - 1


def _device_of(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def bin_labels(bins: np.ndarray, angles: np.ndarray, mirror: bool) -> torch.Tensor:
    """40-bin labels (views, N, 3): the dataset's bins (N, 3), then, when ``mirror``, the bins of the
    mirrored pose, computed from the angles (N, 3) with :func:`geometry.flip_pose` (a flipped bin index
    is not a function of the bin alone: 2π − a can fall in either neighbour of bin 39 − k)."""
    views = [np.asarray(bins, dtype=np.int64).reshape(-1, 3)]
    if mirror:
        angles = np.asarray(angles, dtype=np.float64).reshape(-1, 3)
        views.append(angle_to_bin(np.stack(flip_pose(angles[:, 0], angles[:, 1], angles[:, 2]), axis=-1), NUM_BINS))
    return torch.from_numpy(np.stack(views))


def extract_features(model: torch.nn.Module, processor: Any, images: Iterable[list], num_rows: int,
                     bins: np.ndarray, angles: np.ndarray, layers: Sequence[int], mirror: bool = False,
                     desc: str = "features", progress: bool = True) -> FeatureCache:
    """Run the frozen backbone over batches of PIL images and keep what the probe heads need.

    Args:
        model, processor: as :func:`load_backbone` returns them.
        images: batches (lists) of PIL images, ``num_rows`` in all, in the order of ``angles``.
        bins, angles: (num_rows, 3) 40-bin labels and angles (radians) of azimuth, elevation, theta,
            in the order of ``images`` (the angles give the labels of the mirrored view).
        layers: the ``hidden_states`` indices to keep (the union over the variants); the patch mean
            is taken from the largest.
        mirror: also encode the horizontally flipped image (view 1). The flip is applied to the
            processed pixels, i.e. it mirrors exactly what the backbone sees.
        desc, progress: the progress bar's label, and whether to show it.
    """
    layers = tuple(sorted(set(layers)))
    skip = 1 + _register_tokens(model)
    device = _device_of(model)
    cls_parts, patch_parts = [], []
    seen = 0
    with tqdm(total=num_rows, desc=desc, unit="img", disable=not progress) as bar:
        for batch in images:
            pixels = processor(images=[im.convert("RGB") for im in batch], return_tensors="pt")["pixel_values"]
            pixels = pixels.to(device)
            if mirror:
                pixels = torch.cat([pixels, pixels.flip(-1)])
            hidden = backbone_hidden_states(model, pixels)
            if max(layers) >= len(hidden):
                raise ImageNet3DError(f"layer {max(layers)} requested but the backbone has {len(hidden) - 1} layers")
            cls = torch.stack([hidden[i][:, 0] for i in layers], dim=1).float().cpu()    # (views·B, K, D)
            patch = hidden[layers[-1]][:, skip:].mean(dim=1).float().cpu()              # (views·B, D)
            views = 2 if mirror else 1
            cls_parts.append(cls.unflatten(0, (views, -1)))
            patch_parts.append(patch.unflatten(0, (views, -1)))
            seen += len(batch)
            bar.update(len(batch))
    if seen != num_rows:
        raise ImageNet3DError(f"expected {num_rows} images, got {seen}")
    return FeatureCache(cls=torch.cat(cls_parts, dim=1), patch_mean=torch.cat(patch_parts, dim=1), layers=layers,
                        labels=bin_labels(bins, angles, mirror))


def angle_columns(rows: Any, suffix: str = "") -> np.ndarray:
    """(N, 3) array of the columns azimuth, elevation, theta (``suffix="_bin"``: their bins) of a table."""
    return np.stack([np.asarray(rows[name + suffix]) for name in ANGLE_NAMES], axis=-1)

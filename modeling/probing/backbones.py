"""Which backbone Task 1 probes, what identifies it, and what is read from each kind.

:func:`resolve_backbone` turns ``--backbone`` into a :class:`BackboneSource` *without* loading weights (so that a
probe whose features are cached never loads the model): its kind, its identity (the Hub commit, or a SHA-256 of
the weights) and its image processor. ``BackboneSource.load`` then gives the frozen model (eval, no gradients).

Kinds, in the order they are tried:

* ``tiny``: the built-in names ``tiny-vit``, ``tiny-resnet`` and ``tiny-convnext`` (when no such folder exists):
  a tiny **random** backbone (seed 0, 64×64 inputs), built offline in a second. A smoke test of the pipeline,
  not a result: its numbers say nothing about any real backbone.
* ``baseline``: a folder of our classification baseline (``modeling/baseline``, ``imagenet3d train-baseline``):
  its ``PoseClassifier.backbone`` is probed through the folder's image processor; its heads are not used.
* ``folder``: a local ``save_pretrained`` folder (model + image processor).
* ``hub``: a Hub id (``facebook/dinov2-base``); offline it must already be in the Hugging Face cache.

For a composite model with a ``vision_config`` (CLIP, SigLIP) the vision model alone is used; MAE's random
masking is switched off (``mask_ratio=0``) so that every patch is seen (the official code kept 0.75).

What is read from a layer's hidden state (``hidden_states[i]``; 0 is the embedding or stem output, i ≥ 1 the
i-th block or stage), by its shape (:func:`layer_vectors`), so hybrids mix the rules per layer:

* tokens (B, T, D) of a backbone with a CLS token (ViT, DeiT, DINOv2, MAE, CLIP, BEiT): the **CLS token**
  (position 0), as the official code reads it; the patch-token mean (``avgpool``) of the last layer skips every
  prefix token: CLS, DeiT's distillation token and DINOv2's registers;
* tokens without a CLS token (SigLIP, Swin): the **mean of the tokens** ("pooled"; SigLIP's attention-pooling
  head is not used), so a separate patch mean would repeat it and the avgpool variants are left out;
* feature maps (B, C, H, W) (ResNet, ConvNeXt): the **global average pool** of each stage's output, so the
  layer sets count stages (``last4`` of a 4-stage network is its 4 stages) and avgpool is left out likewise.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from modeling.utils.errors import ImageNet3DError

TINY_SEED = 0
TINY_IMAGE_SIZE = 64
TINY_BACKBONES: dict[str, str] = {
    "tiny-vit": "a random 8-block ViT (hidden size 32, 8×8 patches)",
    "tiny-resnet": "a random 4-stage ResNet (basic blocks, widths 16-128)",
    "tiny-convnext": "a random 4-stage ConvNeXt (widths 16-128)",
}
"""The built-in tiny random backbones: a smoke test that runs offline, not a result."""
KINDS = ("tiny", "baseline", "folder", "hub")
_PREFIX_PARAMETERS = ("cls_token", "class_embedding", "distillation_token", "register_tokens")
_VOLATILE_CONFIG_KEYS = ("_name_or_path", "transformers_version", "_commit_hash")


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _canonical_sha256(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def config_sha256(config: Any) -> str:
    """SHA-256 of a transformers config's fields (without its path and version), as canonical JSON."""
    fields = {k: v for k, v in config.to_dict().items() if k not in _VOLATILE_CONFIG_KEYS}
    return _canonical_sha256(fields)


def folder_weights_sha256(folder: str | Path) -> str | None:
    """SHA-256 over the weight files of a model folder (``*.safetensors``, else ``*.bin``), names and bytes,
    in name order; ``None`` when it has none."""
    folder = Path(folder)
    for pattern in ("*.safetensors", "*.bin"):
        files = sorted(folder.glob(pattern))
        if files:
            digest = hashlib.sha256()
            for path in files:
                digest.update(path.name.encode("utf-8") + b"\0")
                with path.open("rb") as handle:
                    for chunk in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(chunk)
            return digest.hexdigest()
    return None


def state_dict_sha256(model: torch.nn.Module) -> str:
    """SHA-256 over a model's tensors (name, dtype, shape, bytes) in name order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def _tiny(name: str) -> tuple[torch.nn.Module, Any]:
    from transformers import (
        ConvNextConfig,
        ConvNextModel,
        ResNetConfig,
        ResNetModel,
        ViTConfig,
        ViTImageProcessorPil,
        ViTModel,
    )

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        if name == "tiny-vit":
            model = ViTModel(ViTConfig(hidden_size=32, num_hidden_layers=8, num_attention_heads=4,
                                       intermediate_size=64, image_size=TINY_IMAGE_SIZE, patch_size=8),
                             add_pooling_layer=False)
        elif name == "tiny-resnet":
            model = ResNetModel(ResNetConfig(embedding_size=16, hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1],
                                             layer_type="basic"))
        else:
            model = ConvNextModel(ConvNextConfig(hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1]))
    return model, ViTImageProcessorPil(size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE})


@dataclass
class BackboneSource:
    """A backbone resolved from ``--backbone``, weights not yet loaded (except a tiny one, built in memory).

    Attributes:
        name: as given (a built-in name, a folder or a Hub id).
        kind: one of ``KINDS``.
        config: the model's transformers config (a baseline's: the whole ``PoseClassifierConfig``).
        processor: the image processor the backbone's inputs go through.
        revision: the Hub commit of the snapshot (kind ``hub``), else ``None``.
        weights_sha256: SHA-256 of the weight files (``folder``, ``baseline``) or tensors (``tiny``), else ``None``.
    """

    name: str
    kind: str
    config: Any
    processor: Any
    revision: str | None = None
    weights_sha256: str | None = None
    _model: torch.nn.Module | None = field(default=None, repr=False)

    @property
    def short_name(self) -> str:
        """The folder's or the Hub id's last component (``dinov2-base``), or the built-in name."""
        return Path(self.name.rstrip("/")).name

    @property
    def smoke_test(self) -> bool:
        """Whether this is a built-in tiny random backbone (its numbers are not a result)."""
        return self.kind == "tiny"

    def identity(self) -> dict:
        """What identifies the backbone's weights and inputs: name, kind, revision or weights hash, config and
        image-processor hashes (JSON-ready)."""
        return {"backbone": self.name, "kind": self.kind, "revision": self.revision,
                "weights_sha256": self.weights_sha256, "config_sha256": config_sha256(self.config),
                "processor_sha256": _canonical_sha256(self.processor.to_dict())}

    def cache_identity(self) -> dict:
        """:meth:`identity` as the feature cache keys on it: without the name when the weights hash identifies the
        weights (the same folder given by another path, or moved, is the same backbone)."""
        identity = self.identity()
        if self.weights_sha256 is not None:
            identity.pop("backbone")
        return identity

    def describe(self) -> str:
        """One line: what the backbone is and where its weights come from."""
        if self.kind == "tiny":
            return (f"{self.name}: {TINY_BACKBONES[self.name]}, seed {TINY_SEED}: a smoke test of the pipeline, "
                    f"not a result")
        where = {"baseline": "the classification baseline's backbone (its heads are not used), folder",
                 "folder": "local folder", "hub": "Hub model"}[self.kind]
        ident = f"commit {self.revision}" if self.revision else f"weights sha256 {str(self.weights_sha256)[:12]}"
        return f"{self.name}: {where} ({ident})"

    def load(self, device: str | torch.device = "cpu") -> torch.nn.Module:
        """The frozen backbone (eval mode, no gradients) on ``device``."""
        from transformers import AutoModel
        from transformers.models.auto.modeling_auto import MODEL_MAPPING

        if self._model is not None:
            model = self._model
        elif self.kind == "baseline":
            from modeling.baseline.model import load_baseline

            model = load_baseline(self.name)[0].backbone
        else:
            try:
                vision_config = getattr(self.config, "vision_config", None)
                if vision_config is not None and type(vision_config) in MODEL_MAPPING:
                    model = MODEL_MAPPING[type(vision_config)].from_pretrained(self.name)
                else:
                    model = AutoModel.from_pretrained(self.name, config=self.config)
            except (OSError, ValueError, KeyError) as err:
                raise ImageNet3DError(f"{self.name}: cannot load the backbone's weights ({_first_line(err)})") from None
        if "pixel_values" not in inspect.signature(model.forward).parameters:
            raise ImageNet3DError(f"{self.name}: {type(model).__name__} is not a vision backbone (no pixel_values "
                                  "input)")
        model.requires_grad_(False)
        return model.eval().to(device)


def _hub_commit(name: str) -> str | None:
    from transformers.utils import cached_file
    from transformers.utils.hub import extract_commit_hash

    try:
        return extract_commit_hash(cached_file(name, "config.json"), None)
    except (OSError, ValueError):
        return None


def resolve_backbone(name_or_dir: str | Path) -> BackboneSource:
    """Resolve ``--backbone``: a built-in tiny name, a baseline folder, a model folder or a Hub id.

    Raises ImageNet3DError naming the input: a file, a folder without ``config.json`` or
    ``preprocessor_config.json``, or a name that is neither a folder nor a cached or reachable Hub id.
    """
    from transformers import AutoConfig, AutoImageProcessor

    name = str(name_or_dir)
    path = Path(name)
    if not path.exists() and name in TINY_BACKBONES:
        model, processor = _tiny(name)
        return BackboneSource(name, "tiny", model.config, processor, weights_sha256=state_dict_sha256(model),
                              _model=model)
    kind = "hub"
    if path.exists():
        if not path.is_dir():
            raise ImageNet3DError(f"{name}: is a file; --backbone takes a model folder, a Hub id or a built-in name "
                                  f"({', '.join(TINY_BACKBONES)})")
        for required in ("config.json", "preprocessor_config.json"):
            if not (path / required).is_file():
                raise ImageNet3DError(f"{name}: not a model folder (no {required}; save the model and its "
                                      f"image processor with save_pretrained)")
        from modeling.baseline.model import is_baseline_dir  # registers the baseline's config with AutoConfig

        kind = "baseline" if is_baseline_dir(path) else "folder"
    try:
        config = AutoConfig.from_pretrained(name)
        processor = AutoImageProcessor.from_pretrained(name)
    except (OSError, ValueError, KeyError) as err:
        raise ImageNet3DError(f"{name}: cannot load a backbone: not a model folder, not a built-in name "
                              f"({', '.join(TINY_BACKBONES)}), and not a Hub model id that is cached or reachable "
                              f"({_first_line(err)})") from None
    if hasattr(config, "mask_ratio"):
        config.mask_ratio = 0.0
    if kind == "hub":
        return BackboneSource(name, kind, config, processor, revision=_hub_commit(name))
    return BackboneSource(name, kind, config, processor, weights_sha256=folder_weights_sha256(path))


def load_backbone(name_or_dir: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, Any]:
    """A frozen vision backbone (eval mode, no gradients) and its image processor: :func:`resolve_backbone`, then
    ``BackboneSource.load``."""
    source = resolve_backbone(name_or_dir)
    return source.load(device), source.processor


def prefix_tokens(model: torch.nn.Module) -> tuple[bool, int]:
    """``(has a CLS token, number of prefix tokens before the patches)``, from the embedding parameters:
    ``cls_token`` or ``class_embedding`` (CLS), ``distillation_token`` (DeiT), ``register_tokens`` (DINOv2)."""
    has_cls, count = False, 0
    for name, param in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if "embeddings" not in name or leaf not in _PREFIX_PARAMETERS:
            continue
        if leaf in ("cls_token", "class_embedding"):
            has_cls = True
            count += 1
        elif leaf == "distillation_token":
            count += 1
        else:
            count += int(param.shape[-2]) if param.dim() >= 2 else 1
    return has_cls, count


@dataclass(frozen=True)
class Layout:
    """Where each layer's vector sits in a feature row: ``layers`` maps a hidden-state index to ``(start, width)``;
    ``patch`` is the patch-token mean of the last layer, or ``None`` when the backbone has none apart from its
    pooled vector; ``description`` says in words what was read."""

    layers: dict[int, tuple[int, int]]
    patch: tuple[int, int] | None
    description: str

    @property
    def width(self) -> int:
        """Values per row: every layer's width plus the patch mean's."""
        return sum(w for _, w in self.layers.values()) + (self.patch[1] if self.patch else 0)

    def to_json(self) -> dict:
        """The layout as JSON (layer keys become strings)."""
        return {"layers": {str(k): list(v) for k, v in self.layers.items()},
                "patch": list(self.patch) if self.patch else None, "description": self.description}

    @classmethod
    def from_json(cls, data: dict) -> Layout:
        """The inverse of :meth:`to_json`."""
        return cls({int(k): (int(v[0]), int(v[1])) for k, v in data["layers"].items()},
                   tuple(data["patch"]) if data.get("patch") else None, str(data["description"]))


def _describe(kinds: dict[int, str], prefix: int, patch: bool, num_layers: int) -> str:
    words = {"cls": "CLS token (position 0)", "mean": "mean of the tokens (no CLS token)",
             "gap": "global average pool of the feature map"}
    groups: dict[str, list[int]] = {}
    for layer, kind in kinds.items():
        groups.setdefault(kind, []).append(layer)
    parts = [f"{words[k]} of hidden state(s) {', '.join(map(str, v))}" for k, v in groups.items()]
    tail = (f"; patch-token mean of layer {max(kinds)} skipping {prefix} prefix token(s)" if patch
            else "; no separate patch mean (avgpool variants left out)")
    return "; ".join(parts) + f" (of {num_layers} blocks/stages; 0 is the embedding or stem output)" + tail


def layer_vectors(hidden: Sequence[torch.Tensor], layers: Sequence[int], has_cls: bool,
                  prefix: int) -> tuple[torch.Tensor, Layout]:
    """One feature row per image (B, F) float32: each of ``layers`` (ascending ``hidden`` indices) read by its
    shape, then the patch-token mean of the last one when it has tokens and a CLS token (module docstring).

    Raises ImageNet3DError for a hidden state that is neither (B, T, D) nor (B, C, H, W).
    """
    parts, kinds, spans, start = [], {}, {}, 0
    for layer in layers:
        h = hidden[layer]
        if h.dim() == 4:
            vector, kinds[layer] = h.float().mean(dim=(2, 3)), "gap"
        elif h.dim() == 3:
            vector, kinds[layer] = (h[:, 0], "cls") if has_cls else (h[:, prefix:].mean(dim=1), "mean")
        else:
            raise ImageNet3DError(f"hidden state {layer} has shape {tuple(h.shape)}: expected tokens (batch, tokens, "
                                  "dim) or a feature map (batch, channels, height, width)")
        parts.append(vector.float())
        spans[layer] = (start, vector.shape[-1])
        start += vector.shape[-1]
    last = hidden[layers[-1]]
    patch = None
    if last.dim() == 3 and has_cls:
        parts.append(last[:, prefix:].float().mean(dim=1))
        patch = (start, last.shape[-1])
    description = _describe(kinds, prefix, patch is not None, len(hidden) - 1)
    return torch.cat(parts, dim=-1), Layout(spans, patch, description)

"""The classification baseline of the paper's Table 3: a shared vision backbone with a category head and a pose head.

``PoseClassifier`` wraps any Hugging Face vision backbone (``AutoModel``: ResNet, ConvNeXt, ViT, DINOv2, ...) and
adds two linear heads on its pooled features: a ``num_categories``-way class head (189) and a ``3 × num_bins`` pose
head (azimuth, elevation, theta; 40 periodic bins each, as in every official baseline). The loss is
``category_loss_weight · CE_cls + pose_loss_weight · CE_pose`` (1.0 and 1.0 in the paper).

Importing this module registers the classes with ``AutoConfig`` and ``AutoModel`` in-process, so that
``AutoModel.from_pretrained(folder)`` works on a saved baseline while this package is imported; it is not Hub
custom code. :func:`build_baseline` writes a model folder (random small backbone, or a pretrained one by name or
path) with its image processor; ``modeling/baseline/training.py`` trains it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from transformers import (
    AutoConfig,
    AutoImageProcessor,
    AutoModel,
    PreTrainedConfig,
    PreTrainedModel,
    ResNetConfig,
    ViTImageProcessorPil,
)
from transformers.configuration_utils import SubConfigSpec
from transformers.utils import ModelOutput

from dataset_card import CATEGORIES
from modeling.baseline.sizes import SIZES
from modeling.geometry import ANGLE_NAMES, NUM_BINS, angle_to_bin, decode_bins, mean_with_mirror, soft_bin_targets
from modeling.utils.errors import ImageNet3DError, located
from modeling.utils.model_folder import model_type_of

MODEL_TYPE = "imagenet3d_pose_classifier"
NO_POSE = -1
"""The pose label (each of the three bins) of a training image without a pose: a whole image (category only)."""
POOLINGS = ("mean", "cls", "pooler")


class PoseClassifierConfig(PreTrainedConfig):
    r"""
    Configuration of [`PoseClassifier`]: a vision backbone, a category head and a pose head.

    Args:
        backbone_config (`dict` or `PreTrainedConfig`, *optional*):
            Configuration of the backbone, any vision model that `AutoModel.from_config` builds and whose output has
            `last_hidden_state` (B, N, D) or (B, C, H, W). A dict needs a `model_type`. Defaults to a small ResNet.
        backbone (`str`, *optional*):
            Name or path of the pretrained checkpoint the backbone weights came from (see [`build_baseline`]); a
            record for the reader. `None`: the backbone was randomly initialised.
        num_categories (`int`, *optional*, defaults to 189):
            Width of the class head: the official category index (`dataset_card.CATEGORIES`, sorted).
        num_bins (`int`, *optional*, defaults to 40):
            Periodic bins on [0, 2π) per angle (azimuth, elevation, theta); bin k decodes to its centre.
        pooling (`str`, *optional*, defaults to `"mean"`):
            How the backbone's output becomes one feature vector: `"mean"` averages `last_hidden_state` over the
            tokens (B, N, D) or the spatial positions (B, C, H, W); `"cls"` takes the first token (sequence
            backbones such as ViT only); `"pooler"` takes the backbone's own `pooler_output`.
        feature_size (`int`, *optional*):
            Width of the pooled features. Defaults to `backbone_config.hidden_sizes[-1]` (CNNs) or
            `backbone_config.hidden_size` (transformers).
        head_dropout (`float`, *optional*, defaults to 0.0):
            Dropout on the pooled features before both heads (training only).
        category_loss_weight (`float`, *optional*, defaults to 1.0):
            Weight of the class cross-entropy.
        pose_bin_sigma (`float`, *optional*, defaults to 0.0):
            Soft pose targets: a periodic Gaussian of this std (in bins) around the true bin
            (`geometry.soft_bin_targets`); 0 is one-hot. The built-in random backbones use 1.0.
        pose_loss_weight (`float`, *optional*, defaults to 1.0):
            Weight of the pose cross-entropy, which is the sum over the three angles of each angle's mean
            cross-entropy over the batch.
    """

    model_type = MODEL_TYPE
    sub_configs_defaults = {
        "backbone_config": SubConfigSpec(config_class=AutoConfig, model_type="resnet",
                                         init_kwargs=SIZES["small"]["backbone"]),
    }

    backbone_config: dict | PreTrainedConfig | None = None
    backbone: str | None = None
    num_categories: int = len(CATEGORIES)
    num_bins: int = NUM_BINS
    pooling: str = "mean"
    feature_size: int | None = None
    head_dropout: float = 0.0
    category_loss_weight: float = 1.0
    pose_bin_sigma: float = 0.0
    pose_loss_weight: float = 1.0

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if self.num_bins < 2 or self.num_categories < 1:
            raise ValueError(f"need num_bins >= 2 and num_categories >= 1, got {self.num_bins}, {self.num_categories}")
        if self.feature_size is None:
            sizes = getattr(self.backbone_config, "hidden_sizes", None)
            self.feature_size = int(sizes[-1]) if sizes else int(self.backbone_config.hidden_size)
        # The base config fills a 2-label default; the class head's names are the official 189 categories.
        if self.num_categories == len(CATEGORIES) and len(self.id2label or {}) != self.num_categories:
            self.id2label = dict(enumerate(CATEGORIES))
            self.label2id = {name: i for i, name in enumerate(CATEGORIES)}


@dataclass
class PoseClassifierOutput(ModelOutput):
    r"""
    Output of [`PoseClassifier.forward`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*):
            `category_loss_weight · category_loss + pose_loss_weight · pose_loss`, over the parts whose labels were
            given.
        category_logits (`torch.FloatTensor` of shape `(batch_size, num_categories)`):
            Scores of the class head.
        pose_logits (`torch.FloatTensor` of shape `(batch_size, 3, num_bins)`):
            Scores of the pose head per angle (azimuth, elevation, theta) and bin.
        category_loss (`torch.FloatTensor` of shape `()`, *optional*):
            Class cross-entropy, when `category_labels` is given.
        pose_loss (`torch.FloatTensor` of shape `()`, *optional*):
            Sum over the three angles of the bin cross-entropy, when `pose_labels` is given.
        features (`torch.FloatTensor` of shape `(batch_size, feature_size)`):
            The pooled backbone features both heads read.
    """

    loss: torch.FloatTensor | None = None
    category_logits: torch.FloatTensor | None = None
    pose_logits: torch.FloatTensor | None = None
    category_loss: torch.FloatTensor | None = None
    pose_loss: torch.FloatTensor | None = None
    features: torch.FloatTensor | None = None


class PoseClassifier(PreTrainedModel):
    """A vision backbone (`AutoModel.from_config(config.backbone_config)`) with a class head and a 3×bins pose head."""

    config_class = PoseClassifierConfig
    base_model_prefix = "backbone"
    main_input_name = "pixel_values"
    input_modalities = ("image",)

    def __init__(self, config: PoseClassifierConfig):
        super().__init__(config)
        self.backbone = AutoModel.from_config(config.backbone_config)
        self.dropout = nn.Dropout(config.head_dropout)
        self.category_head = nn.Linear(config.feature_size, config.num_categories)
        self.pose_head = nn.Linear(config.feature_size, 3 * config.num_bins)
        self.post_init()

    def pool(self, outputs: Any) -> torch.Tensor:
        """The (B, feature_size) features of a backbone output, as `config.pooling` says."""
        if self.config.pooling == "pooler":
            pooled = getattr(outputs, "pooler_output", None)
            if pooled is None:
                raise ValueError(f"{type(self.backbone).__name__} has no pooler_output: use pooling='mean' or 'cls'")
            return pooled.flatten(1)
        hidden = outputs.last_hidden_state
        if hidden.ndim == 4:  # a CNN feature map (B, C, H, W)
            if self.config.pooling == "cls":
                raise ValueError(f"{type(self.backbone).__name__} outputs a feature map, which has no CLS token: "
                                 "use pooling='mean' or 'pooler'")
            return hidden.mean(dim=(2, 3))
        return hidden[:, 0] if self.config.pooling == "cls" else hidden.mean(dim=1)

    def forward(self, pixel_values: torch.Tensor, category_labels: torch.Tensor | None = None,
                pose_labels: torch.Tensor | None = None, **kwargs) -> PoseClassifierOutput:
        r"""
        Args:
            pixel_values (`torch.FloatTensor` of shape `(batch_size, 3, height, width)`):
                Images as the model's image processor prepares them.
            category_labels (`torch.LongTensor` of shape `(batch_size,)`, *optional*):
                Category indices (the official index, `dataset_card.CATEGORIES`).
            pose_labels (`torch.LongTensor` of shape `(batch_size, 3)`, *optional*):
                Bins of (azimuth, elevation, theta), as `geometry.angle_to_bin` computes them; a row of -1
                (`NO_POSE`) has no pose (a whole image, which trains the category alone) and the pose loss is the
                mean over the other rows.
        """
        features = self.dropout(self.pool(self.backbone(pixel_values=pixel_values)))
        category_logits = self.category_head(features)
        pose_logits = self.pose_head(features).view(-1, 3, self.config.num_bins)
        category_loss = pose_loss = None
        loss = torch.zeros((), device=features.device)
        if category_labels is not None:
            category_loss = F.cross_entropy(category_logits, category_labels.long())
            loss = loss + self.config.category_loss_weight * category_loss
        if pose_labels is not None:
            # Mean over the rows with a pose per angle, summed over the three angles; a batch without any keeps the
            # head in the graph at zero loss (a data-parallel rank still gives it a gradient).
            pose_labels = pose_labels.to(pose_logits.device)
            posed = (pose_labels >= 0).all(dim=-1)
            bins = self.config.num_bins
            targets = soft_bin_targets(pose_labels[posed], bins, self.config.pose_bin_sigma)
            pose_loss = (F.cross_entropy(pose_logits[posed].reshape(-1, bins), targets.reshape(-1, bins),
                                         reduction="sum") / posed.sum() if posed.any() else pose_logits.sum() * 0.0)
            loss = loss + self.config.pose_loss_weight * pose_loss
        return PoseClassifierOutput(loss=loss if category_loss is not None or pose_loss is not None else None,
                                    category_logits=category_logits, pose_logits=pose_logits,
                                    category_loss=category_loss, pose_loss=pose_loss, features=features)


AutoConfig.register(MODEL_TYPE, PoseClassifierConfig, exist_ok=True)
AutoModel.register(PoseClassifierConfig, PoseClassifier, exist_ok=True)


def decode(output: PoseClassifierOutput, categories: list[str] | None = None) -> list[dict[str, Any]]:
    """Predictions from a forward pass: the argmax category (name) and bin centres (radians), one dict per image.

    Each dict: `category`, `category_confidence` (softmax probability of the argmax class), `azimuth`,
    `elevation`, `theta`, and `confidence` (per angle, the probability mass of the argmax bin and its neighbours:
    `geometry.decode_bins`). `categories` names the class indices (default: the official 189).
    """
    names = list(categories or CATEGORIES)
    class_probs = output.category_logits.detach().float().softmax(-1).cpu()
    class_conf, class_index = class_probs.max(-1)
    angles, mass = decode_bins(output.pose_logits.detach().float().softmax(-1).cpu().numpy())
    return [{"category": names[int(class_index[i])], "category_confidence": float(class_conf[i]),
             **{name: float(angles[i, k]) for k, name in enumerate(ANGLE_NAMES)},
             "confidence": {name: float(mass[i, k]) for k, name in enumerate(ANGLE_NAMES)}}
            for i in range(len(angles))]


def predict_output(model: PoseClassifier, pixel_values: torch.Tensor,
                   test_time_flip: bool = False) -> PoseClassifierOutput:
    """The model's output on a batch of pixel values (B, 3, H, W), without gradients, for :func:`decode`.

    With `test_time_flip`, the batch and its horizontal mirror image go through the model together and the output
    holds the log of the mean of both probabilities: the category's as they are, the mirror's pose bins mapped back
    (:func:`modeling.geometry.mean_with_mirror`: azimuth and theta bins reversed). Mirroring is the training
    augmentation (`geometry.flip_pose`), so the model has learned both views; their average is steadier than
    either. On the demo's baseline (known categories' validation split, 2026-12-02) joint 3D-aware Acc@π/6 77.5 ->
    80.8."""
    with torch.no_grad():
        if not test_time_flip:
            return model(pixel_values=pixel_values)
        both = model(pixel_values=torch.cat([pixel_values, pixel_values.flip(-1)]))
        size = pixel_values.shape[0]
        category = both.category_logits.float().softmax(-1)
        pose = both.pose_logits.float().softmax(-1)
        return PoseClassifierOutput(
            category_logits=((category[:size] + category[size:]) / 2).log(),
            pose_logits=mean_with_mirror(pose[:size], pose[size:]), features=both.features[:size])


def create_baseline(backbone: str | Path | None = None, size: str = "small", image_size: int | None = None,
                    pooling: str = "mean", seed: int = 0, **config_kwargs: Any) -> tuple[PoseClassifier, Any]:
    """A new baseline and its image processor, in memory: `(model, processor)`. Arguments as [`build_baseline`]."""
    config_kwargs.setdefault("pose_bin_sigma", 1.0)  # soft pose targets: see PoseClassifierConfig
    torch.manual_seed(seed)
    if backbone is None:
        if size not in SIZES:
            raise ImageNet3DError(f"unknown baseline size {size!r}; choose from {', '.join(SIZES)}")
        spec = SIZES[size]
        config = PoseClassifierConfig(backbone_config=ResNetConfig(**spec["backbone"]), pooling=pooling,
                                      **config_kwargs)
        side = image_size or spec["image_size"]
        return PoseClassifier(config), ViTImageProcessorPil(size={"height": side, "width": side})
    backbone = str(backbone)
    try:
        pretrained = AutoModel.from_pretrained(backbone)
    except (OSError, ValueError) as err:  # not found offline, not a model folder, an unknown architecture
        raise ImageNet3DError(f"{backbone}: cannot load the backbone: {str(err).splitlines()[0]}") from None
    config = PoseClassifierConfig(backbone_config=pretrained.config, backbone=backbone, pooling=pooling,
                                  **config_kwargs)
    model = PoseClassifier(config)
    model.backbone.load_state_dict(pretrained.state_dict())
    if image_size is not None:
        return model, ViTImageProcessorPil(size={"height": image_size, "width": image_size})
    try:
        return model, AutoImageProcessor.from_pretrained(backbone)
    except (OSError, ValueError):  # a backbone folder without a processor: a plain resize + normalise
        return model, ViTImageProcessorPil()


def build_baseline(out_dir: str | Path, backbone: str | Path | None = None, size: str = "small",
                   image_size: int | None = None, pooling: str = "mean", seed: int = 0,
                   **config_kwargs: Any) -> Path:
    """Write a baseline folder (model + image processor) ready for `train_baseline`; returns the folder.

    Args:
        out_dir: folder to write (`save_pretrained` of the model and the image processor).
        backbone: `None` for a random ResNet of `size`; otherwise a pretrained vision backbone, a local folder or a
            Hub name (e.g. `facebook/dinov2-small`: needs the Hub), whose weights and image processor are used.
        size: the random backbone's size, a key of `SIZES` ("tiny" for tests, "small").
        image_size: side of the square input the image processor resizes to (default: the size's, for a random
            backbone; the checkpoint's own processor for a pretrained one unless given).
        pooling: see [`PoseClassifierConfig`].
        seed: seed of the random initialisation (backbone and heads).
        **config_kwargs: more [`PoseClassifierConfig`] fields (loss weights, head_dropout, ...).
    """
    model, processor = create_baseline(backbone, size, image_size, pooling, seed, **config_kwargs)
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return out_dir


def is_baseline_dir(path: str | Path) -> bool:
    """Whether `path` is a folder with a config.json of the baseline's model_type."""
    try:
        model_type_of(path, (MODEL_TYPE,), "the classification baseline")
    except (ImageNet3DError, OSError):
        return False
    return True


def load_baseline(model_dir: str | Path) -> tuple[PoseClassifier, Any]:
    """Load a baseline folder written by `build_baseline` or `train_baseline`: `(model in eval mode, processor)`.

    A folder that is not a baseline (no config.json, or another model_type) raises ImageNet3DError naming it.
    """
    model_type_of(model_dir, (MODEL_TYPE,), "the classification baseline",
                  "create one with `imagenet3d train-baseline`")
    model = PoseClassifier.from_pretrained(model_dir)
    model.eval()
    try:
        processor = AutoImageProcessor.from_pretrained(model_dir)
    except (OSError, ValueError) as err:
        raise located(model_dir, f"no usable image processor (preprocessor_config.json): {err}") from None
    return model, processor


def pixel_values(processor: Any, images: list) -> torch.Tensor:
    """The (B, 3, H, W) float tensor of PIL images through the model's image processor.

    Images that a ViT-style processor would not resize (already its size, RGB) are rescaled and normalised here in
    one batch, with the processor's own arithmetic (float64 rescale, float32 normalise), which gives its values at
    a fraction of the cost; anything else goes through the processor.
    """
    fast = _unresized_pixel_values(processor, images)
    if fast is not None:
        return fast
    return processor(images=[image.convert("RGB") for image in images], return_tensors="pt")["pixel_values"]


def rescale_normalize(processor: Any, height: int, width: int) -> tuple[float, np.ndarray, np.ndarray] | None:
    """``(rescale_factor, mean (3,), std (3,))`` (float32 mean and std) when all that ``processor`` does to an RGB
    image of ``height`` x ``width`` pixels is to rescale and normalise it (a ViT-style processor of that size:
    pixels · rescale_factor, then (x − mean) / std); None when it would do more (resize, ...)."""
    if not type(processor).__name__.startswith("ViTImageProcessor"):
        return None
    size = getattr(processor, "size", None)
    if size is None or (getattr(size, "height", None), getattr(size, "width", None)) != (height, width):
        return None
    if not (processor.do_rescale and processor.do_normalize) or getattr(processor, "do_convert_rgb", None) is False:
        return None
    return (float(processor.rescale_factor), np.asarray(processor.image_mean, dtype=np.float32),
            np.asarray(processor.image_std, dtype=np.float32))


def _unresized_pixel_values(processor: Any, images: list) -> torch.Tensor | None:
    """The processor's pixel values computed in one batch, or None when it would do more than rescale+normalise."""
    if not images or any(getattr(image, "mode", None) != "RGB" for image in images):
        return None
    width, height = images[0].size
    arithmetic = rescale_normalize(processor, height, width)
    if arithmetic is None or any(image.size != (width, height) for image in images):
        return None
    rescale, mean, std = arithmetic
    pixels = (np.stack([np.asarray(image) for image in images]).astype(np.float64) * rescale).astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(((pixels - mean) / std).transpose(0, 3, 1, 2)))


def pose_bins(azimuth: np.ndarray, elevation: np.ndarray, theta: np.ndarray, num_bins: int = NUM_BINS) -> torch.Tensor:
    """(B, 3) int64 bin labels of angle arrays (radians); a row with a NaN angle (no pose: a whole image) gets
    `NO_POSE` in all three."""
    angles = np.stack([np.asarray(v, dtype=np.float64) for v in (azimuth, elevation, theta)], axis=-1)
    missing = np.isnan(angles).any(axis=-1)
    labels = angle_to_bin(np.where(missing[..., None], 0.0, angles), num_bins)
    labels[missing] = NO_POSE
    return torch.from_numpy(labels)


__all__ = ["MODEL_TYPE", "NO_POSE", "SIZES", "PoseClassifier", "PoseClassifierConfig", "PoseClassifierOutput",
           "build_baseline", "create_baseline", "decode", "is_baseline_dir", "load_baseline", "pixel_values",
           "pose_bins", "predict_output", "rescale_normalize"]

"""LLaVA-pose configuration.

Hub custom code: this file is copied next to the weights by ``save_pretrained`` and may import only
torch, transformers and its sibling files (relative imports).
"""

from __future__ import annotations

from transformers import LlavaConfig

LM_LOSS_REDUCTIONS = ("token", "example")
"""How the LM loss averages: over the tokens of the batch, or per example first (`lm_loss_reduction`)."""


class LlavaPoseConfig(LlavaConfig):
    r"""
    Configuration of [`LlavaPoseForConditionalGeneration`]: a [`LlavaConfig`] (vision tower, projector, language
    model) plus the pose token and the pose head that reads its last hidden state (and, through attention, the
    image tokens of its sequence).

    Every field of [`LlavaConfig`] keeps its meaning, and the vision tower may also be convolutional (a config with
    `hidden_sizes`: ResNet, ConvNeXt, ...), as in ConvLLaVA: its feature maps (B, C, H, W) are read as H·W tokens,
    there is no CLS token (so `vision_feature_select_strategy` must be `"full"`), and `vision_config.hidden_size`
    is set to the channels of the selected `vision_feature_layer`(s), the width LLaVA's projector reads. The pose
    fields are:

    Args:
        pose_token_index (`int`, *optional*, defaults to -1):
            Id of the `<pose6D>` token in the tokenizer's vocabulary (alias `pose_token_id`). The model writes this
            token where a pose belongs; the pose head reads the last-layer hidden state at every position whose input
            token is `<pose6D>`. -1 means "not set yet": [`LlavaPoseForConditionalGeneration.from_llava`] and the
            tiny-model builder set it after adding the token to the tokenizer.
        num_bins (`int`, *optional*, defaults to 40):
            Number of periodic bins on [0, 2π) per angle (azimuth, elevation, theta), as in every official ImageNet3D
            baseline. Bin `k` covers [k, k + 1) · 2π / num_bins and decodes to its centre.
        pose_head_hidden_size (`int`, *optional*):
            Width of the pose head's hidden layer. Defaults to the language model's hidden size.
        pose_head_num_heads (`int`, *optional*, defaults to 4):
            Attention heads with which the `<pose6D>` hidden state queries its sequence's image tokens (see
            [`LlavaPoseHead`]); must divide the language model's hidden size.
        pose_head_dropout (`float`, *optional*, defaults to 0.0):
            Dropout before the pose head's output layer (training only).
        pose_bin_loss_weight (`float`, *optional*, defaults to 1.0):
            Weight of the pose classification loss: the cross-entropy of the three angle bins, summed over the three
            angles and averaged over the `<pose6D>` positions that have a target.
        pose_bin_sigma (`float`, *optional*, defaults to 0.0):
            Soft targets for the bin cross-entropy: a periodic Gaussian of this std (in bins) around the true bin
            (`geometry.soft_bin_targets`); 0 is the usual one-hot target. The built-in models use 1.0, which makes a
            neighbouring bin a small error and speeds up learning.
        pose_regression_loss_weight (`float`, *optional*, defaults to 1.0):
            Weight of the regression loss: smooth-L1 on (px / W, py / H, log distance), where px, py is the object
            centre in pixels and W, H the size of the original image; summed over the three values and averaged over
            the positions that have a target.
        pose_loss_weight (`float`, *optional*, defaults to 1.0):
            Weight of the whole pose loss against the language-model loss:
            loss = lm_loss + pose_loss_weight · pose_loss.
        pose_head_vision_features (`bool`, *optional*, defaults to `False`):
            Whether the pose head also reads the vision tower's own features (the `vision_feature_layer` tokens the
            projector reads, before it): the `<pose6D>` state queries them with a second attention, whose result
            joins the head's hidden layer. The head then reads the image at two levels, the tower's and the language
            model's last layer, so that what the tower knows of the pose need not survive the projector and the LM.
        pose_head_tower_prior (`bool`, *optional*, defaults to `False`):
            Whether the pose head adds a fixed linear readout of the mean of the tower's tokens to its angle logits
            (buffers, never trained): `init-model --vision-tower` copies the classification baseline's pose head
            into it and zeroes the head's own angle outputs, so that LLaVA-pose starts from its baseline's pose on
            a crop and training learns what the language model adds (a residual, as ControlNet's zero
            convolutions). Needs `pose_head_vision_features`. With `category_prior_token_ids`, the baseline's
            category head is kept too: its log-probabilities are added to the LM's logits at the categories' name
            tokens (shallow fusion), in training and generation alike, so the words the LM writes for the category
            start from what the tower knows.
        category_prior_token_ids (`list[int]`, *optional*):
            With `pose_head_tower_prior`: per category of the baseline's category head (its index order), the LM's
            token that starts the category's name in words (" bicycle", " hand" of "hand barrow").
        lm_loss_reduction (`str`, *optional*, defaults to `"token"`):
            How the language-model loss averages its cross-entropy: `"token"` over every answer token of the batch
            (transformers' usual mean, where a long caption outweighs a short joint answer by its length), or
            `"example"` over each sequence's answer tokens first, then over the sequences that have any (every
            example weighs the same, whatever its length).

    Example:

    ```python
    >>> from transformers import CLIPVisionConfig, LlamaConfig
    >>> config = LlavaPoseConfig(vision_config=CLIPVisionConfig(), text_config=LlamaConfig(), pose_token_index=32001)
    >>> model = LlavaPoseForConditionalGeneration(config)
    ```"""

    model_type = "llava_pose"
    attribute_map = {"image_token_id": "image_token_index", "pose_token_id": "pose_token_index"}

    pose_token_index: int = -1
    num_bins: int = 40
    pose_head_hidden_size: int | None = None
    pose_head_num_heads: int = 4
    pose_head_dropout: float = 0.0
    pose_bin_loss_weight: float = 1.0
    pose_bin_sigma: float = 0.0
    pose_regression_loss_weight: float = 1.0
    pose_loss_weight: float = 1.0
    pose_head_vision_features: bool = False
    pose_head_tower_prior: bool = False
    category_prior_token_ids: list[int] | None = None
    lm_loss_reduction: str = "token"

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.lm_loss_reduction not in LM_LOSS_REDUCTIONS:
            raise ValueError(f"lm_loss_reduction must be one of {', '.join(LM_LOSS_REDUCTIONS)}, got "
                             f"{self.lm_loss_reduction!r}")
        if self.pose_head_tower_prior and not self.pose_head_vision_features:
            raise ValueError("pose_head_tower_prior reads the tower's features: it needs pose_head_vision_features")
        if self.num_bins < 2:
            raise ValueError(f"num_bins must be at least 2, got {self.num_bins}")
        if self.pose_head_hidden_size is None:
            self.pose_head_hidden_size = self.text_config.hidden_size
        if is_convolutional(self.vision_config):
            if self.vision_feature_select_strategy != "full":
                raise ValueError("a convolutional vision tower has no CLS token to drop: use "
                                 f"vision_feature_select_strategy='full', not {self.vision_feature_select_strategy!r}")
            self.vision_config.hidden_size = feature_width(self.vision_config, self.vision_feature_layer)


def is_convolutional(vision_config) -> bool:
    """Whether a vision config describes a CNN whose hidden states are feature maps (it lists `hidden_sizes`)."""
    return getattr(vision_config, "hidden_sizes", None) is not None


def feature_width(vision_config, feature_layer: int | list[int]) -> int:
    """Channels of a CNN's hidden state(s) at `feature_layer`: the stem's output, then one per stage."""
    widths = [getattr(vision_config, "embedding_size", None) or vision_config.hidden_sizes[0],
              *vision_config.hidden_sizes]
    layers = [feature_layer] if isinstance(feature_layer, int) else list(feature_layer)
    for layer in layers:
        if not -len(widths) <= layer < len(widths):
            raise ValueError(f"vision_feature_layer {layer} out of range: the tower has {len(widths)} hidden states "
                             "(the stem's output, then one per stage)")
    return sum(widths[layer] for layer in layers)


__all__ = ["LM_LOSS_REDUCTIONS", "LlavaPoseConfig", "feature_width", "is_convolutional"]

"""LLaVA-pose: a LLaVA that writes ``<pose6D>`` where a pose belongs and decodes the token's hidden state.

The design follows the embedding-as-output precedent (LISA's ``<SEG>``): the language model emits a special
token, and a small head reads that token's last-layer hidden state. With teacher forcing the hidden state is read
at the position where ``<pose6D>`` is the *input* token, which is also the position the token occupies when it is
fed back during generation, so training and inference read the same vector.

Hub custom code: this file is copied next to the weights by ``save_pretrained`` and may import only torch,
transformers and its sibling files (relative imports).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from transformers import AutoConfig, LlavaForConditionalGeneration
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.modeling_utils import slice_logits_to_keep
from transformers.models.llava.modeling_llava import LlavaCausalLMOutputWithPast
from transformers.utils import ModelOutput
from transformers.utils.deprecation import deprecate_kwarg
from transformers.utils.generic import can_return_tuple

from .configuration_llava_pose import LlavaPoseConfig, is_convolutional
from .geometry import mean_with_mirror, soft_bin_targets
from .pose_head_llava_pose import LlavaPoseHead, per_example_lm_loss

POSE_TOKEN = "<pose6D>"
# Legacy llava-hf checkpoints (e.g. llava-hf/llava-1.5-7b-hf) store the transformers 4 key layout. transformers
# renames them for the native Llava classes only, never for custom code, so the conversion passes the same renames.
LEGACY_LLAVA_KEY_MAPPING = {
    r"^language_model\.lm_head": "lm_head",
    r"^language_model\.model": "model.language_model",
    r"^vision_tower": "model.vision_tower",
    r"^multi_modal_projector": "model.multi_modal_projector",
}


@dataclass
class LlavaPoseCausalLMOutputWithPast(LlavaCausalLMOutputWithPast):
    r"""
    Output of [`LlavaPoseForConditionalGeneration.forward`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*):
            `lm_loss + config.pose_loss_weight * pose_loss`, over the parts whose targets were given.
        logits (`torch.FloatTensor` of shape `(batch_size, sequence_length, vocab_size)`):
            Scores of the language-modelling head.
        cache (`Cache`, *optional*):
            The key/value cache (called `past_key_values` before transformers 5; `output.past_key_values` still
            reads it).
        hidden_states (`tuple(torch.FloatTensor)`, *optional*):
            Hidden states of the language model (embeddings + one per layer), when `output_hidden_states=True`.
        attentions (`tuple(torch.FloatTensor)`, *optional*):
            Attention weights of the language model, when `output_attentions=True`.
        image_outputs (`BaseModelOutputWithPooling`, *optional*):
            Output of the vision tower; `image_hidden_states` (a property) gives the projected image features.
        lm_loss (`torch.FloatTensor` of shape `()`, *optional*):
            Next-token cross-entropy, when `labels` is given.
        pose_loss (`torch.FloatTensor` of shape `()`, *optional*):
            `pose_bin_loss_weight * CE(bins) + pose_regression_loss_weight * smooth_l1(regression)`, averaged over
            the `<pose6D>` positions that have a target, when `pose_labels` is given.
        pose_logits (`torch.FloatTensor` of shape `(num_pose_tokens, 3, num_bins)`):
            Bin logits of (azimuth, elevation, theta) at every `<pose6D>` input token of the batch, in row-major
            order (sequence by sequence, left to right).
        pose_regression (`torch.FloatTensor` of shape `(num_pose_tokens, 3)`):
            (px / W, py / H, log distance) at the same positions: the object centre as fractions of the original
            image's width and height, and the log of the annotated camera distance.
        pose_positions (`torch.LongTensor` of shape `(num_pose_tokens, 2)`):
            (batch index, sequence position) of each `<pose6D>` token, in the order of `pose_logits`.
    """

    lm_loss: torch.FloatTensor | None = None
    pose_loss: torch.FloatTensor | None = None
    pose_logits: torch.FloatTensor | None = None
    pose_regression: torch.FloatTensor | None = None
    pose_positions: torch.LongTensor | None = None


@dataclass
class LlavaPoseGenerateOutput(ModelOutput):
    r"""
    Output of [`LlavaPoseForConditionalGeneration.generate`] with `return_poses=True`.

    Args:
        sequences (`torch.LongTensor` of shape `(batch_size, sequence_length)`):
            Prompt and generated ids, as plain `generate` returns them (left padding preserved).
        prompt_length (`int`):
            Length of the (padded) prompt: the generated ids are `sequences[:, prompt_length:]`.
        pose_logits (`torch.FloatTensor` of shape `(num_poses, 3, num_bins)`):
            Bin logits of every `<pose6D>` the model generated, sequence by sequence, left to right (with
            `test_time_flip`, float32 log-probabilities of the mean of both views).
        pose_regression (`torch.FloatTensor` of shape `(num_poses, 3)`):
            (px / W, py / H, log distance) of the same poses.
        pose_positions (`torch.LongTensor` of shape `(num_poses, 2)`):
            (batch index, position in `sequences`) of each generated `<pose6D>`.
    """

    sequences: torch.LongTensor | None = None
    prompt_length: int | None = None
    pose_logits: torch.FloatTensor | None = None
    pose_regression: torch.FloatTensor | None = None
    pose_positions: torch.LongTensor | None = None


class LlavaPoseConvVisionTower(nn.Module):
    """A convolutional backbone (ResNet, ConvNeXt, ...) seen the way LLaVA sees a ViT (ConvLLaVA's design).

    Each hidden state (B, C, H, W) becomes a token sequence (B, H·W, C), so LLaVA's feature-layer selection and
    projector work unchanged (`vision_feature_select_strategy="full"`: there is no CLS token). A CNN learns pose from
    a few thousand crops far faster than a ViT trained from scratch, which is what the built-in small model needs.
    """

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, pixel_values: torch.Tensor, **kwargs) -> BaseModelOutputWithPooling:
        """Encode ``pixel_values`` (B, 3, H, W); every stage's (B, C, h, w) map is read as (B, h·w, C) tokens."""
        # Processors give float32 pixels; a model loaded in bf16 (a merged --bf16 run) needs them in its own dtype,
        # as transformers' CLIP tower casts them itself.
        dtype = next(self.backbone.parameters()).dtype
        output = self.backbone(pixel_values.to(dtype), output_hidden_states=True, return_dict=True)
        tokens = tuple(h.flatten(2).transpose(1, 2) if h.dim() == 4 else h for h in output.hidden_states)
        return BaseModelOutputWithPooling(last_hidden_state=tokens[-1], pooler_output=output.pooler_output,
                                          hidden_states=tokens)

    def train(self, mode: bool = True) -> LlavaPoseConvVisionTower:
        """Set training mode; a fully frozen tower stays in eval mode, so its BatchNorm statistics never change."""
        # A frozen tower (e.g. under LoRA) keeps its BatchNorm statistics: they belong to the frozen weights, and
        # updating them would make the trained model differ from the one saved and reloaded.
        frozen = not any(parameter.requires_grad for parameter in self.parameters())
        return super().train(mode and not frozen)


class LlavaPoseForConditionalGeneration(LlavaForConditionalGeneration):
    """A [`LlavaForConditionalGeneration`] with a pose head on the `<pose6D>` token (see the module docstring)."""

    config_class = LlavaPoseConfig
    config: LlavaPoseConfig

    def __init__(self, config: LlavaPoseConfig):
        super().__init__(config)
        if is_convolutional(config.vision_config):
            self.model.vision_tower = LlavaPoseConvVisionTower(self.model.vision_tower)
        self.pose_head = LlavaPoseHead(config)
        self.post_init()

    @can_return_tuple
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Any | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        vision_feature_layer: int | list[int] | None = None,
        vision_feature_select_strategy: str | None = None,
        labels: torch.LongTensor | None = None,
        pose_labels: torch.LongTensor | None = None,
        pose_regression_labels: torch.FloatTensor | None = None,
        pose_mask: torch.BoolTensor | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        image_sizes: torch.Tensor | None = None,
        category_bias: torch.Tensor | None = None,
        **kwargs,
    ) -> tuple | LlavaPoseCausalLMOutputWithPast:
        r"""
        The LLaVA forward pass, plus the pose head at every `<pose6D>` input token and the pose loss.

        Args (beyond [`LlavaForConditionalGeneration.forward`]'s):
            pose_labels (`torch.LongTensor` of shape `(batch_size, max_poses, 3)`, *optional*):
                Bin indices in `[0, num_bins)` of (azimuth, elevation, theta) for the `<pose6D>` tokens of each
                sequence, in the order the tokens appear: `pose_labels[b, j]` is the target of the j-th `<pose6D>`
                of sequence b. Compute them with `modeling.geometry.angle_to_bin` (angles in radians; elevation is
                binned on [0, 2π) like the other two, as in the official baselines). `max_poses` is the largest
                count in the batch; shorter rows are padded and masked out with `pose_mask`.
            pose_regression_labels (`torch.FloatTensor` of shape `(batch_size, max_poses, 3)`, *optional*):
                (px / W, py / H, log distance) for the same tokens, W and H being the original image's size. Without
                it only the bins are trained.
            pose_mask (`torch.BoolTensor` of shape `(batch_size, max_poses)`, *optional*):
                True where the target exists. Defaults to all True. A `<pose6D>` token beyond `max_poses` has no
                target; a True entry without a matching `<pose6D>` token (e.g. truncated away) is an error.
            category_bias (`torch.FloatTensor` of shape `(batch_size, vocab_size)`, *optional*):
                Added to every position's logits. With `pose_head_tower_prior` and category tokens, the tower's
                category prior is computed from the pass's image when this is omitted; `generate` passes it, since
                its cached steps see no image (`LlavaPoseHead.category_log_prior`).
        """
        outputs = self.model(
            input_ids=input_ids,
            pixel_values=pixel_values,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            vision_feature_layer=vision_feature_layer,
            vision_feature_select_strategy=vision_feature_select_strategy,
            image_sizes=image_sizes,
            **kwargs,
        )
        hidden_states = outputs[0]
        logits = self.lm_head(slice_logits_to_keep(hidden_states, logits_to_keep))

        # The head reads the full last-layer states, before the logits slice that generation applies.
        if input_ids is not None:
            is_pose = input_ids == self.config.pose_token_id
            image_mask = input_ids == self.config.image_token_id
        else:  # Without ids the pose and image tokens cannot be located.
            is_pose = torch.zeros(hidden_states.shape[:2], dtype=torch.bool, device=hidden_states.device)
            image_mask = torch.zeros_like(is_pose)
        pose_positions = is_pose.nonzero()
        vision_features = self._tower_features(outputs.image_outputs) if self.config.pose_head_vision_features else None
        if category_bias is None and vision_features is not None:
            category_bias = self.pose_head.category_log_prior(vision_features, logits.shape[-1])
        if category_bias is not None:
            logits = logits + category_bias[:, None, :].to(logits.dtype)
        pose_logits, pose_regression = self.pose_head(hidden_states[is_pose], hidden_states, image_mask,
                                                      pose_positions[:, 0], vision_features)

        lm_loss = pose_loss = loss = None
        if labels is not None:
            loss = lm_loss = per_example_lm_loss(logits, labels) if self.config.lm_loss_reduction == "example" else \
                self.loss_function(logits=logits, labels=labels, vocab_size=self.config.text_config.vocab_size,
                                   **kwargs)
        if pose_labels is not None:
            pose_loss = self.pose_loss(is_pose, pose_logits, pose_regression, pose_labels, pose_regression_labels,
                                       pose_mask)
            weighted = self.config.pose_loss_weight * pose_loss
            loss = weighted if loss is None else loss + weighted

        return LlavaPoseCausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            image_outputs=outputs.image_outputs,
            lm_loss=lm_loss,
            pose_loss=pose_loss,
            pose_logits=pose_logits,
            pose_regression=pose_regression,
            pose_positions=pose_positions,
        )

    def _tower_features(self, image_outputs: Any) -> torch.Tensor | None:
        """The tower's tokens the projector reads (`vision_feature_layer`; no CLS under the "default" strategy),
        (num_images, N, C); None in a pass without images."""
        if image_outputs is None or getattr(image_outputs, "hidden_states", None) is None:
            return None
        layer, skip = self.config.vision_feature_layer, int(self.config.vision_feature_select_strategy == "default")
        layers = [layer] if isinstance(layer, int) else list(layer)
        return torch.cat([image_outputs.hidden_states[k][:, skip:] for k in layers], dim=-1)

    def pose_loss(
        self,
        is_pose: torch.BoolTensor,
        pose_logits: torch.Tensor,
        pose_regression: torch.Tensor,
        pose_labels: torch.LongTensor,
        pose_regression_labels: torch.Tensor | None = None,
        pose_mask: torch.BoolTensor | None = None,
    ) -> torch.Tensor:
        """Pose loss of the `<pose6D>` tokens marked by `is_pose` (see `forward` for the target format)."""
        batch_size, max_poses = pose_labels.shape[:2]
        if pose_mask is None:
            pose_mask = torch.ones(batch_size, max_poses, dtype=torch.bool, device=pose_labels.device)
        pose_mask = pose_mask.to(torch.bool)
        counts = is_pose.sum(dim=1, keepdim=True).to(pose_mask.device)
        orphans = pose_mask & (torch.arange(max_poses, device=pose_mask.device)[None] >= counts)
        if orphans.any():
            rows = sorted(set(orphans.nonzero()[:, 0].tolist()))
            raise ValueError(f"pose targets without a matching {POSE_TOKEN} token in sequence(s) {rows}: "
                             "mask them out with pose_mask (e.g. when truncation removed the token)")
        # j-th pose token of its row -> its target slot; tokens beyond max_poses have no target.
        rank = (is_pose.long().cumsum(dim=1) - 1)[is_pose]
        batch_index = is_pose.nonzero()[:, 0]
        in_range = rank < max_poses
        has_target = torch.zeros_like(in_range)
        has_target[in_range] = pose_mask[batch_index[in_range], rank[in_range]].to(has_target.device)
        if not has_target.any():
            # Keep the graph connected so that backward() works on batches without pose targets.
            return pose_logits.sum() * 0.0 + pose_regression.sum() * 0.0
        slot = (batch_index[has_target], rank[has_target])
        logits = pose_logits[has_target].float()
        bins = pose_labels.to(logits.device)[slot]
        targets = soft_bin_targets(bins, self.config.num_bins, self.config.pose_bin_sigma)
        # Sum over the three angles, mean over poses.
        loss = self.config.pose_bin_loss_weight * 3 * F.cross_entropy(logits.flatten(0, 1), targets.flatten(0, 1))
        if pose_regression_labels is not None:
            target = pose_regression_labels.to(logits.device, torch.float32)[slot]
            regression = F.smooth_l1_loss(pose_regression[has_target].float(), target, reduction="none")
            loss = loss + self.config.pose_regression_loss_weight * regression.sum(dim=-1).mean()
        return loss

    @torch.no_grad()
    def generate(self, *args, return_poses: bool = False, test_time_flip: bool = False, **kwargs):
        """[`GenerationMixin.generate`]; with `return_poses=True`, also the pose of every generated `<pose6D>`.

        With `return_poses=True` the inputs must be passed as keywords (`input_ids`, `attention_mask`,
        `pixel_values`, as the processor returns them; batches are left-padded) and the result is a
        [`LlavaPoseGenerateOutput`]. The poses come from one extra forward pass over prompt + generated ids with the
        image: every generated `<pose6D>` is read exactly as in training (teacher forcing), independently of the
        cache and of the decoding strategy. Sequences that finished early are padded after their end, which a causal
        model never attends to from earlier positions.

        With `test_time_flip` (and `return_poses`), a second such pass reads the same ids with the image mirrored
        (`pixel_values` (B, 3, H, W) flipped left-right: a resize-and-normalise processor's output of the mirror
        image) and each pose is the mean of both: bin probabilities (the mirror's mapped back by
        `geometry.mean_with_mirror`), returned as their log; the centre (px mirrored back) and log distance. Meant for
        the joint task's crops, centred on their object, where the prompt's box stays where it was; a caption's
        objects move with the mirror.
        """
        if test_time_flip:
            pixels = kwargs.get("pixel_values")
            if not return_poses:
                raise ValueError("test_time_flip averages the poses of return_poses=True: pass both")
            if pixels is None or pixels.ndim != 4:
                raise ValueError("test_time_flip needs pixel_values of shape (batch, channels, height, width)")
        if self.config.pose_head_tower_prior and kwargs.get("pixel_values") is not None:
            # The cached decoding steps see no image: the category prior is computed once, from the tower.
            kwargs["category_bias"] = self.generation_category_bias(kwargs["pixel_values"], test_time_flip)
        if not return_poses:
            return super().generate(*args, **kwargs)
        if args:
            raise TypeError("generate(return_poses=True) takes its inputs as keywords (input_ids=..., ...)")
        input_ids = kwargs["input_ids"]
        output = super().generate(**kwargs)
        sequences = output if isinstance(output, torch.Tensor) else output.sequences
        prompt_length = input_ids.shape[1]
        attention_mask = kwargs.get("attention_mask")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        generated_mask = torch.ones_like(sequences[:, prompt_length:])
        attention_mask = torch.cat([attention_mask.to(sequences.device), generated_mask], dim=1)
        # The position ids generate derives from a left-padded mask, so that the hidden states match.
        position_ids = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
        forward_kwargs = {k: kwargs[k] for k in ("pixel_values", "image_sizes") if kwargs.get(k) is not None}
        out = self(input_ids=sequences, attention_mask=attention_mask, position_ids=position_ids, use_cache=False,
                   logits_to_keep=1, **forward_kwargs)
        generated = out.pose_positions[:, 1] >= prompt_length
        pose_logits, pose_regression = out.pose_logits[generated], out.pose_regression[generated]
        if test_time_flip:
            pixels = forward_kwargs["pixel_values"]
            mirrored = self(input_ids=sequences, attention_mask=attention_mask, position_ids=position_ids,
                            use_cache=False, logits_to_keep=1, **{**forward_kwargs, "pixel_values": pixels.flip(-1)})
            pose_logits = mean_with_mirror(pose_logits.float().softmax(-1),
                                           mirrored.pose_logits[generated].float().softmax(-1))
            regression = mirrored.pose_regression[generated].float()
            regression = torch.cat([1.0 - regression[:, :1], regression[:, 1:]], dim=-1)  # px / W, mirrored back
            pose_regression = ((pose_regression.float() + regression) / 2).to(pose_regression.dtype)
        return LlavaPoseGenerateOutput(
            sequences=sequences,
            prompt_length=prompt_length,
            pose_logits=pose_logits,
            pose_regression=pose_regression,
            pose_positions=out.pose_positions[generated],
        )

    def generation_category_bias(self, pixel_values: torch.Tensor, test_time_flip: bool = False
                                 ) -> torch.Tensor | None:
        """The tower's category prior that `generate` adds to the LM's logits, (B, vocab_size) float32 log
        probabilities at the categories' name tokens and 0 elsewhere (`LlavaPoseHead.category_log_prior`), from
        `pixel_values` (B, 3, H, W); with `test_time_flip`, of the mean of the image's and its mirror image's
        probabilities (0, log 1, stays 0). None without a prior."""
        views = [pixel_values, pixel_values.flip(-1)] if test_time_flip else [pixel_values]
        priors = [self.pose_head.category_log_prior(self._tower_features(self.model.get_image_features(
            pixel_values=pixels, vision_feature_layer=self.config.vision_feature_layer,
            vision_feature_select_strategy=self.config.vision_feature_select_strategy)),
            self.lm_head.out_features) for pixels in views]
        if priors[0] is None:
            return None
        return priors[0] if len(priors) == 1 else torch.stack(priors).exp().mean(dim=0).log()

    def save_pretrained(self, save_directory, *args, **kwargs):
        """[`PreTrainedModel.save_pretrained`]; a model registered for an auto class also maps `AutoModel` to this
        class in `auto_map`, since `register_for_auto_class` records a single auto class and
        `AutoModel.from_pretrained(dir, trust_remote_code=True)` is the call users type, and registers the
        `object-pose-estimation` pipeline (`custom_pipelines` in config.json; `pipeline_llava_pose.py`, imported
        here, is copied with this file), so that `pipeline("object-pose-estimation", model=dir,
        trust_remote_code=True)` works on the folder."""
        if self._auto_class is not None:
            from .pipeline_llava_pose import CUSTOM_PIPELINES

            name = f"{type(self).__module__.split('.')[-1]}.{type(self).__name__}"
            self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}), "AutoModel": name}
            self.config.custom_pipelines = {**(getattr(self.config, "custom_pipelines", None) or {}),
                                            **CUSTOM_PIPELINES}
        return super().save_pretrained(save_directory, *args, **kwargs)

    @classmethod
    def from_llava(
        cls,
        model_or_path: str | LlavaForConditionalGeneration,
        processor: Any | None = None,
        pose_token: str = POSE_TOKEN,
        categories: list[str] | None = None,
        **from_pretrained_kwargs,
    ) -> tuple[LlavaPoseForConditionalGeneration, Any]:
        """Turn a stock LLaVA into a LLaVA-pose: add `<pose6D>`, resize the embeddings, attach a fresh pose head.

        Every other weight is kept as it is. `model_or_path` is a [`LlavaForConditionalGeneration`] or a local
        folder / Hub id of one; `processor` is its [`LlavaProcessor`] (loaded from `model_or_path` when omitted).
        For a real checkpoint, pass a path so that the weights are loaded straight into the new class, e.g.::

            model, processor = LlavaPoseForConditionalGeneration.from_llava(
                "llava-hf/llava-1.5-7b-hf", dtype=torch.bfloat16, device_map="auto")

        `from_pretrained_kwargs` (dtype, device_map, revision, ...) go to `from_pretrained`; legacy checkpoints in
        the transformers 4 key layout are renamed on load. `categories` (optional) is saved with the processor and
        used to name parsed objects. Returns `(model, processor)`, a [`LlavaPoseProcessor`].
        """
        from transformers import AutoProcessor

        from .processing_llava_pose import LlavaPoseProcessor

        if processor is None:
            if not isinstance(model_or_path, str):
                raise ValueError("from_llava needs the processor when it is given a model object")
            processor = AutoProcessor.from_pretrained(model_or_path)
        tokenizer = processor.tokenizer
        if pose_token not in tokenizer.get_vocab():
            # Extend, don't replace, the tokenizer's extra special tokens (<image> may be one of them).
            tokenizer.add_special_tokens({"extra_special_tokens": [pose_token]}, replace_extra_special_tokens=False)
        pose_token_id = tokenizer.convert_tokens_to_ids(pose_token)

        base_config = AutoConfig.from_pretrained(model_or_path) if isinstance(model_or_path, str) \
            else model_or_path.config
        if base_config.model_type != "llava":
            raise ValueError(f"from_llava expects a 'llava' model, got model_type={base_config.model_type!r}")
        values = {k: v for k, v in base_config.to_dict().items()
                  if k not in ("model_type", "architectures", "auto_map", "transformers_version")}
        config = LlavaPoseConfig(**values, pose_token_index=pose_token_id)

        if isinstance(model_or_path, str):
            from_pretrained_kwargs.setdefault("key_mapping", LEGACY_LLAVA_KEY_MAPPING)
            model = cls.from_pretrained(model_or_path, config=config, **from_pretrained_kwargs)
            # save_pretrained reverts the renames used at load time; the converted model saves in today's layout.
            model._weight_conversions = None
        else:
            model = cls(config)
            missing, unexpected = model.load_state_dict(model_or_path.state_dict(), strict=False)
            if unexpected or any(not key.startswith("pose_head.") for key in missing):
                raise ValueError(f"not a Llava state dict: missing {missing}, unexpected {unexpected}")
            reference = next(model_or_path.parameters())
            model.to(device=reference.device, dtype=reference.dtype)
        if pose_token_id >= model.get_input_embeddings().num_embeddings:
            # Grow only: checkpoints often pad the vocabulary beyond len(tokenizer), and shrinking would drop rows.
            model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
        model.config.pose_token_index = pose_token_id

        pose_processor = LlavaPoseProcessor(
            image_processor=processor.image_processor,
            tokenizer=tokenizer,
            patch_size=processor.patch_size,
            vision_feature_select_strategy=processor.vision_feature_select_strategy,
            num_additional_image_tokens=processor.num_additional_image_tokens,
            chat_template=getattr(processor, "chat_template", None),
            image_token=processor.image_token,
            pose_token=pose_token,
            categories=categories,
        )
        return model, pose_processor


__all__ = ["LlavaPoseCausalLMOutputWithPast", "LlavaPoseConvVisionTower", "LlavaPoseForConditionalGeneration",
           "LlavaPoseGenerateOutput", "LlavaPoseHead", "per_example_lm_loss"]

"""LLaVA-pose's pose head and its per-example LM loss (Hub custom code, beside ``modeling_llava_pose.py``).

The pose decoder that reads a ``<pose6D>`` hidden state (with the trained tower's priors on pose and category), and
the causal-LM loss averaged per sequence. Copied next to
the weights with ``modeling_llava_pose.py``, which imports it: torch, transformers and sibling files only.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .configuration_llava_pose import LlavaPoseConfig


def per_example_lm_loss(logits: torch.Tensor, labels: torch.LongTensor, ignore_index: int = -100) -> torch.Tensor:
    """Causal-LM cross-entropy of `logits` (B, T, V) on `labels` (B, T) (shifted here), averaged per sequence's
    labelled tokens, then over the sequences that have any; a scalar (zero, in the graph, without any label)."""
    labels = labels[:, 1:].to(logits.device)
    mask = labels != ignore_index
    loss = F.cross_entropy(logits[:, :-1].float().transpose(1, 2), labels, ignore_index=ignore_index, reduction="none")
    counts = mask.sum(dim=1)
    if not bool((counts > 0).any()):
        return logits.sum() * 0.0
    return ((loss * mask).sum(dim=1) / counts.clamp(min=1))[counts > 0].mean()


class LlavaPoseHead(nn.Module):
    """The pose decoder on a `<pose6D>` hidden state: 3 × num_bins angle logits and (px / W, py / H, log distance).

    As LISA's mask decoder reads both the `<SEG>` embedding and the image features, the `<pose6D>` hidden state
    queries (multi-head attention) the last-layer states of its own sequence's image tokens; the MLP then reads the
    hidden state and what the attention returned. The hidden state says which object (and its category); the
    attention fetches that object's geometry straight from the image tokens, which a small LM would otherwise have to
    carry to the `<pose6D>` position through its layers. Without image tokens in the pass (a cached decoding step),
    the attention contributes zeros.
    """

    def __init__(self, config: LlavaPoseConfig):
        super().__init__()
        width = config.text_config.hidden_size
        if config.pose_head_num_heads < 1 or width % config.pose_head_num_heads:
            raise ValueError(f"pose_head_num_heads={config.pose_head_num_heads} must divide the LM's hidden size "
                             f"{width}")
        self.num_bins = config.num_bins
        self.num_heads = config.pose_head_num_heads
        self.query = nn.Linear(width, width)
        self.key_value = nn.Linear(width, 2 * width)
        self.dense = nn.Linear(2 * width, config.pose_head_hidden_size)
        self.act = nn.GELU()
        self.dropout = nn.Dropout(config.pose_head_dropout)
        self.out = nn.Linear(config.pose_head_hidden_size, 3 * config.num_bins + 3)
        vision = getattr(config, "pose_head_vision_features", False)  # a second attention, on the tower's tokens
        self.vision_query = nn.Linear(width, width) if vision else None
        self.vision_key_value = nn.Linear(config.vision_config.hidden_size, 2 * width) if vision else None
        self.vision_dense = nn.Linear(width, config.pose_head_hidden_size) if vision else None
        # The baseline's pose head on the mean of the tower's tokens, fixed: buffers, saved and loaded with the
        # weights, which neither the optimizer nor PEFT's modules_to_save trains (LlavaPoseConfig).
        self.has_tower_prior = bool(getattr(config, "pose_head_tower_prior", False))
        if self.has_tower_prior:
            self.register_buffer("tower_prior_weight", torch.zeros(3 * config.num_bins,
                                                                   config.vision_config.hidden_size))
            self.register_buffer("tower_prior_bias", torch.zeros(3 * config.num_bins))
            # ... and its category head, whose log-probabilities bias the logits of the categories' name tokens.
            token_ids = list(getattr(config, "category_prior_token_ids", None) or [])
            self.register_buffer("category_prior_weight", torch.zeros(len(token_ids),
                                                                      config.vision_config.hidden_size))
            self.register_buffer("category_prior_bias", torch.zeros(len(token_ids)))
            # A list, not a buffer: from_pretrained leaves a non-persistent buffer uninitialised (meta device).
            self.category_token_ids = token_ids

    def category_log_prior(self, vision_features: torch.Tensor, vocab_size: int) -> torch.Tensor | None:
        """The tower's category prior in the LM's vocabulary, (B, vocab_size) float32, from `vision_features`
        (B, N, C): at each category's name token, the log of the probability the baseline's category head gives it
        (categories sharing a token add up; at least 1e-4, so a confident head does not forbid a word outright);
        0 at every other token. None without a prior (no `category_prior_token_ids`)."""
        if not self.has_tower_prior or not self.category_token_ids:
            return None
        logits = F.linear(vision_features.float().mean(dim=1), self.category_prior_weight.float(),
                          self.category_prior_bias.float())
        ids = torch.tensor(self.category_token_ids, dtype=torch.long, device=logits.device)
        mass = logits.new_zeros(logits.shape[0], vocab_size).index_add_(1, ids, logits.softmax(dim=-1))
        named = torch.zeros(vocab_size, dtype=torch.bool, device=logits.device)
        named[ids] = True
        return torch.where(named, mass.clamp_min(1e-4).log(), 0.0)

    def _attend(self, query: torch.Tensor, key_value: torch.Tensor, mask: torch.BoolTensor,
                batch_index: torch.LongTensor) -> torch.Tensor:
        """Attention of P queries (P, D) over their sequences' `key_value` (B, T, 2D) where `mask` (B, T); (P, D)."""
        num_poses, width = query.shape
        head_width = width // self.num_heads
        query = query.view(num_poses, self.num_heads, 1, head_width)
        # Keys and values once per sequence, then one row per pose (a caption has several poses per sequence).
        key, value = key_value[batch_index].view(num_poses, key_value.shape[1], 2, self.num_heads,
                                                 head_width).permute(2, 0, 3, 1, 4)
        if num_poses:
            mask = mask[batch_index][:, None, None, :]
            has_memory = mask.any(-1, keepdim=True)
            # A row without image tokens contributes zeros; it attends to everything only to keep the softmax finite.
            attended = F.scaled_dot_product_attention(query, key, value, attn_mask=mask | ~has_memory)
            return torch.where(has_memory, attended, 0.0).reshape(num_poses, width)
        # No <pose6D> in the pass (a prompt, most decoding steps): CUDA's bf16 attention returned None for an
        # empty batch on an H200 (torch 2.11). The zero-weighted sums keep the head's weights in the graph, so a
        # data-parallel rank without a pose still gives them a (zero) gradient.
        return (query.sum() + key.sum() + value.sum()) * query.new_zeros(0, width)

    def forward(self, pose_states: torch.Tensor, hidden_states: torch.Tensor, image_mask: torch.BoolTensor,
                batch_index: torch.LongTensor, vision_features: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """`pose_states` (P, D): the `<pose6D>` states; `hidden_states` (B, T, D), `image_mask` (B, T): the pass's
        last-layer states and its image tokens; `batch_index` (P,): each pose's sequence; `vision_features` (B, N, C)
        (with `pose_head_vision_features`): the tower's tokens of each sequence's image, None in a pass without
        images. Returns the bin logits (P, 3, num_bins) and the regression (P, 3)."""
        width = pose_states.shape[-1]
        attended = self._attend(self.query(pose_states), self.key_value(hidden_states), image_mask, batch_index)
        hidden = self.dense(torch.cat([pose_states, attended.to(pose_states.dtype)], dim=-1))
        given = vision_features is not None
        if self.vision_dense is not None:  # no image in the pass: one empty token, masked out (zeros, in the graph)
            if not given:
                vision_features = hidden_states.new_zeros(hidden_states.shape[0], 1, self.vision_key_value.in_features)
            elif vision_features.shape[0] != hidden_states.shape[0]:
                raise ValueError(f"pose head: {vision_features.shape[0]} images for {hidden_states.shape[0]} sequences")
            mask = torch.full(vision_features.shape[:2], given, dtype=torch.bool, device=hidden_states.device)
            seen = self._attend(self.vision_query(pose_states),
                                self.vision_key_value(vision_features.to(pose_states.dtype)), mask, batch_index)
            hidden = hidden + self.vision_dense(seen.to(pose_states.dtype).reshape(-1, width))
        output = self.out(self.dropout(self.act(hidden)))
        split = 3 * self.num_bins
        if self.has_tower_prior and given:  # no image in the pass: the prior adds nothing
            pooled = vision_features.to(self.tower_prior_weight.dtype).mean(dim=1)[batch_index]
            prior = F.linear(pooled, self.tower_prior_weight, self.tower_prior_bias).to(output.dtype)
            output = torch.cat([output[..., :split] + prior, output[..., split:]], dim=-1)
        return output[..., :split].unflatten(-1, (3, self.num_bins)), output[..., split:]


__all__ = ["LlavaPoseHead", "per_example_lm_loss"]

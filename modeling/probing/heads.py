"""The trainable side of Task 1: every linear head of the search grid, trained together over cached features.

The official grid is 3 layer sets × 2 avgpool choices × 13 learning rates = 78 heads, each three
40-way linear classifiers (azimuth, elevation, theta) initialised N(0, 0.01) with zero bias, trained
on the sum of the three cross-entropies with SGD (momentum 0.9, no weight decay), a cosine schedule
over all steps and batch 128 (``shared/imagenet3d_spec.md`` §5 Task 1). Here the heads are one tensor
(variants, learning rates, input, 3·40) and one einsum computes all their logits, so one pass over
the cache trains the whole grid. Heads never share a parameter and the loss is a sum over heads,
so each head gets exactly the gradient it would get alone; the per-head learning rate is applied
in a plain SGD-with-momentum update (the same arithmetic as ``torch.optim.SGD``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from modeling.geometry import NUM_BINS
from modeling.probing.features import FeatureCache, Variant
from modeling.utils.errors import ImageNet3DError

OFFICIAL_LEARNING_RATES = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1)
"""The official ``lr_list`` (configs/models/probe_*.yaml): 13 rates, 1-2-5 steps from 1e-5 to 0.1."""
MOMENTUM = 0.9
INIT_STD = 0.01
NUM_ANGLES = 3


class HeadGrid(torch.nn.Module):
    """All heads: ``weight`` (V, R, width, 3·40) and ``bias`` (V, R, 3·40) for V variants and R learning rates."""

    def __init__(self, num_variants: int, num_rates: int, width: int, generator: torch.Generator | None = None):
        super().__init__()
        weight = torch.randn(num_variants, num_rates, width, NUM_ANGLES * NUM_BINS, generator=generator) * INIT_STD
        self.weight = torch.nn.Parameter(weight)
        self.bias = torch.nn.Parameter(torch.zeros(num_variants, num_rates, NUM_ANGLES * NUM_BINS))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits (V, R, B, 3, 40) of inputs (V, B, width)."""
        logits = torch.einsum("vbd,vrdk->vrbk", inputs, self.weight) + self.bias[:, :, None]
        return logits.unflatten(-1, (NUM_ANGLES, NUM_BINS))


def head_losses(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-head loss (V, R): the sum over the three angles of the batch-mean cross-entropy; labels (B, 3)."""
    v, r, b = logits.shape[:3]
    target = labels.expand(v, r, b, NUM_ANGLES).reshape(-1)
    ce = F.cross_entropy(logits.reshape(-1, NUM_BINS), target, reduction="none")
    return ce.view(v, r, b, NUM_ANGLES).mean(dim=2).sum(dim=-1)


def cosine_factor(step: int, total: int) -> float:
    """``CosineAnnealingLR`` (eta_min 0, T_max = all steps): the fraction of the base rate at ``step`` (0-based)."""
    return 0.5 * (1.0 + math.cos(math.pi * step / total))


@dataclass
class GridResult:
    """A trained grid: the heads, their variants and learning rates, and the mean loss per epoch."""

    heads: HeadGrid
    variants: list[Variant]
    learning_rates: list[float]
    width: int
    epoch_losses: list[float]


def train_grid(cache: FeatureCache, variants: Sequence[Variant], learning_rates: Sequence[float], epochs: int = 5,
               batch_size: int = 128, hflip: bool = True, seed: int = 0, device: str | torch.device = "cpu",
               progress: bool = True) -> GridResult:
    """Train every (variant, learning rate) head of the grid in one pass per epoch over ``cache``.

    Args:
        cache: training features; with a mirrored view, ``hflip`` uses it for half the samples.
        variants: the feature variants (:func:`probe_features.make_variants`).
        learning_rates: the base learning rate of each head column (the official 13 by default upstream).
        epochs: passes over the training set (official default 5).
        batch_size: samples per step (official 128); the last batch of an epoch may be smaller.
        hflip: mirror each sample with probability 0.5 (image and labels), as the official training does.
        seed: seeds the head initialisation, the shuffling and the flips.
        device: where the heads train; features move there batch by batch.
        progress: show a progress bar with the loss of the best head so far.
    """
    if not variants or not learning_rates:
        raise ImageNet3DError("the grid needs at least one variant and one learning rate")
    if epochs < 1 or batch_size < 1 or len(cache) == 0:
        raise ImageNet3DError(f"need epochs >= 1, batch size >= 1 and training samples (got {epochs}, {batch_size}, "
                              f"{len(cache)})")
    if hflip and cache.num_views < 2:
        raise ImageNet3DError("hflip needs features of the mirrored images (extract with mirror=True)")
    generator = torch.Generator().manual_seed(seed)
    width = max(cache.input_dim(v) for v in variants)
    heads = HeadGrid(len(variants), len(learning_rates), width, generator).to(device)
    rates = torch.tensor(list(learning_rates), dtype=torch.float32, device=device)
    momentum = [torch.zeros_like(p) for p in heads.parameters()]
    n = len(cache)
    steps_per_epoch = math.ceil(n / batch_size)
    total = epochs * steps_per_epoch
    epoch_losses = []
    with tqdm(total=total, desc="train probes", unit="step", disable=not progress) as bar:
        for epoch in range(epochs):
            order = torch.randperm(n, generator=generator)
            running = torch.zeros(len(variants), len(learning_rates), device=device)
            for start in range(0, n, batch_size):
                step = epoch * steps_per_epoch + start // batch_size
                index = order[start:start + batch_size]
                view = ((torch.rand(len(index), generator=generator) < 0.5).long() if hflip
                        else torch.zeros_like(index))
                inputs = cache.inputs(variants, index, view, width).to(device)
                labels = cache.labels[view, index].to(device)
                losses = head_losses(heads(inputs), labels)
                heads.zero_grad(set_to_none=False)
                losses.sum().backward()
                scale = rates * cosine_factor(step, total)
                with torch.no_grad():
                    for param, buffer in zip(heads.parameters(), momentum):
                        # torch.optim.SGD(momentum=0.9, dampening=0): buf = 0.9·buf + g (buf = g at first), p -= lr·buf.
                        buffer.mul_(MOMENTUM).add_(param.grad)
                        param.sub_(scale.view(1, -1, *([1] * (param.dim() - 2))) * buffer)
                running += losses.detach() * len(index)
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, best_head_loss=f"{losses.min().item():.3f}")
            epoch_losses.append(float((running / n).min()))
    return GridResult(heads.cpu(), list(variants), [float(r) for r in learning_rates], width, epoch_losses)


@torch.no_grad()
def predict_bins(grid: GridResult, cache: FeatureCache, batch_size: int = 1024,
                 device: str | torch.device = "cpu") -> np.ndarray:
    """Argmax bins (V, R, N, 3) of every head on the unflipped view of ``cache``."""
    heads = grid.heads.to(device)
    parts = []
    for start in range(0, len(cache), batch_size):
        index = torch.arange(start, min(start + batch_size, len(cache)))
        inputs = cache.inputs(grid.variants, index, width=grid.width).to(device)
        parts.append(heads(inputs).argmax(dim=-1).cpu())
    grid.heads.cpu()
    return torch.cat(parts, dim=2).numpy()

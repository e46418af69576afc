"""The demo baseline's training step: the small tower against the one before it, and the batch jitter against the
per-crop one. Each pair is timed in this process, one thread, interleaved (A, B, A, B, ...), the median of the rounds.

* ``baseline_step_tower``: forward + backward + fused AdamW of a batch of 32 crops of 64 px (channels-last, as
  ``train_baseline`` trains), the small ResNet of ``modeling.baseline.sizes`` against the small ResNet of 2026-12-01
  (32-channel stem, depths [1, 1, 2, 1]), milliseconds per step;
* ``baseline_step_jitter``: the data of one such batch (items of ``AugmentedRows`` with mirroring and jitter, then
  ``BaselineCollator``), whole-batch jitter (``batch_jitter``) against the per-crop PIL jitter, milliseconds per batch.

A demo step (two processes of 32) is both plus the all-reduce; the demo's ``train_baseline`` stage is the whole.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.suite import Benchmark, entry

BATCH, SIDE = 32, 64
PREVIOUS_SMALL = {"embedding_size": 32, "hidden_sizes": [32, 64, 128, 256], "depths": [1, 1, 2, 1],
                  "layer_type": "basic"}
"""The small tower before 2026-12-02 (the baseline of ``baseline_step_tower``)."""


def _interleaved_ms(first: Callable[[], None], second: Callable[[], None], rounds: int, repeats: int
                    ) -> tuple[float, float]:
    """Median milliseconds per call of each, over ``rounds`` interleaved rounds of ``repeats`` calls (one warm-up)."""
    times: tuple[list[float], list[float]] = ([], [])
    for round_ in range(rounds + 1):
        for k, work in enumerate((first, second)):
            start = time.perf_counter()
            for _ in range(repeats):
                work()
            if round_:  # the first round warms up (oneDNN's kernels, allocations)
                times[k].append(1000 * (time.perf_counter() - start) / repeats)
    return statistics.median(times[0]), statistics.median(times[1])


def _train_step(backbone: dict) -> Callable[[], None]:
    import torch
    from transformers import ResNetConfig

    from modeling.baseline.model import PoseClassifier, PoseClassifierConfig, pose_bins

    torch.manual_seed(0)
    model = PoseClassifier(PoseClassifierConfig(backbone_config=ResNetConfig(**backbone), pose_bin_sigma=1.0))
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    rng = np.random.default_rng(0)
    pixels = torch.randn(BATCH, 3, SIDE, SIDE).contiguous(memory_format=torch.channels_last)
    categories = torch.as_tensor(rng.integers(0, 11, BATCH))
    poses = pose_bins(rng.uniform(0, 6, BATCH), rng.uniform(-1, 1, BATCH), rng.uniform(-1, 1, BATCH),
                      model.config.num_bins)

    def step() -> None:
        model(pixel_values=pixels, category_labels=categories, pose_labels=poses).loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    return step


def _data_batch(batch_jitter: bool) -> Callable[[], None]:
    import io

    from datasets import Dataset
    from datasets import Image as ImageFeature
    from PIL import Image

    from modeling.baseline.model import create_baseline
    from modeling.baseline.training import AugmentedRows, BaselineCollator

    rng = np.random.default_rng(0)
    pngs = []
    for _ in range(BATCH * 4):
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)).save(buffer, format="PNG")
        pngs.append({"bytes": buffer.getvalue(), "path": None})
    count = len(pngs)
    rows = Dataset.from_dict({"image": pngs, "category": [0] * count, "azimuth": [1.0] * count,
                              "elevation": [0.1] * count, "theta": [0.0] * count}).cast_column("image", ImageFeature())
    items = AugmentedRows(rows, seed=0, hflip=0.5, augment=True, batch_jitter=batch_jitter)
    _, processor = create_baseline(size="small", image_size=SIDE)
    collate = BaselineCollator(processor, 40, channels_last=True)
    epoch = iter(range(10**9))

    def batch() -> None:
        items.set_epoch(next(epoch))
        collate([items[i] for i in range(BATCH)])

    return batch


def run(quick: bool, work: Path) -> list[dict]:
    """The entries of this module's docstring."""
    import torch

    from modeling.baseline.sizes import SIZES

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of the demo's training processes
    try:
        rounds, repeats = (1, 1) if quick else (5, 10)
        new, old = _interleaved_ms(_train_step(SIZES["small"]["backbone"]), _train_step(PREVIOUS_SMALL), rounds,
                                   repeats)
        batched, per_crop = _interleaved_ms(_data_batch(True), _data_batch(False), rounds, repeats)
    finally:
        torch.set_num_threads(threads)
    return [entry("baseline_step_tower", new, old, "ms/step", f"small ResNet {SIZES['small']['backbone']}",
                  f"small ResNet of 2026-12-01 {PREVIOUS_SMALL}", higher_is_better=False, batch=BATCH, side=SIDE,
                  rounds=rounds, repeats=repeats, threads=1),
            entry("baseline_step_jitter", batched, per_crop, "ms/batch", "whole-batch jitter (batch_jitter)",
                  "per-crop PIL jitter", higher_is_better=False, batch=BATCH, side=SIDE, rounds=rounds,
                  repeats=repeats, threads=1)]


BENCHMARK = Benchmark("baseline_step", run, "the demo baseline's step: tower and jitter against their predecessors")

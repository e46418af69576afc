"""The sizes of the random ResNet backbones that ``build_baseline`` creates, which are also the towers of the built-in
LLaVA-pose sizes (``modeling.llava_pose.init_model.SIZES``): the demo hands LLaVA-pose the trained baseline as its
tower. Plain numbers, without torch, so that ``imagenet3d init-model --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

# Random backbones of build_baseline (and the towers of the built-in LLaVA-pose sizes). A small ResNet (BatchNorm,
# "basic" blocks) learns far faster from scratch on a few thousand crops than a ViT of the same cost; "tiny" is for
# tests. image_size is the processor's input side. "small"'s stem (16 channels) and one block per stage: on the
# demo's 64 px crops the 32-channel stem's BatchNorm, ReLU and max-pool over 32 x 32 maps were a third of a step,
# and the second block of stage 3 another seventh; against 32 channels and depths [1, 1, 2, 1] a training step
# (batch 32, one thread) takes 54.2 ms against 68.6 (`python -m benchmarks --only baseline_step`); in the whole demo
# (same data, same 2-core machine, one run after the other, 2026-12-02) the baseline's 4,500 steps took 342.8 s
# against 403.6 and reached 78.5 joint / 39.5 novel against 78.1 / 39.7, LLaVA-pose on it 78.5 / 38.4 against 78.4 /
# 39.5 (README, "The demo").
SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"image_size": 32, "backbone": {"embedding_size": 8, "hidden_sizes": [8, 16, 16, 32],
                                            "depths": [1, 1, 1, 1], "layer_type": "basic"}},
    "small": {"image_size": 96, "backbone": {"embedding_size": 16, "hidden_sizes": [32, 64, 128, 256],
                                             "depths": [1, 1, 1, 1], "layer_type": "basic"}},
}


__all__ = ["SIZES"]

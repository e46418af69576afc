"""Shared by the tests/test_llava_pose*.py files: the tiny LLaVA-pose, built once per test session, and batches."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from modeling.geometry import angle_to_bin


@cache
def tiny_model_dir(size: str = "tiny") -> Path:
    """The tiny model (ResNet tower; "tiny-clip": CLIP ViT tower) saved to a temporary folder (built on first use,
    removed at exit)."""
    from modeling.llava_pose.init_model import build_tiny_model

    folder = Path(tempfile.mkdtemp(prefix="llava_pose_tiny_"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return build_tiny_model(folder / size, size=size, seed=0)


def load_tiny():
    """A fresh copy of the tiny model (eval mode) and its processor, loaded from disk."""
    from modeling.llava_pose.inference import load_model

    return load_model(tiny_model_dir())


def random_image(seed: int, size: tuple[int, int] = (48, 80)) -> Image.Image:
    """A random RGB image of (height, width)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def pose_targets(poses: list[list[tuple[float, float, float, float, float, float]]], image_sizes):
    """Padded pose targets from per-sequence lists of (azimuth, elevation, theta, distance, px, py)."""
    max_poses = max(len(p) for p in poses)
    labels = torch.zeros(len(poses), max_poses, 3, dtype=torch.long)
    regression = torch.zeros(len(poses), max_poses, 3)
    mask = torch.zeros(len(poses), max_poses, dtype=torch.bool)
    for b, (sequence, (height, width)) in enumerate(zip(poses, image_sizes)):
        for j, (azimuth, elevation, theta, distance, px, py) in enumerate(sequence):
            labels[b, j] = torch.from_numpy(angle_to_bin(np.array([azimuth, elevation, theta])))
            regression[b, j] = torch.tensor([px / width, py / height, np.log(distance)])
            mask[b, j] = True
    return labels, regression, mask


def training_batch(processor, prompts, answers, images, poses):
    """Teacher-forced batch (right padding): prompt + answer, labels on the answer tokens only, pose targets."""
    tokenizer = processor.tokenizer
    texts = [prompt + " " + answer + tokenizer.eos_token for prompt, answer in zip(prompts, answers)]
    tokenizer.padding_side = "right"
    try:
        batch = processor(images=images, text=texts, return_tensors="pt", padding=True)
        prompt_lengths = [processor(images=[image], text=[prompt], return_tensors="pt")["input_ids"].shape[1]
                          for image, prompt in zip(images, prompts)]
    finally:
        tokenizer.padding_side = "left"
    labels = batch["input_ids"].clone()
    labels[batch["attention_mask"] == 0] = -100
    for b, length in enumerate(prompt_lengths):
        labels[b, :length] = -100
    sizes = [(image.height, image.width) for image in images]
    pose_labels, pose_regression_labels, pose_mask = pose_targets(poses, sizes)
    return {**batch, "labels": labels, "pose_labels": pose_labels, "pose_regression_labels": pose_regression_labels,
            "pose_mask": pose_mask}


def train(model, batch, steps: int, lr: float) -> list[float]:
    """A few AdamW steps on one batch (the model is left in eval mode); returns the losses."""
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    losses = []
    for _ in range(steps):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    model.eval()
    return losses

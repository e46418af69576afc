"""``imagenet3d train-baseline``: train the classification baseline (``modeling/baseline/model.py``) with the
HF Trainer.

One protocol for Task 2 and Task 3: with ``categories="known"`` (``--known-only``) the model sees the ``pose``
config's ``train`` rows of the 63 known categories only (the ``open_vocab`` config's ``train`` split; novel
categories stay unseen for the open-vocabulary evaluation), with ``categories="all"`` the whole ``pose`` ``train``
split. Loss 1.0·CE_pose + 1.0·CE_cls; random horizontal flips with the pose mirrored by ``geometry.flip_pose``;
AdamW with a cosine schedule; seeded (the Trainer seeds torch, which draws the flips and the batch order).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from dataset_card import KNOWN_CATEGORIES
from modeling.data.augmentation import jitter
from modeling.geometry import ANGLE_NAMES, flip_pose
from modeling.utils.errors import ImageNet3DError

CATEGORY_CHOICES = ("known", "all")
TRAIN_COLUMNS = ["image", "category", *ANGLE_NAMES]
DEFAULTS = {"epochs": 30, "lr": 2e-3, "batch_size": 64, "weight_decay": 0.05, "warmup": 0.05, "hflip": 0.5}


class BaselineCollator:
    """Rows of a crop config (`image`, `category`, azimuth/elevation/theta) -> the baseline's batch.

    With probability `hflip` an image is mirrored and its pose replaced by `geometry.flip_pose` (a' = 2π − a,
    θ' = −θ); with `augment` it is also jittered (`augmentation.jitter`: zoom, shift, colour). The draws use torch's
    global generator, which the Trainer seeds. Returns `pixel_values`,
    `category_labels` (B,) and `pose_labels` (B, 3) bins.
    """

    def __init__(self, processor: Any, num_bins: int, hflip: float = 0.0, augment: bool = False) -> None:
        self.processor = processor
        self.num_bins = num_bins
        self.hflip = hflip
        self.augment = augment

    def __call__(self, rows: list[dict]) -> dict:
        import torch
        from PIL import Image

        from modeling.baseline.model import pixel_values, pose_bins

        images = [row["image"] for row in rows]
        angles = np.array([[row[name] for name in ANGLE_NAMES] for row in rows], dtype=np.float64).reshape(-1, 3)
        if self.hflip > 0:
            flip = (torch.rand(len(rows)) < self.hflip).numpy()
            images = [image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if f else image
                      for image, f in zip(images, flip)]
            flipped = np.stack(flip_pose(angles[:, 0], angles[:, 1], angles[:, 2]), axis=-1)
            angles = np.where(flip[:, None], flipped, angles)
        if self.augment:
            rng = np.random.default_rng(int(torch.randint(2**31, ())))
            images = [jitter(image, rng)[0] for image in images]
        return {"pixel_values": pixel_values(self.processor, images),
                "category_labels": torch.tensor([int(row["category"]) for row in rows], dtype=torch.long),
                "pose_labels": pose_bins(angles[:, 0], angles[:, 1], angles[:, 2], self.num_bins)}


def training_split(data_dir: str | Path, categories: str = "all"):
    """The training rows: the `pose` train split's rows of the 63 known categories (`categories="known"`, the rows of
    the `open_vocab` train split) or all of them ("all"); see `modeling.data.loading.load_pose_split`."""
    from modeling.data.loading import load_pose_split

    if categories not in CATEGORY_CHOICES:
        raise ImageNet3DError(f"categories: expected one of {', '.join(CATEGORY_CHOICES)}, got {categories!r}")
    dataset = load_pose_split(data_dir, "train", categories)
    names = dataset.features["category"].names
    seen = sorted({names[i] for i in dataset["category"]})
    return dataset.select_columns(TRAIN_COLUMNS), seen


def train_baseline(model_dir: str | Path | None, data_dir: str | Path, output_dir: str | Path,
                   categories: str = "all", epochs: float = DEFAULTS["epochs"], lr: float = DEFAULTS["lr"],
                   batch_size: int = DEFAULTS["batch_size"], seed: int = 0, max_steps: int = -1,
                   weight_decay: float = DEFAULTS["weight_decay"], warmup: float = DEFAULTS["warmup"],
                   hflip: float = DEFAULTS["hflip"], augment: bool = True, size: str = "small",
                   image_size: int | None = None, logging_steps: int = 10, progress: bool = True) -> dict:
    """Train the baseline and save it (model + image processor) to `output_dir`; returns the run's summary.

    Args:
        model_dir: where to start: `None` for a new random ResNet of `size`; a baseline folder (from
            `build_baseline` or an earlier run) to continue from; any other vision backbone (local folder or Hub
            name) to wrap with new heads (see `build_baseline`).
        data_dir: a dataset folder written by `imagenet3d build` (with the `pose` config).
        output_dir: folder for the trained model, its processor and `training.json` (the summary).
        categories: "known" trains on the 63 known categories only (the `open_vocab` train split, Task 2 protocol);
            "all" on every category of the `pose` train split.
        epochs: passes over the training rows (fractions allowed); `max_steps > 0` overrides it.
        lr: peak learning rate of AdamW (linear warmup, then cosine decay to 0).
        batch_size: images per step.
        seed: seed of the initialisation of a new model, the batch order and the flips.
        max_steps: stop after this many optimiser steps (-1: use `epochs`).
        weight_decay: AdamW's decoupled weight decay.
        warmup: fraction of the steps spent warming up (in [0, 1)).
        hflip: probability of a horizontal flip of each training image (its pose mirrored accordingly).
        augment: jitter each training image (zoom, shift ±8 %, colour ±20 %; `modeling.data.augmentation`).
        size, image_size: the new model's size and input side when `model_dir` is `None` or a backbone.
        logging_steps: log the loss every this many steps.
        progress: show the Trainer's progress bar (loss, learning rate).
    """
    import torch
    from transformers import Trainer, TrainingArguments, set_seed

    from modeling.baseline.model import create_baseline, is_baseline_dir, load_baseline

    train_rows, seen = training_split(data_dir, categories)
    set_seed(seed)
    if model_dir is not None and is_baseline_dir(model_dir):
        model, processor = load_baseline(model_dir)
    elif model_dir is not None and Path(model_dir).exists() and not (Path(model_dir) / "config.json").is_file():
        raise ImageNet3DError(f"{model_dir}: not a model folder (no config.json)")
    else:
        model, processor = create_baseline(model_dir, size=size, image_size=image_size, seed=seed)
    output_dir = Path(output_dir)
    args = TrainingArguments(
        output_dir=str(output_dir), num_train_epochs=epochs, max_steps=max_steps, learning_rate=lr,
        per_device_train_batch_size=batch_size, weight_decay=weight_decay, warmup_steps=warmup,
        lr_scheduler_type="cosine", optim="adamw_torch", seed=seed, data_seed=seed, logging_steps=logging_steps,
        save_strategy="no", eval_strategy="no", report_to="none", remove_unused_columns=False,
        label_names=["category_labels", "pose_labels"], dataloader_num_workers=0, disable_tqdm=not progress,
        # A last batch of one image breaks BatchNorm (one value per channel) and is noise anyway.
        dataloader_drop_last=len(train_rows) > batch_size,
        use_cpu=not torch.cuda.is_available(),
    )
    collator = BaselineCollator(processor, model.config.num_bins, hflip=hflip, augment=augment)
    trainer = Trainer(model=model, args=args, train_dataset=train_rows, data_collator=collator)
    start = time.perf_counter()
    result = trainer.train()
    seconds = time.perf_counter() - start
    model.eval()
    model.save_pretrained(output_dir)
    processor.save_pretrained(output_dir)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    summary = {
        "data": str(data_dir), "categories": categories, "train_rows": len(train_rows),
        "train_categories": seen, "novel_categories_seen": sorted(set(seen) - set(KNOWN_CATEGORIES)),
        "start": str(model_dir) if model_dir is not None else None, "epochs": epochs, "max_steps": max_steps,
        "steps": result.global_step, "lr": lr, "batch_size": batch_size, "seed": seed, "hflip": hflip,
        "augment": augment,
        "weight_decay": weight_decay, "warmup": warmup, "train_seconds": round(seconds, 2),
        "train_loss": result.training_loss, "logged_losses": losses,
    }
    (output_dir / "training.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, metavar="DATASET_DIR",
                        help="dataset folder written by `imagenet3d build` (pose / open_vocab configs)")
    parser.add_argument("--output", required=True, type=Path, metavar="DIR",
                        help="folder for the trained model, its image processor and training.json")
    parser.add_argument("--backbone", metavar="NAME_OR_DIR",
                        help="start from a baseline folder (continue), or wrap this vision backbone (local folder or "
                             "Hub name, e.g. facebook/dinov2-small: needs the Hub) with new heads; default: a new "
                             "random ResNet of --size")
    parser.add_argument("--size", default="small", help="size of the new random ResNet: tiny or small (default: small)")
    parser.add_argument("--image-size", type=int, help="input side of a new model (default: 96 for small)")
    parser.add_argument("--known-only", action="store_true",
                        help="train on the 63 known categories only (the open_vocab train split; Task 2 protocol); "
                             "default: every category of the pose train split")
    parser.add_argument("--epochs", type=float, default=DEFAULTS["epochs"],
                        help=f"passes over the training rows (default: {DEFAULTS['epochs']})")
    parser.add_argument("--max-steps", type=int, default=-1, help="stop after this many steps (overrides --epochs)")
    parser.add_argument("--lr", type=float, default=DEFAULTS["lr"],
                        help=f"peak AdamW learning rate, cosine schedule (default: {DEFAULTS['lr']})")
    parser.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"],
                        help=f"images per step (default: {DEFAULTS['batch_size']})")
    parser.add_argument("--weight-decay", type=float, default=DEFAULTS["weight_decay"],
                        help=f"AdamW weight decay (default: {DEFAULTS['weight_decay']})")
    parser.add_argument("--hflip", type=float, default=DEFAULTS["hflip"],
                        help=f"probability of a horizontal flip, pose mirrored (default: {DEFAULTS['hflip']})")
    parser.add_argument("--no-augment", dest="augment", action="store_false",
                        help="no zoom / shift / colour jitter (default: on)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    for name in ("epochs", "lr", "batch_size"):
        if getattr(args, name) <= 0:
            raise ImageNet3DError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if not 0 <= args.hflip <= 1:
        raise ImageNet3DError(f"--hflip must be a probability in [0, 1], got {args.hflip}")
    summary = train_baseline(args.backbone, args.data, args.output, categories="known" if args.known_only else "all",
                             epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed,
                             max_steps=args.max_steps, weight_decay=args.weight_decay, hflip=args.hflip,
                             augment=args.augment,
                             size=args.size, image_size=args.image_size, progress=not args.no_progress)
    print(f"trained the baseline on {summary['train_rows']} objects of {len(summary['train_categories'])} categories "
          f"({summary['categories']}) for {summary['steps']} steps in {summary['train_seconds']} s; "
          f"train loss {summary['train_loss']:.3f}")
    print(f"saved to {args.output}; evaluate with `imagenet3d evaluate --model {args.output} --data {args.data} "
          f"--task joint`")
    return 0


__all__ = ["BaselineCollator", "CATEGORY_CHOICES", "train_baseline", "training_split"]

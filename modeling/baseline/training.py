"""Train the classification baseline (``modeling/baseline/model.py``) with the HF Trainer: :func:`train_baseline`
(and ``imagenet3d train-baseline``, whose options are the fields of
:class:`~modeling.baseline.training_arguments.BaselineTrainingArguments`).

One protocol for Task 2 and Task 3: with ``known_only`` (``--known-only``) the model sees the ``pose`` config's
``train`` rows of the 63 known categories only (the ``open_vocab`` config's ``train`` split; novel categories stay
unseen for the open-vocabulary evaluation), otherwise the whole ``pose`` ``train`` split. Loss 1.0·CE_pose +
1.0·CE_cls; random horizontal flips with the pose mirrored by ``geometry.flip_pose``; AdamW with a cosine schedule;
seeded (each item's flip and jitter are drawn from (seed, epoch, index), the batch order from the Trainer's seed).

Several processes (``accelerate launch --num_processes N -m modeling.cli train-baseline ...``, DDP): the options are
per process (``--batch-size`` is each process's batch), every item is drawn the same on any process, the main process
alone writes the folder. The one difference from one process with N times the batch is BatchNorm: each process
normalises its own batch, and the saved running statistics are the main process's own (each process keeps its own;
DDP does not broadcast them: one collective fewer per step), so the loss curve agrees within about 1 % and the weights
are close, not equal (measured in tests/baseline/test_multiprocess.py for a ViT, tests/demo/test_processes.py for
the demo's ResNet).
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dataset_card import KNOWN_CATEGORIES
from modeling.baseline.training_arguments import BaselineTrainingArguments
from modeling.data.augmentation import apply_jitter, jitter_batch, jitter_draws
from modeling.data.loading import decode_crops_once
from modeling.geometry import ANGLE_NAMES, flip_pose
from modeling.utils.errors import ImageNet3DError, located
from modeling.utils.model_folder import check_output_folder

if TYPE_CHECKING:
    import torch

TRAIN_COLUMNS = ["image", "category", *ANGLE_NAMES]
SUMMARY_FILE = "training.json"
CHANNELS_LAST_BACKBONES = ("resnet", "convnext", "regnet")
"""Backbones (``model_type``) trained in the channels-last memory layout."""
DDP_BUCKET_CAP_MB = 1024
"""DDP's gradient bucket (MB) with several CPU processes: larger than the gradients of any baseline the demo trains,
so one all-reduce per step for those (a backbone with more than 1 GB of gradients gets several; the buffer is the
gradients' size, not this)."""


class AugmentedRows:
    """The training rows (`image`, `category`, azimuth/elevation/theta), each mirrored and jittered by its own draws.

    With probability `hflip` an image is mirrored and its pose replaced by `geometry.flip_pose` (a' = 2π − a,
    θ' = −θ); with `augment` it is also jittered (`augmentation.jitter`: zoom, shift, colour). The draws of item i in
    epoch e come from the generator seeded with (seed, e, i) alone, so that an item is the same whichever process
    loads it and after a resume: two processes with batch b see the examples of one process with batch 2b.
    `set_epoch` (called by `modeling.baseline.trainer_common.EpochCallback`) selects the epoch. With `decode_once`
    the crops are decoded once into one uint8 array (`modeling.data.loading.decode_crops_once`) instead of
    once per item per epoch; the items are the same either way.

    With `batch_jitter` (and the crops decoded once), an item leaves the jitter to the collator: it holds `pixels`
    (H, W, 3) uint8, already mirrored, and `jitter` (its (7,) `augmentation.jitter_draws`, NaN without `augment`)
    instead of `image`; `BaselineCollator` then jitters the whole batch at once (`augmentation.jitter_batch`). The
    draws are the same as the per-item path's.

    `whole` = (images (M, H, W, 3) uint8, categories (M,)) adds `whole_count` items after the rows: whole images
    (:func:`whole_images`), drawn in a permutation seeded by `seed` (cycled when more are asked than there are),
    mirrored and jittered as the crops are, with NaN angles (no pose: `BaselineCollator` labels them `NO_POSE`).
    """

    def __init__(self, rows: Any, seed: int = 0, hflip: float = 0.0, augment: bool = False,
                 decode_once: bool = True, batch_jitter: bool = False,
                 whole: tuple[np.ndarray, np.ndarray] | None = None, whole_count: int = 0) -> None:
        self.rows = rows
        self.seed = seed
        self.hflip = hflip
        self.augment = augment
        self.epoch = 0
        self._decoded = _decode_all(rows) if decode_once else None
        self.batch_jitter = batch_jitter and self._decoded is not None
        self._whole = whole if whole is not None and whole_count > 0 and len(whole[0]) else None
        self.whole_count = whole_count if self._whole is not None else 0
        self._whole_order = (np.random.default_rng([seed, len(rows)]).permutation(len(self._whole[0]))
                             if self._whole is not None else None)

    def _whole_item(self, index: int) -> tuple[np.ndarray, int, list[float]] | None:
        """(pixels, category, angles: NaN, no pose) of item ``index`` when it is a whole image; None for a crop."""
        if index < len(self.rows):
            return None
        k = int(self._whole_order[(index - len(self.rows)) % len(self._whole_order)])
        return self._whole[0][k], int(self._whole[1][k]), [float("nan")] * 3

    def _row(self, index: int) -> tuple[Any, int, list[float]]:
        """Item ``index``'s image (PIL), category and angles: from the arrays decoded once, else from the row."""
        from PIL import Image

        whole = self._whole_item(index)
        if whole is not None:
            return Image.fromarray(whole[0]), whole[1], whole[2]
        if self._decoded is not None:
            images, categories, angles = self._decoded
            return Image.fromarray(images[index]), int(categories[index]), [float(v) for v in angles[index]]
        row = self.rows[index]
        return row["image"], int(row["category"]), [float(row[name]) for name in ANGLE_NAMES]

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose draws `__getitem__` makes."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.rows) + self.whole_count

    def __getitem__(self, index: int) -> dict:
        from PIL import Image

        if self.batch_jitter:
            return self._deferred_item(index)
        image, category, angles = self._row(index)
        flip, angles, draws = self._draws(index, angles)
        if flip:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if draws is not None:
            image = apply_jitter(image, draws)[0]
        return {"image": image, "category": category, **dict(zip(ANGLE_NAMES, angles))}

    def _deferred_item(self, index: int) -> dict:
        """Item ``index`` with its jitter left to the collator (`batch_jitter`): the same draws as `__getitem__`'s."""
        images, categories, angles = self._decoded
        whole = self._whole_item(index)
        pixels, category, pose = whole if whole is not None else (
            images[index], int(categories[index]), [float(v) for v in angles[index]])
        flip, pose, draws = self._draws(index, pose)
        return {"pixels": pixels[:, ::-1] if flip else pixels,
                "jitter": np.full(7, np.nan) if draws is None else draws, "category": category,
                **dict(zip(ANGLE_NAMES, pose))}

    def _draws(self, index: int, angles: list[float]) -> tuple[bool, list[float], np.ndarray | None]:
        """Item ``index``'s draws, from (seed, epoch, index) alone and in this order: whether it is mirrored (its
        angles then `flip_pose`d) and its jitter (`augmentation.jitter_draws`; None without `augment`)."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        flip = self.hflip > 0 and rng.random() < self.hflip
        if flip:
            angles = [float(v) for v in flip_pose(*angles)]
        return flip, angles, jitter_draws(rng) if self.augment else None


def _decode_all(rows: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(images (N, H, W, 3) uint8, categories (N,), angles (N, 3)) of a `datasets.Dataset` whose crops
    `decode_crops_once` decodes once; None otherwise (then each item is decoded when read)."""
    images = decode_crops_once(rows)
    if images is None:
        return None
    angles = np.stack([np.asarray(rows[name], dtype=np.float64) for name in ANGLE_NAMES], axis=1)
    return images, np.asarray(rows["category"], dtype=np.int64), angles


class BaselineCollator:
    """Rows of a crop config (`image`, `category`, azimuth/elevation/theta) -> the baseline's batch: `pixel_values`,
    `category_labels` (B,) and `pose_labels` (B, 3) bins. No randomness here: the augmentation is drawn by
    `AugmentedRows`, per item; items of its `batch_jitter` (`pixels` + `jitter` draws) are jittered here, the whole
    batch at once when the processor only rescales and normalises crops of their size (else one by one, then the
    processor). With `channels_last` the pixels are laid out (B, H, W, C) in memory (same shape), as a convolutional
    model in that layout wants them."""

    def __init__(self, processor: Any, num_bins: int, channels_last: bool = False) -> None:
        self.processor = processor
        self.num_bins = num_bins
        self.channels_last = channels_last

    def __call__(self, rows: list[dict]) -> dict:
        import torch

        from modeling.baseline.model import pixel_values, pose_bins

        angles = np.array([[row[name] for name in ANGLE_NAMES] for row in rows], dtype=np.float64).reshape(-1, 3)
        deferred = {"pixels" in row for row in rows}
        if len(deferred) > 1:
            raise ImageNet3DError("BaselineCollator: a batch mixes items whose jitter is left to the collator "
                                  "(AugmentedRows' batch_jitter) with items that hold their image")
        pixels = (self._jittered(rows) if deferred == {True}
                  else pixel_values(self.processor, [row["image"] for row in rows]))
        pixels = pixels.contiguous(memory_format=torch.channels_last if self.channels_last else torch.contiguous_format)
        return {"pixel_values": pixels,
                "category_labels": torch.tensor([int(row["category"]) for row in rows], dtype=torch.long),
                "pose_labels": pose_bins(angles[:, 0], angles[:, 1], angles[:, 2], self.num_bins)}

    def _jittered(self, rows: list[dict]) -> torch.Tensor:
        """The pixel values (B, 3, H, W) of `AugmentedRows`'s `batch_jitter` items, their jitter applied."""
        import torch
        from PIL import Image

        from modeling.baseline.model import pixel_values, rescale_normalize

        stacked = np.stack([row["pixels"] for row in rows])
        draws = np.stack([row["jitter"] for row in rows])
        arithmetic = rescale_normalize(self.processor, *stacked.shape[1:3])
        if arithmetic is None or np.isnan(draws[:, 0]).all():
            # A processor that resizes, or no jitter: each crop as the per-item path makes it, then the processor
            # (`pixel_values`, which rescales and normalises such crops in one batch itself).
            images = [Image.fromarray(pixels) for pixels in stacked]
            images = [apply_jitter(image, row)[0] if not np.isnan(row[0]) else image
                      for image, row in zip(images, draws)]
            return pixel_values(self.processor, images)
        rescale, mean, std = arithmetic
        # The jitter's colour change and clipping are in [0, 1] units (8-bit levels / 255), whatever the rescale.
        pixels = jitter_batch(torch.from_numpy(stacked).permute(0, 3, 1, 2).float() / 255.0, draws)
        pixels = pixels * np.float32(rescale * 255.0)
        return (pixels - torch.from_numpy(mean)[:, None, None]) / torch.from_numpy(std)[:, None, None]


def backbone_type(model: Any) -> str | None:
    """The `model_type` of a baseline's backbone ("resnet", "clip_vision_model", ...)."""
    return getattr(model.config.backbone_config, "model_type", None)


def training_split(data_dir: str | Path, known_only: bool = False):
    """The training rows and the categories they hold: the `pose` train split's rows of the 63 known categories with
    `known_only` (the rows of the `open_vocab` train split), else all of them; see
    `modeling.data.loading.load_pose_split`."""
    from modeling.data.loading import load_pose_split

    dataset = load_pose_split(data_dir, "train", "known" if known_only else "all")
    names = dataset.features["category"].names
    seen = sorted({names[i] for i in dataset["category"]})
    return dataset.select_columns(TRAIN_COLUMNS), seen


def train_baseline(data_dir: str | Path, model_dir: str | Path | None, output_dir: str | Path,
                   args: BaselineTrainingArguments | None = None, *, progress: bool = True,
                   **overrides: Any) -> dict:
    """Train the baseline and save it (model + image processor) to `output_dir`; returns the run's summary.

    Args:
        data_dir: a dataset folder written by `imagenet3d build` (with the `pose` config).
        model_dir: where to start: `None` for a new random ResNet of `args.size`; a baseline folder (from
            `build_baseline` or an earlier run) to continue from; any other vision backbone (local folder or Hub
            name) to wrap with new heads (see `build_baseline`).
        output_dir: folder for the trained model, its processor and `training.json` (the summary).
        args: the options (a `BaselineTrainingArguments`); any of its fields given as keywords replace its values
            (`train_baseline(data, None, out, known_only=True, max_steps=100)`).
        progress: show the Trainer's progress bar (loss, learning rate).
    """
    import torch
    from transformers import Trainer, TrainingArguments, set_seed
    from transformers.trainer_callback import PrinterCallback

    from modeling.baseline.model import MODEL_TYPE, create_baseline, is_baseline_dir, load_baseline
    from modeling.baseline.trainer_common import EpochCallback, resume_checkpoint
    from modeling.hub.model_card import write_model_card

    opts = dataclasses.replace(args or BaselineTrainingArguments(), **overrides)
    check_output_folder(output_dir, accepted=(MODEL_TYPE,))
    output_dir = Path(output_dir)
    resume_from = resume_checkpoint(opts.resume, output_dir)
    train_rows, seen = training_split(data_dir, opts.known_only)
    set_seed(opts.seed)
    if model_dir is not None and is_baseline_dir(model_dir):
        model, processor = load_baseline(model_dir)
    elif model_dir is not None and Path(model_dir).exists() and not (Path(model_dir) / "config.json").is_file():
        raise ImageNet3DError(f"{model_dir}: not a model folder (no config.json)")
    else:
        model, processor = create_baseline(model_dir, size=opts.size, image_size=opts.image_size, seed=opts.seed)
    training_args = TrainingArguments(
        output_dir=str(output_dir), num_train_epochs=opts.epochs,
        max_steps=opts.max_steps if opts.max_steps is not None else -1, learning_rate=opts.learning_rate,
        per_device_train_batch_size=opts.batch_size, weight_decay=opts.weight_decay, warmup_steps=opts.warmup_ratio,
        # The fused AdamW (one kernel over all the weights; also on CPU): 1.1-2.0 ms per step of the small ResNet of
        # 2026-12-01 (1.6 M weights), the default (foreach) 4.2-8.3 ms (one thread, 5 x 20 steps interleaved, 2-core
        # machine, 2026-12-02): ~4 % of a demo baseline step (~95 ms then), within the noise of whole runs; same losses.
        lr_scheduler_type="cosine", optim="adamw_torch_fused", seed=opts.seed, data_seed=opts.seed,
        logging_steps=opts.logging_steps, eval_strategy="no", report_to="none",
        save_strategy="steps" if opts.save_steps else "no", save_steps=opts.save_steps or 500,
        save_total_limit=opts.save_total_limit,
        remove_unused_columns=False, label_names=["category_labels", "pose_labels"], dataloader_num_workers=0,
        disable_tqdm=not progress,
        # A last batch of one image breaks BatchNorm (one value per channel) and is noise anyway.
        dataloader_drop_last=len(train_rows) > opts.batch_size,
        use_cpu=not torch.cuda.is_available(),
        # A ResNet's forward uses every parameter (its pooler has none): DDP need not search the graph for unused
        # ones after every backward. Other backbones may have a pooler or head that mean pooling leaves unused.
        ddp_find_unused_parameters=False if backbone_type(model) == "resnet" else None,
        # Fewer collectives per step with several processes: no broadcast of rank 0's BatchNorm statistics before
        # every forward (the saved model is the same: rank 0's statistics come from its own batches whether or not
        # it sends them to the others, and rank 0 saves; any backbone), and on CPU (gloo) the gradients all-reduced
        # in one bucket after the backward instead of in pieces during it (there the overlap buys nothing: gloo's
        # thread takes the cores that compute; one bucket while the gradients are under DDP_BUCKET_CAP_MB). Demo
        # baseline, 200 steps, 2 processes of batch 32, 2-core machine, 2026-12-02: 90.4 / 90.8 ms per step before,
        # 85.0 / 82.4 with both, 85.6 with the broadcast off alone (tests/demo/test_processes.py: the losses of a
        # ResNet in two processes against one).
        ddp_broadcast_buffers=False, ddp_bucket_cap_mb=None if torch.cuda.is_available() else DDP_BUCKET_CAP_MB,
    )
    # The jitter of a whole batch at once in the collator (batch_jitter): a tenth of a demo step had gone to
    # jittering crop by crop (py-spy, 2-core machine, 2026-12-02).
    whole, whole_count = None, 0
    if opts.whole_image_ratio > 0:  # n crops and n·r / (1 − r) whole images: a fraction r of the items
        whole = whole_images(data_dir, train_rows[0]["image"].size, opts.known_only,
                             getattr(processor, "resample", None))
        whole_count = round(len(train_rows) * opts.whole_image_ratio / (1 - opts.whole_image_ratio))
    dataset = AugmentedRows(train_rows, seed=opts.seed, hflip=opts.hflip, augment=opts.augment, batch_jitter=True,
                            whole=whole, whole_count=whole_count)
    # Convolutions on CPU run faster on channels-last tensors (oneDNN's native layout; measured in the demo's
    # training: README, "The demo"); the weights are saved in the usual layout.
    channels_last = backbone_type(model) in CHANNELS_LAST_BACKBONES
    if channels_last:
        model.to(memory_format=torch.channels_last)
    trainer = Trainer(model=model, args=training_args, train_dataset=dataset,
                      data_collator=BaselineCollator(processor, model.config.num_bins, channels_last),
                      callbacks=[EpochCallback(dataset)])
    if not progress:  # disable_tqdm makes the Trainer print every log dict instead: quiet means quiet
        trainer.remove_callback(PrinterCallback)
    start = time.perf_counter()
    with warnings.catch_warnings():
        # torch names the flag the Trainer passes (`broadcast_buffers`) deprecated; False means what is wanted here
        # (no sync at init either: every process builds the same weights and buffers from the seed).
        warnings.filterwarnings("ignore", message="`broadcast_buffers` is deprecated", category=FutureWarning)
        result = trainer.train(resume_from_checkpoint=resume_from)
    seconds = time.perf_counter() - start
    model.eval()
    model.to(memory_format=torch.contiguous_format)
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    summary = {
        "data": str(data_dir), "start": str(model_dir) if model_dir is not None else None,
        "options": dataclasses.asdict(opts), "train_rows": len(train_rows), "train_categories": seen,
        "whole_images": {"images": len(whole[0]) if whole is not None else 0, "items": whole_count},
        "novel_categories_seen": sorted(set(seen) - set(KNOWN_CATEGORIES)), "steps": result.global_step,
        "processes": trainer.accelerator.num_processes, "train_seconds": round(seconds, 2),
        "train_loss": result.training_loss, "logged_losses": losses,
    }
    if trainer.is_world_process_zero():  # with several processes, the main one alone writes
        model.save_pretrained(output_dir)
        processor.save_pretrained(output_dir)
        (output_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        write_model_card(output_dir)  # README.md (the Hub model card), from the summary
    trainer.accelerator.wait_for_everyone()  # every process returns once the folder is complete
    return summary


def whole_images(data_dir: str | Path, size: tuple[int, int], known_only: bool = False,
                 resample: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``image`` config's train split as whole images and their categories: ((M, H, W, 3) uint8, (M,) int64),
    each image resized to `size` = (width, height) with `resample` (a PIL filter; default bilinear), the crops' size,
    which the processor then resizes with the crops to the model's input: when the crops are at that input size (the
    demo's), exactly as LLaVA-pose on this tower resizes a whole image (`init_model.tower_image_geometry`); with
    `known_only`, the images of the 63 known categories. Raises ImageNet3DError naming the dataset card when the
    dataset has no ``image`` config or no such image."""
    from PIL import Image

    from modeling.data.loading import load_split, select_category_group

    rows = select_category_group(load_split(data_dir, "image", "train", needed_by="--whole-image-ratio"),
                                 "known" if known_only else "all")
    if not len(rows):  # load_split refuses an empty split: only the known-only filter can empty it
        raise located(Path(data_dir) / "README.md", "image/train has no image of the 63 known categories, which "
                                                    "--whole-image-ratio with --known-only needs")
    resample = Image.Resampling.BILINEAR if resample is None else resample
    images = [np.asarray(image.convert("RGB").resize(size, resample)) for image in rows["image"]]
    return np.stack(images), np.asarray(rows["category"], dtype=np.int64)


__all__ = ["SUMMARY_FILE", "AugmentedRows", "BaselineCollator", "BaselineTrainingArguments", "train_baseline",
           "training_split", "whole_images"]

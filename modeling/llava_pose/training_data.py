"""Training data of LLaVA-pose: the joint task and the captions, mixed, augmented, and collated into model inputs.

Two kinds of examples, read from a dataset folder written by ``imagenet3d build``:

* **joint** (Task 3, box → category + pose), from the ``pose`` config: the image is the object-centric crop, the
  prompt is ``processor.joint_prompt(bbox_in_crop, (H, W))``, the answer is ``processor.joint_answer(category)``
  ("It is a car CAR1 with <pose6D>.") and the one ``<pose6D>`` gets the object's pose in the crop frame: the three
  angle bins and the regression targets (px / W, py / H, log distance) of the crop (the official crop centres the
  object at distance 4, so these are (0.5, 0.5, log 4) for every crop of a given build);
* **caption**, from the ``captions`` config: the full image, the prompt "Describe the image in detail with 6D
  poses.", the template caption with one ``<pose6D>`` per tagged object, and that object's pose per token, in order
  (``pose6d`` column; px, py as fractions of the full image's width and height).

Joint examples are mirrored with probability 1/2 in training (the official hflip): the crop and its box are
mirrored, the pose goes through :func:`modeling.geometry.flip_pose` and px → W − px. Captions are never mirrored:
they say "left" and "right". The mirror decision is a pure function of (seed, epoch, index), so a resumed run sees
the same examples as an uninterrupted one, on any number of processes.

``known_only`` (Task 2's protocol) keeps the 63 known categories: the joint part is the ``pose`` train split's rows
of known categories (:func:`modeling.data.loading.load_pose_split`: the rows of the ``open_vocab`` config's ``train``
split, which lacks the box column the prompt needs), and a caption is kept only if its image's category and every
tagged object's category are known (images with any novel object are dropped).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from dataset_card import CATEGORIES, KNOWN_CATEGORIES
from modeling.data.augmentation import jitter
from modeling.data.crop import prompt_box
from modeling.data.loading import built_configs, decode_crops_once, load_pose_split, load_split
from modeling.geometry import ANGLE_NAMES, angle_to_bin, flip_point_x, flip_pose
from modeling.utils.errors import ImageNet3DError

IGNORE_INDEX = -100
"""Label of the tokens without loss (prompt, image tokens, padding), as transformers' cross-entropy expects."""
DEFAULT_MAX_EVAL_SAMPLES = 256
_TAG_NAME = re.compile(r"([A-Z](?:[A-Z_]*[A-Z])?)([1-9][0-9]*)")


@dataclass
class PoseExample:
    """One training example before tokenization.

    ``poses`` holds one (azimuth, elevation, theta, px / W, py / H, log distance) per ``<pose6D>`` of the answer,
    in order; angles in radians. ``source`` names the row ("joint:<object_id>", "caption:<image_id>") for errors.
    """

    image: Image.Image
    prompt: str
    answer: str
    poses: list[tuple[float, float, float, float, float, float]]
    source: str
    kind: str = "joint"
    flipped: bool = False


def joint_example(row: dict, processor: Any, flip: bool = False, rng: np.random.Generator | None = None) -> PoseExample:
    """The joint-task example of a ``pose`` row (crop, box in the crop, category, pose), mirrored if ``flip`` and
    jittered (``augmentation.jitter``: zoom, shift, colour; box and object centre moved along) with ``rng``."""
    image = row["image"].convert("RGB")
    width, height = image.size
    x1, y1, x2, y2 = prompt_box(row["bbox"], width, height)
    azimuth, elevation, theta = (float(row[name]) for name in ANGLE_NAMES)
    px, py = float(row["px"]), float(row["py"])
    if flip:
        image = ImageOps.mirror(image)
        x1, x2 = float(flip_point_x(x2, width)), float(flip_point_x(x1, width))
        azimuth, elevation, theta = (float(v) for v in flip_pose(azimuth, elevation, theta))
        px = float(flip_point_x(px, width))
    if rng is not None:
        image, ((x1, y1), (x2, y2), (px, py)) = jitter(image, rng, [(x1, y1), (x2, y2), (px, py)])
    category = CATEGORIES[row["category"]] if isinstance(row["category"], int) else str(row["category"])
    return PoseExample(
        image=image,
        prompt=processor.joint_prompt((x1, y1, x2, y2), (height, width)),
        answer=processor.joint_answer(category),
        poses=[(azimuth, elevation, theta, px / width, py / height, math.log(float(row["distance"])))],
        source=f"joint:{row.get('object_id', '?')}", kind="joint", flipped=flip,
    )


def caption_example(row: dict, processor: Any) -> PoseExample:
    """The caption example of a ``captions`` row: full image, describe prompt, caption, one pose per token."""
    image = row["image"].convert("RGB")
    width, height = image.size
    poses = [(float(p["azimuth"]), float(p["elevation"]), float(p["theta"]), float(p["px"]) / width,
              float(p["py"]) / height, math.log(float(p["distance"]))) for p in row["pose6d"]]
    return PoseExample(image=image, prompt=processor.describe_prompt(), answer=row["caption"], poses=poses,
                       source=f"caption:{row.get('image_id', '?')}", kind="caption")


def tag_categories(pose6d: Sequence[dict]) -> list[str]:
    """Categories named by the tags of a caption's ``pose6d`` entries (BICYCLE2 → bicycle)."""
    out = []
    for entry in pose6d:
        match = _TAG_NAME.fullmatch(str(entry.get("tag") or ""))
        out.append(match.group(1).lower() if match else "")
    return out


class TrainingMix(torch.utils.data.Dataset):
    """Joint examples and caption examples, mixed in a fixed proportion; items are :class:`PoseExample`.

    Args:
        joint: rows of the ``pose`` config (or None).
        captions: rows of the ``captions`` config (or None).
        processor: the model's [`LlavaPoseProcessor`] (prompts and answers).
        caption_ratio: fraction of the items that are captions, in [0, 1]. With n joint rows and 0 < r < 1 the mix
            holds all n joint rows and round(n · r / (1 − r)) caption items, drawn from a seeded permutation of the
            captions (cycled when more are needed); r = 1 uses each caption once and no joint row.
        seed: seed of the caption draw and of the mirroring.
        hflip: mirror joint examples with probability 1/2 (training); off for evaluation.
        augment: jitter joint examples (``augmentation.jitter``: zoom, shift, colour; training); off for evaluation.

    The joint rows' crops are decoded once, into one uint8 array, and their other columns read once
    (:func:`decoded_rows`), instead of a JPEG decode and an Arrow read per item per epoch; the items are the same.
    """

    def __init__(self, joint: Any | None, captions: Any | None, processor: Any, caption_ratio: float = 0.0,
                 seed: int = 0, hflip: bool = True, augment: bool = False):
        if not 0.0 <= caption_ratio <= 1.0:
            raise ImageNet3DError(f"caption_ratio: expected a fraction in [0, 1], got {caption_ratio}")
        self.joint, self.captions, self.processor = joint, captions, processor
        self._joint_decoded = decoded_rows(joint) if joint is not None and caption_ratio < 1.0 else None
        self.seed, self.hflip, self.augment, self.epoch = seed, hflip, augment, 0
        n_joint = 0 if joint is None or caption_ratio == 1.0 else len(joint)
        n_captions = 0
        if captions is not None and len(captions) and caption_ratio > 0:
            n_captions = len(captions) if caption_ratio == 1.0 else round(n_joint * caption_ratio / (1 - caption_ratio))
        order = np.random.default_rng(seed).permutation(len(captions)) if n_captions else np.zeros(0, dtype=int)
        caption_rows = [int(order[i % len(order)]) for i in range(n_captions)]
        self.items: list[tuple[str, int]] = [("joint", i) for i in range(n_joint)] + \
                                             [("caption", i) for i in caption_rows]
        if not self.items:
            raise ImageNet3DError("no training examples: the joint data is empty and no caption is used "
                                  "(check the dataset and caption_ratio)")

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose mirror and jitter decisions ``__getitem__`` makes (called at each epoch's start)."""
        self.epoch = int(epoch)

    @property
    def kinds(self) -> list[str]:
        """Each item's kind, "joint" or "caption", in item order (what :class:`KindGroupedSampler` groups by)."""
        return [kind for kind, _ in self.items]

    def counts(self) -> dict[str, int]:
        """Items per kind: {"joint": n, "caption": m}."""
        return {kind: sum(1 for k, _ in self.items if k == kind) for kind in ("joint", "caption")}

    def jitter_rng(self, index: int) -> np.random.Generator | None:
        """The generator of item ``index``'s jitter in the current epoch (None without augmentation or for a
        caption: its poses are tied to the full image)."""
        if not self.augment or self.items[index][0] != "joint":
            return None
        return np.random.default_rng([self.seed, self.epoch, index, 1])

    def flips(self, index: int) -> bool:
        """Whether item ``index`` is mirrored in the current epoch (pure function of seed, epoch and index)."""
        if not self.hflip or self.items[index][0] != "joint":
            return False
        return bool(np.random.default_rng([self.seed, self.epoch, index]).random() < 0.5)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> PoseExample:
        kind, row = self.items[index]
        if kind == "joint":
            if self._joint_decoded is not None:
                images, columns = self._joint_decoded
                record = {**columns[row], "image": Image.fromarray(images[row])}
            else:
                record = self.joint[row]
            return joint_example(record, self.processor, flip=self.flips(index), rng=self.jitter_rng(index))
        return caption_example(self.captions[row], self.processor)


class KindGroupedSampler(torch.utils.data.Sampler[int]):
    """The order of a :class:`TrainingMix` in which every batch holds one kind of item (joint or caption).

    A batch is padded to its longest sequence: the demo's captions are ~2.3x longer than its joint answers (117 vs
    50 tokens), so a batch with one caption costs what a batch of captions costs (measured: a mixed batch of 32
    960 ms per step, a joint one 428 ms). Each epoch, each kind's indices are shuffled and cut into batches of
    ``batch_size``, and these batches are shuffled together; the two partial batches (if any) come last. Every
    index appears once per epoch; the kinds keep their proportion.

    ``batch_size`` is the global batch (per-process batch × processes × gradient accumulation): accelerate gives
    process i the i-th of every N consecutive per-process batches, so N processes with batch b see the batches of
    one process with batch N·b, each of one kind. The order is a pure function of (seed, epoch): ``set_epoch``
    selects the epoch (the Trainer calls it), so a resumed run and every process see the same order.
    """

    def __init__(self, kinds: Sequence[str], batch_size: int, seed: int = 0) -> None:
        if batch_size < 1:
            raise ImageNet3DError(f"batch_size: expected at least 1, got {batch_size}")
        self.kinds, self.batch_size, self.seed, self.epoch = list(kinds), int(batch_size), int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order ``__iter__`` yields."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.kinds)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch, 2])
        full, partial = [], []
        for kind in sorted(set(self.kinds)):
            indices = rng.permutation([i for i, k in enumerate(self.kinds) if k == kind])
            cut = len(indices) - len(indices) % self.batch_size
            full += [indices[start:start + self.batch_size] for start in range(0, cut, self.batch_size)]
            if cut < len(indices):
                partial.append(indices[cut:])
        batches = [full[i] for i in rng.permutation(len(full))] + partial
        return iter(int(index) for batch in batches for index in batch)


def decoded_rows(rows: Any) -> tuple[np.ndarray, list[dict]] | None:
    """(crops (N, H, W, 3) uint8, the rows' other columns as N dicts) of a ``datasets.Dataset`` whose crops
    :func:`~modeling.data.loading.decode_crops_once` decodes once; None otherwise (each item is then read when
    used)."""
    images = decode_crops_once(rows)
    return None if images is None else (images, rows.remove_columns("image").to_list())


@dataclass
class LlavaPoseCollator:
    """:class:`PoseExample` list → a batch for [`LlavaPoseForConditionalGeneration.forward`].

    Each sequence is the processor's prompt (the image token expanded, BOS first) followed by the answer tokenized on
    its own (" " + answer, no special tokens) and EOS, exactly what generation continues from; sequences are
    right-padded. ``labels`` are the answer ids and EOS, :data:`IGNORE_INDEX` on the prompt, the image tokens and the
    padding. ``pose_labels`` (B, P, 3) are the bins of (azimuth, elevation, theta), ``pose_regression_labels``
    (B, P, 3) the (px / W, py / H, log distance) targets and ``pose_mask`` (B, P) marks the real ones: entry j of a
    row belongs to the j-th ``<pose6D>`` of its answer. With ``with_angles`` the batch also holds ``pose_angles``
    (B, P, 3), the exact angles for the accuracy metrics; the trainer removes it before the forward pass.

    A sequence longer than ``max_length`` (default: none) or an answer whose ``<pose6D>`` count differs from its
    number of poses raises :class:`ImageNet3DError` naming the example.
    """

    processor: Any
    num_bins: int = 40
    with_angles: bool = True
    max_length: int | None = None
    _pad_id: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        tokenizer = self.processor.tokenizer
        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def __call__(self, examples: Sequence[PoseExample]) -> dict[str, torch.Tensor]:
        tokenizer = self.processor.tokenizer
        pose_id = self.processor.pose_token_id
        prompts = self.processor(images=[e.image for e in examples], text=[e.prompt for e in examples],
                                 return_tensors="pt", padding=True)
        answers = tokenizer([" " + e.answer for e in examples], add_special_tokens=False)["input_ids"]
        sequences, label_rows = [], []
        for b, example in enumerate(examples):
            prompt_ids = prompts["input_ids"][b][prompts["attention_mask"][b].bool()].tolist()
            answer_ids = list(answers[b]) + [tokenizer.eos_token_id]
            found = answer_ids.count(pose_id)
            if found != len(example.poses):
                raise ImageNet3DError(f"{example.source}: the answer has {found} {self.processor.pose_token} "
                                      f"token(s) but {len(example.poses)} pose(s): {example.answer!r}")
            if prompt_ids.count(pose_id):
                raise ImageNet3DError(f"{example.source}: the prompt contains {self.processor.pose_token}")
            sequence = prompt_ids + answer_ids
            if self.max_length is not None and len(sequence) > self.max_length:
                raise ImageNet3DError(f"{example.source}: {len(sequence)} tokens, more than max_length "
                                      f"{self.max_length}")
            sequences.append(sequence)
            label_rows.append([IGNORE_INDEX] * len(prompt_ids) + answer_ids)
        length = max(len(s) for s in sequences)
        batch_size, max_poses = len(examples), max(1, max(len(e.poses) for e in examples))
        input_ids = torch.full((batch_size, length), self._pad_id, dtype=torch.long)
        attention_mask = torch.zeros((batch_size, length), dtype=torch.long)
        labels = torch.full((batch_size, length), IGNORE_INDEX, dtype=torch.long)
        pose_labels = torch.zeros((batch_size, max_poses, 3), dtype=torch.long)
        pose_regression = torch.zeros((batch_size, max_poses, 3), dtype=torch.float32)
        pose_angles = torch.zeros((batch_size, max_poses, 3), dtype=torch.float32)
        pose_mask = torch.zeros((batch_size, max_poses), dtype=torch.bool)
        for b, (sequence, row_labels, example) in enumerate(zip(sequences, label_rows, examples)):
            input_ids[b, :len(sequence)] = torch.tensor(sequence)
            attention_mask[b, :len(sequence)] = 1
            labels[b, :len(sequence)] = torch.tensor(row_labels)
            if example.poses:
                poses = np.asarray(example.poses, dtype=np.float64)
                pose_labels[b, :len(poses)] = torch.from_numpy(angle_to_bin(poses[:, :3], self.num_bins))
                pose_regression[b, :len(poses)] = torch.from_numpy(poses[:, 3:]).float()
                pose_angles[b, :len(poses)] = torch.from_numpy(poses[:, :3]).float()
                pose_mask[b, :len(poses)] = True
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "pixel_values": prompts["pixel_values"],
                 "labels": labels, "pose_labels": pose_labels, "pose_regression_labels": pose_regression,
                 "pose_mask": pose_mask}
        if self.with_angles:
            batch["pose_angles"] = pose_angles
        return batch


@dataclass
class TrainingData:
    """What :func:`load_training_data` returns: the training mix, the evaluation set and a description."""

    train: TrainingMix
    eval: TrainingMix | None
    info: dict[str, Any]


def load_training_data(data_dir: str | Path, processor: Any, known_only: bool = False, caption_ratio: float = 0.0,
                       seed: int = 0, hflip: bool = True, augment: bool = False,
                       max_eval_samples: int | None = DEFAULT_MAX_EVAL_SAMPLES) -> TrainingData:
    """The training mix and the evaluation set of a built dataset folder.

    Training: the ``pose`` config's ``train`` split (joint task) and, when ``caption_ratio`` > 0, the ``captions``
    config's ``train`` split, mixed by :class:`TrainingMix`. Evaluation: the joint task on the ``pose`` config's
    ``validation`` split (the known categories' part with ``known_only``, i.e. ``open_vocab``'s
    ``validation_known``), without mirroring, at most ``max_eval_samples`` rows (a seeded random subset, so every
    category can appear; None or 0 keeps all); None when the split is absent or empty.
    """
    if not 0.0 <= caption_ratio <= 1.0:
        raise ImageNet3DError(f"caption_ratio: expected a fraction in [0, 1], got {caption_ratio}")
    configs = built_configs(data_dir)
    categories = "known" if known_only else "all"
    joint = None
    if caption_ratio < 1.0:
        joint = load_pose_split(data_dir, "train", categories)
    captions, dropped = None, 0
    if caption_ratio > 0.0:
        captions = load_split(data_dir, "captions", "train")
        if known_only:
            known = set(KNOWN_CATEGORIES)
            keep = [i for i, (c, pose6d) in enumerate(zip(captions["category"], captions["pose6d"]))
                    if CATEGORIES[c] in known and all(t in known for t in tag_categories(pose6d))]
            dropped = len(captions) - len(keep)
            captions = captions.select(keep)
    train = TrainingMix(joint, captions, processor, caption_ratio=caption_ratio, seed=seed, hflip=hflip,
                        augment=augment)

    evaluation = None
    if "validation" in configs.get("pose", []):
        rows = load_pose_split(data_dir, "validation", categories, allow_empty=True)
        if max_eval_samples and len(rows) > max_eval_samples:
            chosen = np.random.default_rng(seed).choice(len(rows), size=max_eval_samples, replace=False)
            rows = rows.select(sorted(int(i) for i in chosen))
        if len(rows):
            evaluation = TrainingMix(rows, None, processor, caption_ratio=0.0, seed=seed, hflip=False)
    info = {"data_dir": str(data_dir), "known_only": known_only, "caption_ratio": caption_ratio,
            "train_items": train.counts(), "joint_rows": 0 if joint is None else len(joint),
            "caption_rows": 0 if captions is None else len(captions), "captions_dropped_known_only": dropped,
            "eval_rows": 0 if evaluation is None else len(evaluation)}
    return TrainingData(train=train, eval=evaluation, info=info)


__all__ = ["IGNORE_INDEX", "LlavaPoseCollator", "PoseExample", "TrainingData", "TrainingMix", "caption_example",
           "decoded_rows", "joint_example", "load_training_data", "tag_categories"]

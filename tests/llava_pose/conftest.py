"""Fixtures of the box tests: an image of the synthetic release with two objects, and the tiny model trained briefly
on those two objects' training crops (official crops, as the build cuts them), saved."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dataset_card import CATEGORIES
from modeling.box_crop import box_crop_geometry
from modeling.data.augmentation import jitter
from modeling.data.crop import object_centric_crop, official_crop_geometry, prompt_box
from modeling.data.loading import load_split
from modeling.evaluation.metrics import pose_error
from modeling.geometry import ANGLE_NAMES
from tests.helpers.llava_pose import load_tiny, train, training_batch

TRAIN_CROP = 64
"""Side of the training crops of the box model (the tiny model's input side)."""
TRAIN_STEPS = 80
"""AdamW steps on the two objects' crops: enough for the tiny model to answer both (category and pose bins)."""


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two (left, top, right, bottom) windows."""
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="session")
def two_objects(synthetic_release: Path, small_dataset: Path, tmp_path_factory: pytest.TempPathFactory):
    """`(image, objects, path)`: a training image of the synthetic release with exactly two objects (unflagged, in
    different poses: more than π/2 apart, whose crops overlap by less than a fifth), its annotations from the built
    `pose` rows (`box`, `category`, angles, `distance`, `px`, `py` in the image's pixels), and the image as PNG."""
    rows = load_split(small_dataset, "pose", "train").select_columns(
        ["image_id", "category", "flags", "bbox_original", *ANGLE_NAMES, "distance_original", "px_original",
         "py_original"])
    by_image: dict[str, list[dict]] = {}
    counts = Counter(rows["image_id"])
    for row in rows:
        if counts[row["image_id"]] == 2:
            by_image.setdefault(row["image_id"], []).append(row)
    for image_id, pair in sorted(by_image.items()):
        angles = [np.array([row[name] for name in ANGLE_NAMES]) for row in pair]
        if any(row["flags"] for row in pair) or pose_error(angles[0], angles[1]) < math.pi / 2:
            continue
        windows = [box_crop_geometry(row["bbox_original"], (10**6, 10**6)).window for row in pair]
        if overlap(*windows) > 0.2:  # crops that show both objects alike: too close to tell apart in a few steps
            continue
        category = CATEGORIES[pair[0]["category"]]
        image = Image.open(synthetic_release / "images" / category / f"{image_id}.JPEG").convert("RGB")
        objects = [{"box": [float(v) for v in row["bbox_original"]], "category": CATEGORIES[row["category"]],
                    **{name: float(row[name]) for name in ANGLE_NAMES}, "distance": row["distance_original"],
                    "px": row["px_original"], "py": row["py_original"]} for row in pair]
        path = tmp_path_factory.mktemp("two_objects") / f"{image_id}.png"
        image.save(path)
        return image, objects, path
    raise AssertionError("the synthetic release has no image with two objects in different poses")


@pytest.fixture(scope="session")
def box_model_dir(two_objects, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model trained for TRAIN_STEPS steps on the two objects' official crops (each with a jittered copy),
    with the joint prompt and answer of training, saved with its processor (and so with the pipeline)."""
    image, objects, _ = two_objects
    model, processor = load_tiny()
    rng = np.random.default_rng(0)
    prompts, answers, crops, poses = [], [], [], []
    for obj in objects:
        geometry = official_crop_geometry(image.width, image.height, obj["px"], obj["py"], obj["distance"],
                                          TRAIN_CROP)
        crop = object_centric_crop(image, geometry)
        x1, y1, x2, y2 = geometry.bbox_to_crop(obj["box"])
        centre = (TRAIN_CROP / 2, TRAIN_CROP / 2)
        for variant in range(2):
            if variant:
                moved, ((x1, y1), (x2, y2), centre) = jitter(crop, rng, [(x1, y1), (x2, y2), centre])
            else:
                moved = crop
            prompts.append(processor.joint_prompt(prompt_box([x1, y1, x2, y2], TRAIN_CROP, TRAIN_CROP),
                                                  (TRAIN_CROP, TRAIN_CROP)))
            answers.append(processor.joint_answer(obj["category"]))
            crops.append(moved)
            poses.append([(obj["azimuth"], obj["elevation"], obj["theta"], geometry.distance, *centre)])
    batch = training_batch(processor, prompts, answers, crops, poses)
    torch.manual_seed(0)
    train(model, batch, steps=TRAIN_STEPS, lr=3e-3)
    folder = tmp_path_factory.mktemp("box_model") / "model"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder

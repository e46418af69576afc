"""The official pipelines, re-implemented from their description (spec §2.2), as the baselines of the suite.

* :func:`official_preprocess`: ``preprocess_data.py --center_and_resize`` of the official baselines. Per
  (category, split) a pool worker (``multiprocessing.Pool``, the platform's default start method) reads the list;
  per listed image it reads the annotation file, and per object that passes the official filter it decodes the
  image again (Pillow, ``convert("RGB")``), resizes the WHOLE image by s = distance / 4 (OpenCV's
  ``INTER_CUBIC``, as the official script does), zero-pads, slices the window, writes the crop as a JPEG
  (Pillow's default quality, 75) and an ``.npz`` of the flat keys the official script saves, and finally a
  ``mesh01.txt`` list per unit.
  Annotation files are read with the project's safe loader (the official ``allow_pickle=True`` is not allowed
  here; both unpickle the same object array).
* :class:`OfficialCropDataset`: the official-style per-item reader of that output (``IMAGENET3DPose``: per item,
  open the crop's JPEG, convert to RGB, read its ``.npz``), for a ``torch.utils.data.DataLoader``; with ``size``,
  each crop is then resized to ``size`` × ``size`` as the official baseline's transform does (256², spec §5 Task 2;
  torchvision's ``Resize`` on a PIL image is Pillow's bilinear resize).
"""

from __future__ import annotations

import io
import multiprocessing
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from modeling.data.release import load_annotations

TARGET_DISTANCE = 4.0


def _passes(obj: object) -> bool:
    return isinstance(obj, dict) and "object_status" in obj and obj["object_status"] != "status_bad" \
        and float(obj.get("distance", 0.0)) > 0.0


def _object(image_path: Path, obj: dict, size: int, name: str, category: str, out_images: Path,
            out_annotations: Path) -> None:
    image = np.array(Image.open(image_path).convert("RGB"))  # decoded again for every object
    distance = float(obj["distance"])
    rate = distance / TARGET_DISTANCE
    size_after = (int(image.shape[1] * rate), int(image.shape[0] * rate))
    image = cv2.resize(image, size_after, interpolation=cv2.INTER_CUBIC)
    bbox = np.asarray(obj["bbox"], dtype=np.float64) * rate
    cx, cy = int(obj["px"] * rate), int(obj["py"] * rate)
    half = size // 2
    pad = ((max(half - cy, 0), max(half + cy - image.shape[0], 0)),
           (max(half - cx, 0), max(half + cx - image.shape[1], 0)), (0, 0))
    image = np.pad(image, pad, mode="constant")
    cut = ((max(cy - half, 0), max(image.shape[0] - cy - half, 0)),
           (max(cx - half, 0), max(image.shape[1] - cx - half, 0)), (0, 0))
    image = image[cut[0][0]:cut[0][0] + size, cut[1][0]:cut[1][0] + size]
    bbox[[0, 2]] += pad[1][0] - cut[1][0]
    bbox[1] += pad[0][0] - cut[0][0]
    bbox[3] += pad[0][1] - cut[0][0]  # the official script's y2 shift (spec §2.2)
    np.savez(out_annotations / name, name=name, bbox=bbox, bbox_original=np.asarray(obj["bbox"]),
             principal=np.array([size / 2, size / 2]), principal_original=np.asarray(obj["principal"]),
             px=size / 2, py=size / 2, px_original=obj["px"], py_original=obj["py"],
             distance=distance / rate, distance_original=distance, azimuth=obj["azimuth"],
             elevation=obj["elevation"], theta=obj["theta"], cad_index=obj["cad_index"], focal=obj["focal"],
             viewport=obj["viewport"], padding_params=np.array([v for p in pad for v in p]),
             cropping_params=np.array([v for c in cut for v in c]), resize_rate=rate, **{"class": category})
    Image.fromarray(image).save(out_images / f"{name}.JPEG")


def _unit(task: tuple[str, str, str, str, int]) -> int:
    source, out, category, split, size = task
    root, target = Path(source), Path(out) / split
    out_images, out_annotations = target / "images" / category, target / "annotations" / category
    out_lists = target / "lists" / category
    for folder in (out_images, out_annotations, out_lists):
        folder.mkdir(parents=True, exist_ok=True)
    samples = (root / "lists" / f"{category}_imagenet_{split}.txt").read_text().strip().split("\n")
    names = []
    for sample in samples:
        path = f"annotations/{category}/{sample}.npz"
        objects = load_annotations((root / path).read_bytes(), path)
        for index, obj in enumerate(objects):
            if not _passes(obj):
                continue
            name = f"{sample}_{index:02d}"
            _object(root / "images" / category / f"{sample}.JPEG", obj, size, name, category, out_images,
                    out_annotations)
            names.append(name)
    (out_lists / "mesh01.txt").write_text("\n".join(names))
    return len(names)


def official_preprocess(source: str | Path, out: str | Path, size: int = 512, workers: int = 2) -> int:
    """Preprocess a release folder into ``out`` as the official script does; returns the number of objects."""
    root = Path(source)
    categories = sorted(os.listdir(root / "images"))
    tasks = [(str(root), str(out), category, split, size) for category in categories for split in ("train", "val")]
    with multiprocessing.Pool(workers) as pool:
        return sum(pool.imap(_unit, tasks))


class OfficialCropDataset:
    """Per-item reader of :func:`official_preprocess`'s output (one split): each item opens a crop and its npz.

    Items are dicts ``{"image": (3, H, W) uint8 tensor, "azimuth", "elevation", "theta", "distance", "category"}``,
    the image made contiguous in that layout as torchvision's ``PILToTensor`` makes it; with ``size``, the full
    decode is first resized to size × size (Pillow's bilinear, as torchvision's ``Resize`` does to PIL images).
    """

    def __init__(self, root: str | Path, split: str = "train", size: int | None = None) -> None:
        self.root = Path(root) / split
        self.size = size
        categories = sorted(os.listdir(self.root / "images"))
        self.items = []
        for index, category in enumerate(categories):
            names = (self.root / "lists" / category / "mesh01.txt").read_text().split("\n")
            self.items += [(index, category, name) for name in names if name]

    def __len__(self) -> int:
        return len(self.items)

    def image_path(self, item: int) -> Path:
        """The crop's JPEG of item ``item``."""
        _, category, name = self.items[item]
        return self.root / "images" / category / f"{name}.JPEG"

    def annotation(self, item: int) -> dict[str, float]:
        """The pose fields of item ``item``, read from its npz: azimuth, elevation, theta (radians), distance."""
        _, category, name = self.items[item]
        with np.load(self.root / "annotations" / category / f"{name}.npz") as annotation:
            return {key: float(annotation[key]) for key in ("azimuth", "elevation", "theta", "distance")}

    def __getitem__(self, item: int) -> dict:
        import torch

        picture = Image.open(self.image_path(item)).convert("RGB")
        if self.size is not None:
            picture = picture.resize((self.size, self.size), Image.Resampling.BILINEAR)
        image = torch.from_numpy(np.array(picture)).permute(2, 0, 1).contiguous()
        return {"image": image, **self.annotation(item), "category": self.items[item][0]}


def decode_jpeg(data: bytes) -> np.ndarray:
    """JPEG bytes → (H, W, 3) uint8: the decoding every reader must do, alone (the loader's bound)."""
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def default_start_method() -> str:
    """The start method ``multiprocessing.Pool`` uses here (the official script does not choose one)."""
    return multiprocessing.get_start_method()

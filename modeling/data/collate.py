"""Torch collate functions for every ImageNet3D config (for ``torch.utils.data.DataLoader``).

Works on rows as ``datasets`` returns them (PIL images) or in torch format (CHW uint8 tensors):

* crop configs (``pose``, ``classification``, ``probe``, ``open_vocab``): ``image`` is one
  ``(B, 3, H, W)`` uint8 tensor (all crops have the build's crop size), in channels-last memory when the rows hold
  PIL images (a view of the decoded pixels, no transposing copy);
* ``image`` and ``captions``: images differ in size, so ``image`` is a list of ``(3, H, W)`` uint8
  tensors; ``objects`` and ``pose6d`` stay lists (one list of dicts per image);
* ``cad``: ``vertices`` and ``faces`` are lists of ``(N, 3)`` float32 and ``(M, 3)`` int64 tensors.

:class:`ResizedCropCollator` batches crop rows at the size a model takes (e.g. 256² from the 512² crops): given rows
whose ``image`` is undecoded (``dataset.cast_column("image", datasets.Image(decode=False))``), it has libjpeg decode
each crop straight to a reduced scale (Pillow's ``draft``: 1/2, 1/4 or 1/8, the DCT scaled) and resizes that to
exactly ``size`` × ``size``: far cheaper than a full decode and a resize.

Numbers become tensors (``B``; floats in torch's default dtype, float32), fixed-length number lists
such as ``bbox`` become ``(B, 4)`` tensors, strings and None-bearing columns stay lists. Only this
module of the dataset side imports torch.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from numbers import Number
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from modeling.utils.errors import ImageNet3DError

_CROP_CONFIGS = ("pose", "classification", "probe", "open_vocab")
_LIST_KEYS = ("objects", "pose6d")


def image_to_tensor(image: Image.Image | np.ndarray | torch.Tensor) -> torch.Tensor:
    """An image as a (3, H, W) uint8 tensor; PIL images of any mode are converted to RGB first."""
    if isinstance(image, torch.Tensor):
        return image if image.ndim == 3 and image.shape[0] == 3 else image.permute(2, 0, 1)
    if isinstance(image, Image.Image):
        image = np.array(image.convert("RGB"))  # a writable copy: torch refuses to share read-only buffers
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)


def _is_number(value: object) -> bool:
    return isinstance(value, (Number, np.number)) and not isinstance(value, (str, bytes))


def _column(values: list) -> torch.Tensor | list:
    if all(isinstance(v, torch.Tensor) for v in values):
        return torch.stack(values) if len({v.shape for v in values}) == 1 else values
    if all(_is_number(v) for v in values):
        return torch.as_tensor(values)
    if all(isinstance(v, (list, tuple)) and v and all(_is_number(x) for x in v) for v in values) \
            and len({len(v) for v in values}) == 1:
        return torch.as_tensor(values)
    return values


def collate_crops(examples: list[dict]) -> dict:
    """Batch of crop rows: images stacked to (B, 3, H, W) uint8."""
    batch = {key: _column([e[key] for e in examples]) for key in examples[0] if key != "image"}
    if "image" in examples[0]:
        images = [e["image"] for e in examples]
        if all(isinstance(image, Image.Image) for image in images):
            # One HWC stack in numpy, viewed as (B, 3, H, W): channels-last memory, which torch's ops take as it is
            # (.contiguous() gives the other layout). torch.stack of permuted uint8 views took 2.3 s for 32 crops of
            # 512² on a busy 2-core machine, a transposing copy 0.18 s, this 0.07 s.
            arrays = np.stack([np.asarray(image if image.mode == "RGB" else image.convert("RGB")) for image in images])
            batch["image"] = torch.from_numpy(arrays).permute(0, 3, 1, 2)
        else:
            batch["image"] = torch.stack([image_to_tensor(image) for image in images])
    return batch


def open_reduced(source: bytes | Path, size: int) -> Image.Image:
    """An image file (its bytes or its path) decoded by Pillow, a JPEG at the smallest DCT scale (1/8, 1/4, 1/2, 1)
    whose result is at least ``size`` on both sides (``Image.draft``; other formats in full). Raises what Pillow
    raises for a file that is not an image (UnidentifiedImageError, OSError, ...)."""
    picture = Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source)
    picture.draft("RGB", (size, size))  # a no-op for anything but a JPEG
    picture.load()
    return picture


def decode_crop(image: dict | bytes | Image.Image | np.ndarray | torch.Tensor, size: int,
                resample: Image.Resampling = Image.Resampling.BILINEAR, where: str = "image") -> np.ndarray:
    """One crop as a (size, size, 3) uint8 RGB array, decoded at the smallest JPEG scale not below ``size``.

    ``image``: undecoded (a ``{"bytes", "path"}`` dict as ``datasets.Image(decode=False)`` gives it, the path read when
    the bytes are None, or plain bytes), a PIL image, or an (H, W, 3) / (3, H, W) uint8 array or tensor. A JPEG is
    decoded with Pillow's ``draft`` to the largest of 1/8, 1/4, 1/2 and 1 of its size that is at least ``size`` on
    both sides (libjpeg's DCT scaling; other formats decode in full), then resized with ``resample`` (Pillow's
    antialiased bilinear by default, what torchvision's ``Resize`` does to PIL images) to exactly ``size`` ×
    ``size``; no resize when the decoded size is already that. Raises ImageNet3DError naming ``where`` and the
    row's path when the bytes are not an image.
    """
    if isinstance(image, (dict, bytes, bytearray, memoryview)):
        data, path = (image.get("bytes"), image.get("path")) if isinstance(image, dict) else (image, None)
        name = f"{where} ({path})" if path else where
        if data is None and not path:
            raise ImageNet3DError(f"{where}: neither bytes nor a path")
        try:
            picture = open_reduced(data if data is not None else Path(path), size)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
            raise ImageNet3DError(f"{name}: not a decodable image ({err})") from None
    elif isinstance(image, Image.Image):
        picture = image
    else:
        array = np.asarray(image)
        if array.ndim == 3 and array.shape[0] == 3 and array.shape[2] != 3:
            array = array.transpose(1, 2, 0)
        if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
            raise ImageNet3DError(f"{where}: expected an (H, W, 3) or (3, H, W) uint8 image, got {array.dtype} "
                                  f"{tuple(array.shape)}")
        picture = Image.fromarray(np.ascontiguousarray(array))
    if picture.mode != "RGB":
        picture = picture.convert("RGB")
    if picture.size != (size, size):
        picture = picture.resize((size, size), resample)
    return np.asarray(picture)


class ResizedCropCollator:
    """Batch of crop rows with every crop at ``size`` × ``size``: ``image`` a (B, 3, size, size) uint8 tensor.

    The output of :func:`collate_crops` (the other fields as tensors or lists, the images in channels-last memory),
    each crop through :func:`decode_crop`: undecoded rows (``datasets.Image(decode=False)``) are decoded at a reduced
    JPEG scale, decoded ones (PIL, arrays) resized. ``resample`` is a Pillow filter (default bilinear, antialiased
    when shrinking). Picklable, for ``DataLoader`` workers. Raises ImageNet3DError for a ``size`` below 1 and, when
    called, for a crop that is not an image (naming the row's position in the batch and its path).
    """

    def __init__(self, size: int, resample: Image.Resampling = Image.Resampling.BILINEAR) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ImageNet3DError(f"size: must be a positive number of pixels, got {size!r}")
        self.size, self.resample = size, Image.Resampling(resample)

    def __call__(self, examples: list[dict]) -> dict:
        """The batch of ``examples`` (rows of a crop config); ``image`` is (B, 3, size, size) uint8."""
        batch = {key: _column([e[key] for e in examples]) for key in examples[0] if key != "image"}
        if "image" in examples[0]:
            pixels = np.empty((len(examples), self.size, self.size, 3), dtype=np.uint8)
            for index, example in enumerate(examples):
                pixels[index] = decode_crop(example["image"], self.size, self.resample, f"image (row {index})")
            batch["image"] = torch.from_numpy(pixels).permute(0, 3, 1, 2)  # channels-last, as collate_crops
        return batch


def collate_images(examples: list[dict]) -> dict:
    """Batch of full-image rows: a list of (3, H, W) images, lists of objects / pose6d entries."""
    batch = {}
    for key in examples[0]:
        values = [e[key] for e in examples]
        if key == "image":
            batch[key] = [image_to_tensor(v) for v in values]
        elif key in _LIST_KEYS:
            batch[key] = values
        else:
            batch[key] = _column(values)
    return batch


def collate_cad(examples: list[dict]) -> dict:
    """Batch of CAD models: lists of vertex (N, 3) float32 and face (M, 3) int64 tensors."""
    batch = {key: _column([e[key] for e in examples]) for key in examples[0] if key not in ("vertices", "faces")}
    batch["vertices"] = [torch.as_tensor(np.asarray(e["vertices"], dtype=np.float32)).reshape(-1, 3)
                         for e in examples]
    batch["faces"] = [torch.as_tensor(np.asarray(e["faces"], dtype=np.int64)).reshape(-1, 3) for e in examples]
    return batch


def collate_fn(config: str) -> Callable[[list[dict]], dict]:
    """The collate function of a config name."""
    if config in _CROP_CONFIGS:
        return collate_crops
    if config in ("image", "captions"):
        return collate_images
    if config == "cad":
        return collate_cad
    raise ValueError(f"unknown config {config!r}")

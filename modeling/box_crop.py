"""The model's input for an object in a photo: the crop a box gives, as the training crops were cut.

The models are trained on the official object-centric crops (``modeling/data/crop.py``): the image is rescaled so
that the object sits at distance 4 and a 512-pixel window is cut around the object's centre, so the object fills
each crop by about the same fraction. That crop needs the annotated distance, which a photo does not have; here the
box sets the scale instead: a square window centred on the box whose side is the box's longer side divided by
:data:`BOX_FILL`, the median fraction of an official crop that an object's box spans (measured on training crops,
below). The object then fills the crop as it did in training, and the prompt's box is the user's box moved into
the crop. What the model answers about the crop is moved back: px, py into the image's pixels; the distance is the
box's estimate (:attr:`BoxCrop.distance`).

One function for everyone: ``imagenet3d predict`` (``modeling/llava_pose/inference.py``), the transformers pipeline
(``pipeline_llava_pose.py``) and the Space cut their crops with :func:`box_crop`.

Hub custom code: the pipeline file imports this file relatively, so ``save_pretrained`` copies it next to the
weights; it imports only the standard library and ``geometry.py`` (numpy); the crop is cut with the PIL image's own
``crop``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .geometry import CROP_TARGET_DISTANCE, OFFICIAL_CROP_SIZE

BOX_FILL = 0.8
"""An object's box spans this fraction of its official crop's side, reading the box's size as its longer side.

Measured with :func:`modeling.data.crop.measure_box_fill` on the training crops of the synthetic release
(``imagenet3d synthesize REL --images-per-category 100``, seed 0, 18 categories; ``imagenet3d build REL DS --configs
pose --crop-size 64``): for each object of the ``pose`` config's ``train`` split, the longer side of its box over the
side of its official crop (512 pixels at distance 4: 2048 / distance pixels of the original image). Median 0.804
(quartiles 0.721 and 0.875; 2,012 objects; the validation split's 495: 0.802); sqrt(width · height) spreads more
(median 0.630, quartiles 0.550 and 0.689: an interquartile range of 22 % of the median against 19 %), hence the
longer side. The box's centre is the object's centre to within ±2.6 % of the crop's side (10th-90th percentiles)
in x and -1.7 % to +4.4 % in y, so the crop is centred on the box. ``tests/data/test_box_fill.py`` recomputes the
median on the test session's small synthetic release and holds it to this value within 10 %.
"""
BOX_FILL_MEASURE = "max_side"
"""How a box's size is read for :data:`BOX_FILL`: its longer side (``"max_side"``)."""


@dataclass(frozen=True)
class BoxCrop:
    """Where the crop of a box lies in its image, and how coordinates map between the two.

    ``left``, ``top`` and ``side`` are integers in pixels of the image (the window may reach past the image: that
    part of the crop is black, as in the official crop); the crop is ``side`` × ``side`` pixels of the image, cut
    at its own resolution (the model's processor resizes it). ``box`` is the box as used: (x1, y1, x2, y2) in image
    pixels, clipped to the image; ``clipped`` says whether clipping changed it.
    """

    left: int
    top: int
    side: int
    box: tuple[float, float, float, float]
    clipped: bool = False

    @property
    def size(self) -> tuple[int, int]:
        """The crop's (height, width) in pixels, as processors take image sizes."""
        return self.side, self.side

    @property
    def window(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of the crop in image pixels, as ``PIL.Image.crop`` takes it."""
        return self.left, self.top, self.left + self.side, self.top + self.side

    def box_in_crop(self) -> tuple[float, float, float, float]:
        """The box in crop pixels: what the joint prompt shows the model."""
        x1, y1, x2, y2 = self.box
        return x1 - self.left, y1 - self.top, x2 - self.left, y2 - self.top

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        """A point of the crop (pixels) in image pixels."""
        return x + self.left, y + self.top

    @property
    def distance(self) -> float:
        """The object's distance that the box implies: an official crop of side s image pixels puts the object at
        2048 / s (512 pixels at distance 4), and this crop is the official one's size for a box spanning
        :data:`BOX_FILL` of it. In the camera model of the dataset's annotations (CAD units); a photo's own focal
        length is unknown, so this is the distance at which the object would look this large in ImageNet3D."""
        return CROP_TARGET_DISTANCE * OFFICIAL_CROP_SIZE / self.side


def box_size(box: Sequence[float]) -> float:
    """The size of a box (x1, y1, x2, y2) that :data:`BOX_FILL` relates to its crop: its longer side, pixels."""
    return max(float(box[2]) - float(box[0]), float(box[3]) - float(box[1]))


def clip_box(box: Any, image_size: tuple[int, int], name: str = "box") -> tuple[tuple[float, ...], bool]:
    """A box (x1, y1, x2, y2) in pixels checked and clipped to an image of ``image_size`` = (height, width).

    Returns ``(box, clipped)``. A box partly outside the image is clipped to it (``clipped`` True; the caller says
    so). Raises ValueError naming ``name`` when the box is not four finite numbers, when x2 <= x1 or y2 <= y1, or
    when it lies wholly outside the image (nothing of it is left after clipping).
    """
    try:
        values = tuple(float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected four numbers x1, y1, x2, y2 (pixels), got {box!r}") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"{name}: expected four finite numbers x1, y1, x2, y2 (pixels), got {box!r}")
    x1, y1, x2, y2 = values
    if not (x1 < x2 and y1 < y2):
        raise ValueError(f"{name}: need x1 < x2 and y1 < y2, got {box!r}")
    height, width = image_size
    clipped = (max(x1, 0.0), max(y1, 0.0), min(x2, float(width)), min(y2, float(height)))
    if not (clipped[0] < clipped[2] and clipped[1] < clipped[3]):
        raise ValueError(f"{name}: box {box!r} lies outside the image ({width}x{height} pixels)")
    return clipped, clipped != values


def box_crop_geometry(box: Any, image_size: tuple[int, int], name: str = "box", fill: float = BOX_FILL) -> BoxCrop:
    """The crop of a box in an image of ``image_size`` = (height, width): square, centred on the (clipped) box, its
    side :func:`box_size` / ``fill`` rounded to whole pixels (at least 1). Bad boxes raise ValueError
    (:func:`clip_box`)."""
    clipped, was_clipped = clip_box(box, image_size, name)
    side = max(1, round(box_size(clipped) / fill))
    center_x, center_y = (clipped[0] + clipped[2]) / 2, (clipped[1] + clipped[3]) / 2
    return BoxCrop(left=math.floor(center_x - side / 2 + 0.5), top=math.floor(center_y - side / 2 + 0.5), side=side,
                   box=clipped, clipped=was_clipped)


def box_crop(image: Any, box: Any, name: str = "box", fill: float = BOX_FILL) -> tuple[Any, BoxCrop]:
    """The model's input for the object in ``box`` (x1, y1, x2, y2, pixels) of a PIL ``image``: ``(crop, where)``.

    ``crop`` is an RGB PIL image of ``where.side`` × ``where.side`` pixels, black where the window leaves the image
    (the official crop pads with zeros too); ``where`` is the :class:`BoxCrop`. Bad boxes raise ValueError naming
    ``name`` (:func:`clip_box`).
    """
    where = box_crop_geometry(box, (image.height, image.width), name, fill)
    return image.convert("RGB").crop(where.window), where


def object_in_image(obj: dict[str, Any], where: BoxCrop) -> dict[str, Any]:
    """An object the model found in a crop, moved into the image: px, py (crop pixels) into image pixels, the
    distance from the box (:attr:`BoxCrop.distance`), and ``box`` = the box used. Angles are unchanged (the crop is
    not rotated). Missing values (None) stay None."""
    out = dict(obj)
    if obj.get("px") is not None and obj.get("py") is not None:
        out["px"], out["py"] = where.to_image(obj["px"], obj["py"])
    out["distance"] = where.distance
    out["box"] = list(where.box)
    return out


__all__ = ["BOX_FILL", "BOX_FILL_MEASURE", "BoxCrop", "box_crop", "box_crop_geometry", "box_size", "clip_box",
           "object_in_image"]

"""The official object-centric crop (spec §2.2, ``--center_and_resize`` of the official preprocessing).

For an object at distance d whose CAD origin projects to (px, py), the official script

1. rescales the image by s = d / 4 (so the object sits at the target distance 4) to
   ``(int(w·s), int(h·s))`` pixels with bicubic interpolation,
2. takes the window of ``W × H`` pixels whose top-left corner is ``(int(px·s) − W//2, int(py·s) − H//2)``
   in the rescaled image, filling whatever lies outside the rescaled image with zeros,
3. sets the principal point to the window centre ``(W/2, H/2)``, the distance to 4, and moves the
   bbox into the window.

Here the rescaled image is never materialised: only the part of it that lands in the window is
resampled, which gives the pixels of rescaling the whole image and then cropping (up to an occasional
rounding flip of 1–2 levels) at a fraction of the cost for far objects (s up to ~10).

Two deliberate differences from the official code, both documented in the dataset card:

* the official script shifts y2 of the bbox by the *bottom* padding instead of the top one (a bug,
  spec §2.2); here y2 moves with y1;
* when the window is shrunk (s < 1: crops smaller than the object's official window, ``--crop-size`` below 512, or
  a close object), the official script's OpenCV bicubic (no antialiasing) aliases; here Pillow's bicubic
  resamples it (a = −0.5, antialiased): pixels differ by interpolation noise, geometry is identical.

When the window is enlarged (s >= 1 on both axes, the usual case of the official 512 crops), the resampler is the
official one, OpenCV's ``resize`` with ``INTER_CUBIC``, run on the part of the image the window needs, anchored at
the image corner nearest to the window so that the sampling grid is the whole-image resize's (the pixels of the
official resize-then-crop, bar a rare rounding flip of one level); on a 500 × 375 image it took 1.6x (s = 3.5) to
about 7x (s = 1.4) less time than Pillow's bicubic of the window alone (a microbenchmark on a busy machine).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from modeling.geometry import CROP_TARGET_DISTANCE, OFFICIAL_CROP_SIZE

DEFAULT_CROP_SIZE = OFFICIAL_CROP_SIZE
"""Crop side of the official baselines (``imagenet3d_data_processed_512_512``)."""


@dataclass(frozen=True)
class CropGeometry:
    """Where an object-centric crop of an image lies, and how coordinates map into it.

    All offsets are in pixels of the rescaled image; ``left``/``top`` is the window's top-left
    corner there. ``padding`` and ``cropping`` are (top, bottom, left, right) as the official
    script computes them (for even crop sizes; for odd sizes the window is still exactly W × H).
    """

    resize_rate: float
    resized_size: tuple[int, int]
    crop_size: tuple[int, int]
    left: int
    top: int
    target_distance: float = CROP_TARGET_DISTANCE

    @property
    def padding(self) -> tuple[int, int, int, int]:
        """Zero padding (top, bottom, left, right) in pixels of the rescaled image, as the official script pads."""
        (rw, rh), (w, h) = self.resized_size, self.crop_size
        return (max(-self.top, 0), max(self.top + h - rh, 0), max(-self.left, 0), max(self.left + w - rw, 0))

    @property
    def cropping(self) -> tuple[int, int, int, int]:
        """The official script's saved crop parameters (top, bottom, left, right), in pixels."""
        # The official script measures bottom/right on the padded image from the unpadded centre; only
        # top/left are used to cut, but the saved parameters are these.
        (rw, rh), (w, h) = self.resized_size, self.crop_size
        top, bottom, left, right = self.padding
        center_x, center_y = self.left + w // 2, self.top + h // 2
        return (max(self.top, 0), max(rh + top + bottom - center_y - h // 2, 0),
                max(self.left, 0), max(rw + left + right - center_x - w // 2, 0))

    @property
    def principal(self) -> tuple[float, float]:
        """The principal point in the crop: its centre, as the official script sets it."""
        return self.crop_size[0] / 2, self.crop_size[1] / 2

    @property
    def distance(self) -> float:
        """The object's distance in the crop's camera model (same viewport as the original)."""
        return self.target_distance

    def point_to_crop(self, x: float, y: float) -> tuple[float, float]:
        """A point of the original image in crop pixels."""
        return x * self.resize_rate - self.left, y * self.resize_rate - self.top

    def bbox_to_crop(self, bbox: list[float] | np.ndarray) -> list[float]:
        """An (x1, y1, x2, y2) bbox of the original image in crop pixels (may extend past the crop)."""
        x1, y1 = self.point_to_crop(bbox[0], bbox[1])
        x2, y2 = self.point_to_crop(bbox[2], bbox[3])
        return [x1, y1, x2, y2]


def crop_geometry(width: int, height: int, px: float, py: float, distance: float,
                  crop_size: int | tuple[int, int] = DEFAULT_CROP_SIZE,
                  target_distance: float = CROP_TARGET_DISTANCE) -> CropGeometry:
    """The official crop geometry for an object of an image of ``width`` × ``height`` pixels.

    ``crop_size`` is the window's side length or (W, H) in pixels of the image rescaled so that the object sits at
    ``target_distance`` (the official script: 4). Truncations (``int``) are the official script's.
    """
    if distance <= 0:
        raise ValueError(f"distance must be positive, got {distance}")
    crop_w, crop_h = (crop_size, crop_size) if isinstance(crop_size, int) else crop_size
    rate = float(distance) / target_distance
    resized = (int(width * rate), int(height * rate))
    center_x, center_y = int(px * rate), int(py * rate)
    return CropGeometry(rate, resized, (crop_w, crop_h), center_x - crop_w // 2, center_y - crop_h // 2,
                        target_distance)


def official_crop_geometry(width: int, height: int, px: float, py: float, distance: float,
                           side: int = DEFAULT_CROP_SIZE) -> CropGeometry:
    """The official 512 × 512 crop resampled to ``side`` × ``side`` pixels: the same content at ``side`` / 512 of
    the resolution (``side`` = 512 is the official crop exactly). Shrinking the crop is zooming the camera out: in the
    crop's camera model (same viewport) the object sits at 4 · 512 / ``side``."""
    return crop_geometry(width, height, px, py, distance, side,
                         target_distance=CROP_TARGET_DISTANCE * DEFAULT_CROP_SIZE / side)


def object_centric_crop(image: Image.Image | np.ndarray, geometry: CropGeometry) -> Image.Image:
    """The crop of an RGB image (PIL, or its (H, W, 3) uint8 array): the rescaled image's window, zeros where the
    window leaves it. An array saves a conversion per object when one image gives several crops."""
    crop = crop_pixels(image, geometry)
    return crop if isinstance(crop, Image.Image) else Image.fromarray(crop)


def enlarges(geometry: CropGeometry, width: int, height: int) -> bool:
    """Whether ``geometry``'s rescaling enlarges a ``width`` × ``height`` image on both axes (s >= 1): OpenCV then
    resamples its window (:func:`crop_pixels`), which treats the three channels alike, so that an array in BGR order
    gives the crop in BGR order; else Pillow does, from an RGB image."""
    rw, rh = geometry.resized_size
    return rw >= width and rh >= height


def crop_pixels(image: Image.Image | np.ndarray, geometry: CropGeometry) -> Image.Image | np.ndarray:
    """:func:`object_centric_crop` as it comes: an (H, W, 3) uint8 array when OpenCV resampled it (the window is
    enlarged, :func:`enlarges`) or the window misses the image (zeros), else a PIL image; either way the same pixels.
    An array comes in the channel order of the array given (the build gives BGR, what OpenCV encodes), a PIL image
    in RGB. The build encodes either without a conversion."""
    (rw, rh), (cw, ch) = geometry.resized_size, geometry.crop_size
    # The part of the window that overlaps the rescaled image, in rescaled-image pixels.
    x0, y0 = max(geometry.left, 0), max(geometry.top, 0)
    x1, y1 = min(geometry.left + cw, rw), min(geometry.top + ch, rh)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((ch, cw, 3), dtype=np.uint8)
    if isinstance(image, np.ndarray):
        height, width = image.shape[:2]
    else:
        width, height = image.size
    if enlarges(geometry, width, height):
        window = _enlarged_window(image if isinstance(image, np.ndarray) else np.asarray(image), (rw, rh),
                                  (x0, y0, x1, y1))
        if window.shape[:2] == (ch, cw):  # the window lies inside the rescaled image
            return window
        canvas = np.zeros((ch, cw, 3), dtype=np.uint8)
        canvas[y0 - geometry.top:y1 - geometry.top, x0 - geometry.left:x1 - geometry.left] = window
        return canvas
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    canvas = Image.new("RGB", (cw, ch))
    # Rescaling maps rescaled pixel u to source u · w / rw (per axis, as OpenCV and Pillow do for a
    # whole-image resize), so the overlap comes from this source box; Pillow uses the source pixels
    # around the box too, so the result equals resize-then-crop up to rounding.
    sx, sy = width / rw, height / rh
    part = image.resize((x1 - x0, y1 - y0), Image.Resampling.BICUBIC, box=(x0 * sx, y0 * sy, x1 * sx, y1 * sy))
    canvas.paste(part, (x0 - geometry.left, y0 - geometry.top))
    return canvas


_MARGIN = 3
"""Source pixels kept past the last one a window needs: bicubic reads 2 beyond its position (one spare)."""


def _enlarged_window(array: np.ndarray, resized: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """Pixels ``box`` = (x0, y0, x1, y1) of ``array`` resized to ``resized`` = (rw, rh) >= its size by OpenCV's
    ``INTER_CUBIC``, resampling only a corner of the image: the rows and columns from the edge nearest to the window
    up to just past it. OpenCV maps output pixel u to source (u + 0.5) · w / rw − 0.5 from the image's edge, so a
    part that starts at that edge (the far edge: mirrored, which mirrors the mapping) is sampled on the same grid
    as the whole image."""
    import cv2

    height, width = array.shape[:2]
    (rw, rh), (x0, y0, x1, y1) = resized, box
    fx, fy = rw / width, rh / height
    flip_x, flip_y = x0 > rw - x1, y0 > rh - y1
    if flip_x:
        x0, x1 = rw - x1, rw - x0
    if flip_y:
        y0, y1 = rh - y1, rh - y0
    # The last source column (row) the window reads, plus the margin: the part is [0, r_end) × [0, c_end) of the
    # image, or of its mirror image.
    c_end = min(width, int((x1 - 0.5) / fx - 0.5) + 1 + _MARGIN)
    r_end = min(height, int((y1 - 0.5) / fy - 0.5) + 1 + _MARGIN)
    part = array[height - r_end if flip_y else 0:r_end if not flip_y else height,
                 width - c_end if flip_x else 0:c_end if not flip_x else width]
    code = _FLIP_CODES.get((flip_x, flip_y))
    part = cv2.flip(part, code) if code is not None else part
    window = cv2.resize(part, None, fx=fx, fy=fy, interpolation=cv2.INTER_CUBIC)[y0:y1, x0:x1]
    return cv2.flip(window, code) if code is not None else np.ascontiguousarray(window)


_FLIP_CODES = {(True, False): 1, (False, True): 0, (True, True): -1}
"""OpenCV's flip code of (mirror left-right, mirror top-bottom)."""


def prompt_box(bbox: list[float] | None, width: int, height: int) -> tuple[float, float, float, float]:
    """The box to show a model for an object of a ``width`` × ``height`` crop (x1 <= x2, y1 <= y2).

    A ``pose`` row keeps its box as found (see its ``flags``): an inverted box is given with its corners in
    order; a missing or NaN box becomes the whole crop, which is centred on the object. A box past the crop is
    left as it is (the prompt clips it to the image).
    """
    values = [float(v) for v in bbox] if bbox is not None and len(bbox) == 4 else []
    if len(values) != 4 or not all(np.isfinite(values)):
        return 0.0, 0.0, float(width), float(height)
    x1, y1, x2, y2 = values
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


BOX_FILL_MEASURES = ("max_side", "sqrt_area")
"""How :func:`box_fill_ratios` reads a box's size: its longer side, or the square root of its area."""


def box_fill_ratios(bboxes: np.ndarray | list, distances: np.ndarray | list, measure: str = "max_side") -> np.ndarray:
    """How much of its official crop each object's box spans: box size / crop side, one ratio per object.

    ``bboxes`` (N, 4) are (x1, y1, x2, y2) in pixels of the original images, ``distances`` (N,) the annotated
    distances; the official crop of an object at distance d is ``OFFICIAL_CROP_SIZE`` · 4 / d = 2048 / d pixels of
    its image. ``measure`` is one of :data:`BOX_FILL_MEASURES`. Objects without a usable box (not finite, x2 <= x1
    or y2 <= y1) or distance (<= 0, not finite) are left out, so the result may be shorter than N. Raises ValueError
    for another ``measure``.
    """
    if measure not in BOX_FILL_MEASURES:
        raise ValueError(f"measure: expected one of {', '.join(BOX_FILL_MEASURES)}, got {measure!r}")
    boxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    dist = np.asarray(distances, dtype=np.float64).reshape(-1)
    width, height = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    good = np.isfinite(boxes).all(axis=1) & np.isfinite(dist) & (dist > 0) & (width > 0) & (height > 0)
    size = np.maximum(width, height) if measure == "max_side" else np.sqrt(np.abs(width * height))
    crop_side = OFFICIAL_CROP_SIZE * CROP_TARGET_DISTANCE / np.where(good, dist, 1.0)
    return (size / crop_side)[good]


def measure_box_fill(data_dir: str | Path, split: str = "train", measure: str = "max_side") -> dict[str, float]:
    """The box fill of a built dataset's training crops: :func:`box_fill_ratios` over the ``pose`` config's
    ``split`` (its ``bbox_original`` and ``distance_original`` columns; no image is decoded).

    Returns ``{"median", "q25", "q75", "count"}`` (ratios; ``count`` objects with a usable box). The median is the
    :data:`modeling.box_crop.BOX_FILL` that inference crops are cut with. A dataset without a ``pose`` config or
    split raises ImageNet3DError (:func:`modeling.data.loading.load_split`); one without a usable box, ValueError.
    """
    from modeling.data.loading import load_split

    rows = load_split(data_dir, "pose", split).select_columns(["bbox_original", "distance_original"])
    bboxes = [box if box is not None and len(box) == 4 else [np.nan] * 4 for box in rows["bbox_original"]]
    distances = [np.nan if d is None else d for d in rows["distance_original"]]
    ratios = box_fill_ratios(bboxes, distances, measure)
    if ratios.size == 0:
        raise ValueError(f"{data_dir}: pose/{split} has no object with a usable box and distance")
    q25, median, q75 = np.quantile(ratios, [0.25, 0.5, 0.75])
    return {"median": float(median), "q25": float(q25), "q75": float(q75), "count": int(ratios.size)}

"""Any image → 8-bit RGB: the one home of image decoding, for the build, ``predict``, the Space and the pipeline.

Part of the Hub bundle (``save_pretrained`` copies it next to the weights: ``pipeline_llava_pose.py`` imports it
relatively), so it imports only Pillow, numpy and the standard library. :mod:`modeling.data.images` builds on it
(the bytes the build stores, errors the CLI prints as one line).

**The frame.** :func:`decode_rgb` never turns pixels: the image is in its *stored* frame (the frame of the official
annotations), and ``orientation`` says what the file's EXIF (or XMP ``tiff:Orientation``, as Pillow reads it) asks
for; :meth:`DecodedImage.upright` applies it (what ``predict`` and the pipeline give the model: the photo as the
user sees it). :func:`from_pil` does the same for an image already open.

**The samples** (:func:`to_rgb8`). Modes with 8-bit samples (1, L, LA, P, PA, RGB, RGBA, RGBX, RGBa, CMYK,
YCbCr, LAB, HSV) convert with Pillow's ``convert("RGB")``: alpha is dropped (as the official ``convert('RGB')``
does), palettes expand, CMYK/YCbCr/LAB/HSV use Pillow's formulas. Pillow's ``convert`` *clips* wider samples to
0..255, which turns a 16-bit image into 2 levels, so those are scaled here instead:

* 16-bit modes (I;16, I;16L, I;16B, I;16N): v → round(v / 257), i.e. 0..65535 onto 0..255 (8-bit values stored as
  v · 257, as 8→16-bit tools write them, come back exactly);
* I (32-bit signed; Pillow's mode for 16-bit PGM and 32-bit integer TIFF): samples within 0..65535 are 16-bit
  samples and scale as above; otherwise there is no known white point and the image's own [min, max] maps onto
  0..255;
* F (32-bit float): samples within [0, 1] (the float convention) are × 255; otherwise the image's [min, max] maps
  onto 0..255; a NaN or infinite sample is refused (it has no 8-bit value).

Every mapping is monotone and keeps up to 256 distinct levels. A mode with no conversion to RGB (La) is refused.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
from PIL import Image

ORIENTATION_TAG = 0x0112
"""EXIF/TIFF tag of the orientation (1: stored frame is upright)."""
TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
             5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
             8: Image.Transpose.ROTATE_90}
"""Orientation value → the transpose that makes the stored pixels upright (as ``ImageOps.exif_transpose``)."""
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
CORRUPT = "corrupt or truncated image"
"""Reason (and build-report skip reason) for a file Pillow cannot decode."""
NOT_CONVERTIBLE = "image not convertible to 8-bit RGB"
"""Reason (and build-report skip reason) for a decodable image whose samples have no 8-bit RGB value."""
KEEPS_ICC = ("RGB", "RGBA", "RGBX", "RGBa", "P", "PA")
"""Modes whose RGB values ``convert`` keeps, so that an RGB ICC profile still describes them."""
_OBJECT_REPR = re.compile(r" ?<[^<>]* at 0x[0-9a-fA-F]+>")


class ImageDecodingError(ValueError):
    """An image that cannot become 8-bit RGB: ``reason`` (:data:`CORRUPT` or :data:`NOT_CONVERTIBLE`, a build-report
    skip reason) and ``detail``; the message is ``"reason (detail)"``. The caller names the file.

    A ValueError, so that the pipeline (which cannot import the project's errors) reports it as bad input;
    :class:`modeling.data.images.ImageRefused` is the same error as the library raises it (also an ImageNet3DError).
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason} ({detail})")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class DecodedImage:
    """An image decoded to 8-bit RGB in its stored frame, with what it was and what was done to it."""

    image: Image.Image
    """8-bit RGB, stored frame (never turned); from a file: no metadata but an ICC profile that still applies."""
    source: str
    """Pillow's format and mode of the file, e.g. ``"JPEG RGB"``, ``"PNG I;16"`` (format ``image`` when unknown)."""
    scaling: str | None
    """How wider samples became 8 bits (None: they were 8-bit)."""
    orientation: int | None
    """The orientation its metadata asks for (1 when none; None when the metadata cannot be read)."""

    @property
    def turns(self) -> bool:
        """Whether a decoder applying the orientation would turn or flip the pixels."""
        return self.orientation in TRANSPOSE

    def upright(self) -> Image.Image:
        """The image as orientation-aware viewers show it: turned by its orientation (the stored frame if none)."""
        return self.image.transpose(TRANSPOSE[self.orientation]) if self.turns else self.image


def orientation_of(image: Image.Image) -> int | None:
    """The orientation Pillow reads from an open image (EXIF, else XMP ``tiff:Orientation``): an int 1-8; 1 when
    there is none or it is not a value 1-8; None when the metadata cannot be read (malformed EXIF)."""
    try:
        value = image.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - malformed metadata of an untrusted file: Pillow raises many kinds
        return None
    return value if isinstance(value, int) and value in TRANSPOSE else 1


def _to_uint8(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """``values`` mapped linearly from [low, high] onto 0..255, rounded (a constant image becomes 0)."""
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.rint((values - low) * (255.0 / (high - low))).clip(0, 255).astype(np.uint8)


def to_rgb8(image: Image.Image) -> tuple[Image.Image, str | None]:
    """An image of any Pillow mode as 8-bit RGB (same size, same frame), values scaled (not clipped), and how wider
    samples were scaled (None: 8-bit samples). An RGB image is returned as it is (not copied).

    Raises :class:`ImageDecodingError` (:data:`NOT_CONVERTIBLE`) for a mode Pillow cannot convert or a float image
    with NaN/infinite samples. The module docstring gives the mapping of each mode.
    """
    mode = image.mode
    if mode in SIXTEEN_BIT_MODES or mode in ("I", "F"):
        values = np.asarray(image).astype(np.float64)
        if mode == "F" and not np.isfinite(values).all():
            raise ImageDecodingError(NOT_CONVERTIBLE, "mode F (32-bit float) with NaN or infinite samples")
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        if mode in SIXTEEN_BIT_MODES or (mode == "I" and low >= 0 and high <= 65535):
            gray, scaling = _to_uint8(values, 0, 65535), f"{mode} samples 0..65535 / 257"
        elif mode == "F" and low >= 0 and high <= 1:
            gray, scaling = _to_uint8(values, 0, 1), "F samples 0..1 × 255"
        else:
            gray, scaling = _to_uint8(values, low, high), f"{mode} samples {low:g}..{high:g} onto 0..255"
        return Image.fromarray(gray).convert("RGB"), scaling
    try:
        rgb = image if mode == "RGB" else image.convert("RGB")
    except ValueError as err:
        raise ImageDecodingError(NOT_CONVERTIBLE, f"mode {mode}: {err}") from None
    return rgb, None


def decode_rgb(data: bytes) -> DecodedImage:
    """Decode an image file's bytes (any format Pillow opens) to 8-bit RGB in its stored frame.

    Raises :class:`ImageDecodingError` (``reason`` :data:`CORRUPT` or :data:`NOT_CONVERTIBLE`, with a ``detail``);
    the caller names the file. The pixels are never turned: ``orientation`` says what the metadata asks for.
    """
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()  # decodes now: truncated files raise here
            source, orientation = f"{opened.format} {opened.mode}", orientation_of(opened)
            icc = opened.info.get("icc_profile") if opened.mode in KEEPS_ICC else None
            rgb, scaling = to_rgb8(opened)
            rgb = rgb.copy()  # our own image, not the file's: no EXIF/XMP to carry into a saved copy
    except ImageDecodingError:
        raise
    except Exception as err:  # noqa: BLE001 - an untrusted file: whatever Pillow raises is "cannot decode it"
        # Without the object reprs Pillow puts in some messages (<_io.BytesIO object at 0x...>): reports are
        # deterministic.
        raise ImageDecodingError(CORRUPT, f"{type(err).__name__}: {_OBJECT_REPR.sub('', str(err))}") from None
    # An ICC profile stays only when it describes these RGB values.
    rgb.info = {"icc_profile": icc} if isinstance(icc, bytes) and icc[16:20] == b"RGB " else {}
    return DecodedImage(rgb, source, scaling, orientation)


def from_pil(image: Image.Image) -> DecodedImage:
    """An image already open (a PIL image of any mode) as :func:`decode_rgb` decodes its file: 8-bit RGB by
    :func:`to_rgb8`, in its stored frame, with the orientation of its metadata (``upright()`` applies it, as
    ``transformers.image_utils.load_image`` does with ``ImageOps.exif_transpose``). The image is not changed; an RGB
    image comes back as it is, metadata included.

    Raises :class:`ImageDecodingError`: :data:`NOT_CONVERTIBLE` as :func:`to_rgb8`, :data:`CORRUPT` when its pixels
    cannot be loaded (a truncated file opened lazily).
    """
    try:
        image.load()
    except Exception as err:  # noqa: BLE001 - a lazily opened untrusted file: whatever Pillow raises
        raise ImageDecodingError(CORRUPT, f"{type(err).__name__}: {_OBJECT_REPR.sub('', str(err))}") from None
    rgb, scaling = to_rgb8(image)
    return DecodedImage(rgb, f"{image.format or 'image'} {image.mode}", scaling, orientation_of(image))


__all__ = ["CORRUPT", "KEEPS_ICC", "NOT_CONVERTIBLE", "ORIENTATION_TAG", "SIXTEEN_BIT_MODES", "TRANSPOSE",
           "DecodedImage", "ImageDecodingError", "decode_rgb", "from_pil", "orientation_of", "to_rgb8"]

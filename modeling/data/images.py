"""Any image file → 8-bit RGB in its stored pixel frame: the one home of image decoding for the build and ``predict``.

**The frame.** The official annotations (bbox, px, py, width, height) are in the *stored* pixel frame: the official
scripts open images with PIL and never apply an EXIF or XMP orientation. Decoders that do apply it (``datasets``'
``Image`` feature calls ``ImageOps.exif_transpose``; browsers; OpenCV) would turn an image whose metadata says
"rotate 90°" away from its annotations. So :func:`decode_rgb` never turns pixels, and :func:`stored_bytes` makes
the bytes the build stores carry no orientation but 1:

* an RGB JPEG keeps its bytes; an orientation other than 1 in its EXIF (IFD0 tag 0x0112) or XMP
  (``tiff:Orientation``) is rewritten in place to 1 (:func:`neutralise_jpeg_orientation`): same length, pixels
  and every other byte unchanged (re-encoding a JPEG would lose quality);
* everything else, and an RGB JPEG whose orientation cannot be rewritten, is stored as a PNG of the decoded
  pixels (lossless) with no EXIF or XMP at all.

Each such case is a *conversion* in the build report (``from`` what, ``to`` what), never silent.
``predict`` decodes a user's photo with the same function and then turns it upright (:meth:`DecodedImage.upright`);
see :func:`modeling.llava_pose.inference.read_image` for why.

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
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

from modeling.utils.errors import ImageNet3DError

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
_KEEPS_ICC = ("RGB", "RGBA", "RGBX", "RGBa", "P", "PA")
"""Modes whose RGB values ``convert`` keeps, so that an RGB ICC profile still describes them."""
_XMP_HEADERS = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")
_OBJECT_REPR = re.compile(r" ?<[^<>]* at 0x[0-9a-fA-F]+>")
_XMP_ORIENTATION = re.compile(rb"""(tiff:Orientation\s*(?:=\s*["']|>)\s*)([0-9]+)""")


class ImageRefused(ImageNet3DError):
    """An image file that cannot become 8-bit RGB: ``reason`` (a build-report skip reason) and ``detail``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason} ({detail})")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class DecodedImage:
    """An image file decoded to 8-bit RGB in its stored frame, with what it was and what was done to it."""

    image: Image.Image
    """8-bit RGB, stored frame (never turned), no metadata but an ICC profile that still applies."""
    source: str
    """Pillow's format and mode of the file, e.g. ``"JPEG RGB"``, ``"PNG I;16"``."""
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


def _orientation(image: Image.Image) -> int | None:
    """The orientation Pillow reads (EXIF, else XMP ``tiff:Orientation``): 1 when none or not a value 1-8."""
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
    """An image of any Pillow mode as 8-bit RGB, values scaled (not clipped), and how wider samples were scaled.

    Raises :class:`ImageRefused` for a mode Pillow cannot convert or a float image with NaN/infinite samples.
    The module docstring gives the mapping of each mode.
    """
    mode = image.mode
    if mode in SIXTEEN_BIT_MODES or mode in ("I", "F"):
        values = np.asarray(image).astype(np.float64)
        if mode == "F" and not np.isfinite(values).all():
            raise ImageRefused(NOT_CONVERTIBLE, "mode F (32-bit float) with NaN or infinite samples")
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
        raise ImageRefused(NOT_CONVERTIBLE, f"mode {mode}: {err}") from None
    return rgb, None


def decode_rgb(data: bytes) -> DecodedImage:
    """Decode an image file's bytes (any format Pillow opens) to 8-bit RGB in its stored frame.

    Raises :class:`ImageRefused` (``reason`` :data:`CORRUPT` or :data:`NOT_CONVERTIBLE`, with a ``detail``); the
    caller names the file. The pixels are never turned: ``orientation`` says what the metadata asks for.
    """
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()  # decodes now: truncated files raise here
            source, orientation = f"{opened.format} {opened.mode}", _orientation(opened)
            icc = opened.info.get("icc_profile") if opened.mode in _KEEPS_ICC else None
            rgb, scaling = to_rgb8(opened)
            rgb = rgb.copy()  # our own image, not the file's: no EXIF/XMP to carry into a saved copy
    except ImageRefused:
        raise
    except Exception as err:  # noqa: BLE001 - an untrusted file: whatever Pillow raises is "cannot decode it"
        # Without the object reprs Pillow puts in some messages (<_io.BytesIO object at 0x...>): reports are
        # deterministic.
        raise ImageRefused(CORRUPT, f"{type(err).__name__}: {_OBJECT_REPR.sub('', str(err))}") from None
    # An ICC profile stays only when it describes these RGB values.
    rgb.info = {"icc_profile": icc} if isinstance(icc, bytes) and icc[16:20] == b"RGB " else {}
    return DecodedImage(rgb, source, scaling, orientation)


# ---- the bytes to store -------------------------------------------------------------------------------------


def _patch_exif_orientation(segment: bytearray, start: int, end: int) -> int:
    """Set IFD0's orientation in the APP1 Exif payload ``segment[start:end]`` to 1; returns the old value.

    Returns 1 when no orientation entry can be read (no TIFF header, IFD0 or its entries past the segment: no
    decoder reads an orientation there either); raises ValueError when the entry is not a single SHORT/LONG.
    """
    tiff = start + 6  # after b"Exif\0\0"
    order = {b"II": "<", b"MM": ">"}.get(bytes(segment[tiff:tiff + 2]))
    if order is None or tiff + 8 > end:
        return 1
    (ifd,) = struct.unpack_from(order + "I", segment, tiff + 4)
    if tiff + ifd + 2 > end:
        return 1
    (count,) = struct.unpack_from(order + "H", segment, tiff + ifd)
    for entry in range(tiff + ifd + 2, min(tiff + ifd + 2 + 12 * count, end - 11), 12):
        tag, kind, items = struct.unpack_from(order + "HHI", segment, entry)
        if tag != ORIENTATION_TAG:
            continue
        width = {3: "H", 4: "I", 8: "h", 9: "i"}.get(kind)
        if width is None or items != 1:
            raise ValueError(f"orientation of TIFF type {kind} × {items}")
        (old,) = struct.unpack_from(order + width, segment, entry + 8)
        struct.pack_into(order + width, segment, entry + 8, 1)
        return old
    return 1


def neutralise_jpeg_orientation(data: bytes) -> tuple[bytes, list[str]]:
    """A JPEG's bytes with every EXIF (IFD0) and XMP orientation other than 1 rewritten to 1, in place.

    Segment lengths do not change, so the pixels and every other byte stay identical. Returns the bytes and what
    was rewritten (e.g. ``["EXIF 6", "XMP 6"]``). Raises ValueError when an Exif orientation is not a single
    integer, which decoders read differently (the caller then stores a PNG).
    """
    out = bytearray(data)
    changed: list[str] = []
    if out[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    pos = 2
    while pos + 4 <= len(out) and out[pos] == 0xFF:
        marker = out[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xDA, 0xD9):  # start of scan, end of image: no metadata after these
            break
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", out, pos + 2)
        start, end = pos + 4, min(pos + 2 + length, len(out))
        if marker == 0xE1 and out[start:start + 6] == b"Exif\x00\x00":
            old = _patch_exif_orientation(out, start, end)
            if old != 1:
                changed.append(f"EXIF {old}")
        elif marker == 0xE1 and any(out[start:end].startswith(h) for h in _XMP_HEADERS):
            for match in _XMP_ORIENTATION.finditer(bytes(out[start:end])):
                digits = match.group(2)
                if int(digits) != 1:
                    new = b"1".rjust(len(digits), b"0")
                    out[start + match.start(2):start + match.end(2)] = new
                    changed.append(f"XMP {int(digits)}")
        pos += 2 + length
    return bytes(out), changed


def png_bytes(image: Image.Image) -> bytes:
    """An image as PNG bytes (lossless), with only the metadata its ``info`` keeps (see :func:`decode_rgb`)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _orientation_of(data: bytes) -> int | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return _orientation(image)
    except Exception:  # noqa: BLE001 - re-reading our own output; any failure means "do not keep these bytes"
        return None


def stored_bytes(data: bytes, decoded: DecodedImage) -> tuple[bytes, dict | None]:
    """The bytes to store for an image file: its own bytes when possible, and the conversion (None: none).

    An RGB JPEG keeps its bytes, with any orientation neutralised (:func:`neutralise_jpeg_orientation`);
    anything else becomes a PNG of ``decoded.image``. The conversion is ``{"from": ..., "to": ...}`` for the
    build report. Either way the stored bytes decode, with or without applying orientation, to the stored frame.
    """
    described = decoded.source
    if decoded.source == "JPEG RGB":
        try:
            kept, changed = neutralise_jpeg_orientation(data)
        except (ValueError, struct.error) as err:
            kept, changed, described = None, [], f"{described}, orientation metadata not rewritable ({err})"
        if kept is not None and _orientation_of(kept) == 1:
            if not changed:
                return data, None
            olds = sorted({item.split()[1] for item in changed})
            return kept, {"from": f"JPEG RGB, orientation {'/'.join(olds)}",
                          "to": f"same JPEG, orientation set to 1 ({', '.join(changed)}); pixels unchanged"}
    if decoded.orientation is None:
        described += ", unreadable metadata"
    elif decoded.orientation != 1:
        described += f", orientation {decoded.orientation}"
    to = "RGB PNG" + (f", {decoded.scaling}" if decoded.scaling else "")
    if decoded.orientation != 1:
        to += ", stored frame, no orientation metadata"
    return png_bytes(decoded.image), {"from": described, "to": to}

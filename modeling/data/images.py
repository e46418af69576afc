"""Any image file → 8-bit RGB in its stored pixel frame, and the bytes the build stores: the library's side of
image decoding for the build and ``predict``.

The decoding itself (:func:`decode_rgb`, :func:`to_rgb8`, :class:`DecodedImage`; how each Pillow mode becomes 8-bit
RGB, 16-bit and float samples scaled, never clipped) lives in :mod:`modeling.image_decoding`, a file of the Hub
bundle, so that the ``object-pose-estimation`` pipeline decodes a file exactly as ``predict`` and the build do.
Here its errors are :class:`ImageRefused`, an ImageNet3DError (the CLI prints it as one line, exit 2).

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
"""

from __future__ import annotations

import io
import re
import struct

import numpy as np
from PIL import Image

from modeling import image_decoding
from modeling.image_decoding import (
    CORRUPT,
    NOT_CONVERTIBLE,
    ORIENTATION_TAG,
    SIXTEEN_BIT_MODES,
    TRANSPOSE,
    DecodedImage,
    ImageDecodingError,
    orientation_of,
)
from modeling.utils.errors import ImageNet3DError

_XMP_HEADERS = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")
_XMP_ORIENTATION = re.compile(rb"""(tiff:Orientation\s*(?:=\s*["']|>)\s*)([0-9]+)""")


class ImageRefused(ImageNet3DError, ImageDecodingError):
    """An image file that cannot become 8-bit RGB: ``reason`` (a build-report skip reason) and ``detail``.

    Both an ImageNet3DError (the CLI prints it as one line, exit 2) and the bundle's
    :class:`~modeling.image_decoding.ImageDecodingError` (a ValueError): :func:`decode_rgb` and :func:`to_rgb8`
    re-raise the bundle's error as this one, which ``except`` clauses of either kind catch. The bundle cannot raise
    it itself: it cannot import ``modeling.utils.errors`` (it is copied next to the weights alone). Made as
    ``ImageRefused(reason, detail)``; the message is ``"reason (detail)"``.
    """


def to_rgb8(image: Image.Image) -> tuple[Image.Image, str | None]:
    """An image of any Pillow mode as 8-bit RGB, values scaled (not clipped), and how wider samples were scaled
    (:func:`modeling.image_decoding.to_rgb8`, whose docstring gives the mapping of each mode).

    Raises :class:`ImageRefused` for a mode Pillow cannot convert or a float image with NaN/infinite samples.
    """
    try:
        return image_decoding.to_rgb8(image)
    except ImageDecodingError as err:
        raise ImageRefused(err.reason, err.detail) from None


def decode_rgb(data: bytes) -> DecodedImage:
    """Decode an image file's bytes (any format Pillow opens) to 8-bit RGB in its stored frame
    (:func:`modeling.image_decoding.decode_rgb`).

    Raises :class:`ImageRefused` (``reason`` :data:`CORRUPT` or :data:`NOT_CONVERTIBLE`, with a ``detail``); the
    caller names the file. The pixels are never turned: ``orientation`` says what the metadata asks for.
    """
    try:
        return image_decoding.decode_rgb(data)
    except ImageDecodingError as err:
        raise ImageRefused(err.reason, err.detail) from None


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
            return orientation_of(image)
    except Exception:  # noqa: BLE001 - re-reading our own output; any failure means "do not keep these bytes"
        return None


def _keep_jpeg(data: bytes) -> tuple[bytes | None, list[str], str | None]:
    """An RGB JPEG's bytes with its orientation neutralised, what was rewritten, and why they cannot be kept (None
    for the bytes then, with a note when the metadata could not be rewritten)."""
    try:
        kept, changed = neutralise_jpeg_orientation(data)
    except (ValueError, struct.error) as err:
        return None, [], f"orientation metadata not rewritable ({err})"
    return (kept, changed, None) if _orientation_of(kept) == 1 else (None, changed, None)


def _kept_conversion(data: bytes, kept: bytes, changed: list[str]) -> tuple[bytes, dict | None]:
    if not changed:
        return data, None
    olds = sorted({item.split()[1] for item in changed})
    return kept, {"from": f"JPEG RGB, orientation {'/'.join(olds)}",
                  "to": f"same JPEG, orientation set to 1 ({', '.join(changed)}); pixels unchanged"}


def kept_jpeg_bytes(data: bytes) -> tuple[bytes, dict | None] | None:
    """The bytes to store for an RGB JPEG (Pillow: format JPEG, mode RGB) as :func:`stored_bytes` gives them when it
    keeps the file's own bytes, with the conversion (None: none); None when it would store a PNG instead (its
    orientation cannot be rewritten), which only :func:`stored_bytes` with the decoded image can make."""
    kept, changed, _ = _keep_jpeg(data)
    return None if kept is None else _kept_conversion(data, kept, changed)


def stored_bytes(data: bytes, decoded: DecodedImage) -> tuple[bytes, dict | None]:
    """The bytes to store for an image file: its own bytes when possible, and the conversion (None: none).

    An RGB JPEG keeps its bytes, with any orientation neutralised (:func:`neutralise_jpeg_orientation`);
    anything else becomes a PNG of ``decoded.image``. The conversion is ``{"from": ..., "to": ...}`` for the
    build report. Either way the stored bytes decode, with or without applying orientation, to the stored frame.
    """
    described = decoded.source
    if decoded.source == "JPEG RGB":
        kept, changed, note = _keep_jpeg(data)
        if kept is not None:
            return _kept_conversion(data, kept, changed)
        if note:
            described = f"{described}, {note}"
    if decoded.orientation is None:
        described += ", unreadable metadata"
    elif decoded.orientation != 1:
        described += f", orientation {decoded.orientation}"
    to = "RGB PNG" + (f", {decoded.scaling}" if decoded.scaling else "")
    if decoded.orientation != 1:
        to += ", stored frame, no orientation metadata"
    return png_bytes(decoded.image), {"from": described, "to": to}


_EOI = b"\xff\xd9"
_PLAIN_FRAMES = (0xC0, 0xC1, 0xC2)
"""Frame (SOF) markers of the JPEGs :func:`jpeg_frame` accepts: baseline, extended sequential, progressive (Huffman)."""
_OTHER_FRAMES = (0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)
"""Lossless, hierarchical and arithmetic-coded frames: left to Pillow."""


def jpeg_frame(data: bytes) -> tuple[int, int] | None:
    """(width, height) in pixels of a plain RGB JPEG, read from its frame header alone, or None for anything else.

    Plain: the bytes start with the start-of-image marker and end with the end-of-image one (a file cut short is
    not plain), and the markers before the first scan hold exactly one frame header, baseline, extended sequential
    or progressive, of 8-bit samples in 3 components (what Pillow opens as mode RGB; 1 is L, 4 CMYK) and a size of
    at least 1 × 1. Only the header is read: nothing is decoded.
    """
    if not data.startswith(b"\xff\xd8") or not data.endswith(_EOI):
        return None
    pos, frame = 2, None
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        if marker in (0xD8, 0xD9):
            return None
        if marker == 0xDA:  # start of scan: the header is over
            return frame
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2:
            return None
        if marker in _OTHER_FRAMES or (marker in _PLAIN_FRAMES and frame is not None):
            return None
        if marker in _PLAIN_FRAMES:
            if length < 8 or pos + 10 > len(data):
                return None
            precision, height, width, components = struct.unpack_from(">BHHB", data, pos + 4)
            if precision != 8 or components != 3 or not width or not height:
                return None
            frame = (width, height)
        pos += 2 + length
    return None


def decode_jpeg_bgr(data: bytes) -> np.ndarray | None:
    """A plain RGB JPEG (:func:`jpeg_frame`) decoded straight into a (H, W, 3) uint8 array in OpenCV's BGR order,
    stored frame (no orientation applied), or None: the build's fast path to the pixels of its crops.

    For those files OpenCV's libjpeg-turbo gives :func:`decode_rgb`'s pixels with the channels reversed (the same
    IDCT and upsampling; ``tests/data/test_images.py`` holds it on every chroma subsampling, progressive, restart
    markers and an EXIF orientation), about 1.5x faster, without Pillow's copy into numpy and without opening the
    file with Pillow at all. Anything else, and a file OpenCV cannot decode to the size of its frame header, gives
    None: the caller decodes it with :func:`decode_rgb`, which reads every kind and refuses (with its reason) what it
    cannot decode. A file cut short is never taken here: OpenCV would fill the missing rows where Pillow refuses it.
    The caller checks the size first (a decompression bomb is refused from its header).
    """
    frame = jpeg_frame(data)
    if frame is None:
        return None
    import cv2

    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION  # IMREAD_COLOR: 8-bit BGR
    try:
        pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error:
        return None
    return pixels if pixels is not None and pixels.shape == (frame[1], frame[0], 3) else None


__all__ = ["CORRUPT", "NOT_CONVERTIBLE", "ORIENTATION_TAG", "SIXTEEN_BIT_MODES", "TRANSPOSE", "DecodedImage",
           "ImageRefused", "decode_jpeg_bgr", "decode_rgb", "jpeg_frame", "kept_jpeg_bytes",
           "neutralise_jpeg_orientation", "png_bytes", "stored_bytes", "to_rgb8"]

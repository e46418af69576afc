"""modeling/data/images.py: every Pillow mode to 8-bit RGB with its levels kept, and orientation metadata rewritten
in a JPEG's bytes without touching its pixels."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image, ImageOps

from modeling.data.images import (
    CORRUPT,
    NOT_CONVERTIBLE,
    ImageRefused,
    decode_jpeg_bgr,
    decode_rgb,
    jpeg_frame,
    kept_jpeg_bytes,
    neutralise_jpeg_orientation,
    stored_bytes,
    to_rgb8,
)

WIDE = 200
"""Levels of the ramps of modes wider than 8 bits (the issue's 16-bit ramp)."""


def _gray(mode: str, values: np.ndarray) -> Image.Image:
    """A 4-row image of mode ``mode`` whose columns run through ``values``."""
    array = np.repeat(values[None, :], 4, axis=0)
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return Image.frombytes(mode, (array.shape[1], 4), array.astype(">u2" if mode == "I;16B" else "<u2").tobytes())
    if mode in ("I", "F"):
        return Image.fromarray(array.astype(np.int32 if mode == "I" else np.float32))
    return Image.fromarray(array.astype(np.uint8)).convert(mode) if mode != "L" else Image.fromarray(
        array.astype(np.uint8))


def _bands(mode: str, *bands: np.ndarray) -> Image.Image:
    return Image.merge(mode, [Image.fromarray(np.repeat(b[None, :], 4, axis=0).astype(np.uint8)) for b in bands])


def _palette(mode: str) -> Image.Image:
    index = np.repeat(np.arange(256, dtype=np.uint8)[None, :], 4, axis=0)
    image = Image.frombytes("P", (256, 4), index.tobytes())
    image.putpalette(bytes(v for i in range(256) for v in (i, i, i)))
    if mode == "PA":
        image = image.convert("PA")
        image.putalpha(128)
    return image


RAMP = np.arange(256)
FULL = np.full(256, 255)
MID = np.full(256, 128)
ZERO = np.zeros(256)
WIDE_16 = np.linspace(0, 65535, WIDE).round()

# mode → (image with a ramp along x, distinct levels expected, +1 increasing / -1 decreasing)
CASES = {
    "1": (lambda: _gray("1", np.repeat([0, 255], 8)), 2, 1),
    "L": (lambda: _gray("L", RAMP), 256, 1),
    "LA": (lambda: _bands("LA", RAMP, RAMP[::-1]), 256, 1),  # alpha dropped, not applied
    "La": (lambda: _bands("La", RAMP, FULL), 0, 0),  # Pillow has no conversion: refused
    "P": (lambda: _palette("P"), 256, 1),
    "PA": (lambda: _palette("PA"), 256, 1),
    "RGB": (lambda: _bands("RGB", RAMP, RAMP, RAMP), 256, 1),
    "RGBA": (lambda: _bands("RGBA", RAMP, RAMP, RAMP, ZERO), 256, 1),
    "RGBa": (lambda: _bands("RGBa", RAMP, RAMP, RAMP, FULL), 256, 1),
    "RGBX": (lambda: _bands("RGBX", RAMP, RAMP, RAMP, FULL), 256, 1),
    "CMYK": (lambda: _bands("CMYK", ZERO, ZERO, ZERO, RAMP), 256, -1),
    "YCbCr": (lambda: _bands("YCbCr", RAMP, MID, MID), 256, 1),
    "LAB": (lambda: _bands("LAB", RAMP, MID, MID), 200, 1),  # L* → sRGB merges a few dark levels
    "HSV": (lambda: _bands("HSV", ZERO, ZERO, RAMP), 256, 1),
    "I": (lambda: _gray("I", WIDE_16), WIDE, 1),
    "I;16": (lambda: _gray("I;16", WIDE_16), WIDE, 1),
    "I;16B": (lambda: _gray("I;16B", WIDE_16), WIDE, 1),
    "I;16L": (lambda: _gray("I;16L", WIDE_16), WIDE, 1),
    "I;16N": (lambda: _gray("I;16N", WIDE_16), WIDE, 1),
    "F": (lambda: _gray("F", np.linspace(0, 1, WIDE)), WIDE, 1),
}


def test_every_pillow_mode_has_a_case():
    assert sorted(CASES) == sorted(Image.MODES)


def _as_file(image: Image.Image) -> bytes | None:
    """The image saved in a format that reopens it in the same mode (PNG, TIFF), or None when none does."""
    for fmt in ("PNG", "TIFF"):
        buffer = io.BytesIO()
        try:
            image.save(buffer, format=fmt)
        except (OSError, ValueError, KeyError):
            continue
        with Image.open(io.BytesIO(buffer.getvalue())) as reopened:
            if reopened.mode == image.mode:
                return buffer.getvalue()
    return None


def _levels(rgb: Image.Image) -> np.ndarray:
    """The mean of R, G, B along the first row."""
    assert rgb.mode == "RGB"
    return np.asarray(rgb, dtype=np.float64)[0].mean(axis=1)


@pytest.mark.parametrize("mode", sorted(CASES))
def test_a_ramp_keeps_its_levels_in_order(mode):
    make, expected, direction = CASES[mode]
    image = make()
    assert image.mode == mode
    data = _as_file(image)
    if expected == 0:
        with pytest.raises(ImageRefused) as refused:
            to_rgb8(image)
        assert refused.value.reason == NOT_CONVERTIBLE and mode in refused.value.detail
        return
    if data is None:  # no file format keeps this mode: the in-memory conversion
        rgb, _ = to_rgb8(image)
    else:
        decoded = decode_rgb(data)
        assert decoded.source.endswith(f" {mode}") and decoded.orientation == 1
        rgb = decoded.image
        assert rgb.info.get("exif") is None and rgb.info.get("xmp") is None
    levels = _levels(rgb)
    assert len(np.unique(levels)) >= expected
    assert np.all(np.diff(levels) * direction >= 0), levels
    assert (levels[0], levels[-1]) == pytest.approx((0, 255) if direction > 0 else (255, 0), abs=2)  # LAB: ±1


@pytest.mark.parametrize("mode, values, scaling", [
    ("I;16", np.array([0, 257, 514, 65535]), "I;16 samples 0..65535 / 257"),
    ("I", np.array([0, 257, 514, 65535]), "I samples 0..65535 / 257"),
    ("I", np.array([-1000, 0, 1000, 100000]), "I samples -1000..100000 onto 0..255"),
    ("F", np.array([0.0, 0.5, 1.0, 0.25]), "F samples 0..1 × 255"),
    ("F", np.array([-2.0, 0.0, 2.0, 6.0]), "F samples -2..6 onto 0..255"),
])
def test_wide_samples_are_scaled_as_documented(mode, values, scaling):
    rgb, how = to_rgb8(_gray(mode, values))
    assert how == scaling
    got = np.asarray(rgb)[0, :, 0]
    if "onto" in scaling:
        expected = np.rint((values - values.min()) * 255 / (values.max() - values.min()))
    else:
        expected = np.rint(values / 257) if "257" in scaling else np.rint(values * 255)
    np.testing.assert_array_equal(got, expected)


def test_float_nan_is_refused_and_garbage_is_corrupt():
    with pytest.raises(ImageRefused, match="NaN or infinite") as refused:
        to_rgb8(_gray("F", np.array([0.0, np.nan, 1.0])))
    assert refused.value.reason == NOT_CONVERTIBLE
    with pytest.raises(ImageRefused) as refused:
        decode_rgb(b"\xff\xd8\xff\xe0 not a JPEG" * 10)
    assert refused.value.reason == CORRUPT and " at 0x" not in refused.value.detail  # no object repr: deterministic


# ---- orientation -------------------------------------------------------------------------------------------


def two_colour(size=(200, 120)) -> Image.Image:
    """Left half red, right half blue: any turn or flip shows."""
    image = Image.new("RGB", size, (220, 20, 20))
    image.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    return image


def exif_block(orientation: int, order: str = "<") -> bytes:
    """An APP1 Exif payload whose IFD0 holds the orientation (and a Make tag), in either byte order."""
    header = (b"II" if order == "<" else b"MM") + struct.pack(order + "HI", 42, 8)
    make = b"Maker\x00"
    entries = [struct.pack(order + "HHI", 0x010F, 2, len(make)) + struct.pack(order + "I", 8 + 2 + 24 + 4),
               struct.pack(order + "HHIH", 0x0112, 3, 1, orientation) + b"\x00\x00"]
    return b"Exif\x00\x00" + header + struct.pack(order + "H", 2) + b"".join(entries) + b"\x00" * 4 + make


def xmp_packet(orientation: int, element: bool = False) -> bytes:
    """An XMP packet with ``tiff:Orientation`` as an attribute or an element."""
    inner = (f"<tiff:Orientation>{orientation}</tiff:Orientation></rdf:Description>" if element
             else f'tiff:Orientation="{orientation}"/>')
    opening = '<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/"' + (">" if element else " ")
    return (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            f"{opening}{inner}</rdf:RDF></x:xmpmeta>").encode()


def jpeg(image: Image.Image, **metadata) -> bytes:
    """JPEG bytes of an image with the given ``exif``/``xmp`` metadata."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, **metadata)
    return buffer.getvalue()


@pytest.mark.parametrize("metadata, where, pillow_turns", [
    ({"exif": exif_block(6, "<")}, "EXIF 6", True),
    ({"exif": exif_block(6, ">")}, "EXIF 6", True),
    ({"xmp": xmp_packet(6)}, "XMP 6", True),
    ({"xmp": xmp_packet(8, element=True)}, "XMP 8", True),
    ({"exif": exif_block(1), "xmp": xmp_packet(6)}, "XMP 6", False),  # Pillow reads EXIF only; others may read XMP
    ({"exif": exif_block(3), "xmp": xmp_packet(3)}, "EXIF 3, XMP 3", True),
])
def test_jpeg_orientation_is_rewritten_in_place(metadata, where, pillow_turns):
    data = jpeg(two_colour(), **metadata)
    with Image.open(io.BytesIO(data)) as original:
        pixels = np.asarray(original.convert("RGB"))
        seen = np.asarray(ImageOps.exif_transpose(original).convert("RGB"))
        assert (seen.shape != pixels.shape or not np.array_equal(seen, pixels)) == pillow_turns
    decoded = decode_rgb(data)
    assert decoded.image.size == (200, 120)  # stored frame
    kept, conversion = stored_bytes(data, decoded)
    assert conversion["to"] == f"same JPEG, orientation set to 1 ({where}); pixels unchanged"
    assert len(kept) == len(data) and sum(a != b for a, b in zip(kept, data)) == where.count(",") + 1
    with Image.open(io.BytesIO(kept)) as stored:
        assert stored.getexif().get(0x0112, 1) == 1
        turned = ImageOps.exif_transpose(stored)  # what datasets' Image feature does on decode
        assert turned.size == (200, 120)
        np.testing.assert_array_equal(np.asarray(turned.convert("RGB")), pixels)
        if "exif" in metadata:
            assert stored.getexif()[0x010F] == "Maker"  # the rest of the metadata is kept
    assert b"tiff:Orientation" not in kept or b"Orientation>1<" in kept or b'Orientation="1"' in kept
    assert neutralise_jpeg_orientation(kept) == (kept, [])


def test_upright_turns_as_viewers_do():
    data = jpeg(two_colour(), exif=exif_block(6))
    decoded = decode_rgb(data)
    with Image.open(io.BytesIO(data)) as original:
        viewer = np.asarray(ImageOps.exif_transpose(original).convert("RGB"))
    assert decoded.turns and decoded.upright().size == (120, 200)
    np.testing.assert_array_equal(np.asarray(decoded.upright()), viewer)


def test_unrewritable_orientation_becomes_a_png_in_the_stored_frame():
    # An orientation stored as two SHORTs: no single value to rewrite in place.
    block = exif_block(6).replace(struct.pack("<HHIH", 0x0112, 3, 1, 6), struct.pack("<HHIHH", 0x0112, 3, 2, 6, 6))
    data = jpeg(two_colour(), exif=block)
    decoded = decode_rgb(data)
    stored, conversion = stored_bytes(data, decoded)
    assert conversion["from"].startswith("JPEG RGB, orientation metadata not rewritable")
    assert conversion["to"].startswith("RGB PNG")
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "PNG" and image.getexif().get(0x0112) is None
        assert ImageOps.exif_transpose(image).size == (200, 120)


@pytest.mark.parametrize("block", [b"Exif\x00\x00not a TIFF header", b"Exif\x00\x00II*\x00\xff\xff\x00\x00",
                                   b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x05\x00"],
                         ids=["no TIFF header", "IFD0 outside", "entries cut off"])
def test_exif_that_no_decoder_can_walk_keeps_its_bytes(block):
    data = jpeg(two_colour(), exif=block)
    assert stored_bytes(data, decode_rgb(data)) == (data, None)


def test_png_copies_carry_no_orientation():
    buffer = io.BytesIO()
    two_colour().convert("L").save(buffer, format="JPEG", exif=exif_block(6))
    decoded = decode_rgb(buffer.getvalue())
    stored, conversion = stored_bytes(buffer.getvalue(), decoded)
    assert conversion == {"from": "JPEG L, orientation 6", "to": "RGB PNG, stored frame, no orientation metadata"}
    with Image.open(io.BytesIO(stored)) as image:
        assert image.size == (200, 120) and image.getexif().get(0x0112) is None


def test_icc_profile_is_kept_only_where_it_still_applies():
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buffer = io.BytesIO()
    two_colour().save(buffer, format="PNG", icc_profile=srgb)
    assert decode_rgb(buffer.getvalue()).image.info.get("icc_profile") == srgb
    buffer = io.BytesIO()
    two_colour().convert("CMYK").save(buffer, format="JPEG", icc_profile=srgb)  # a profile not of these values
    assert "icc_profile" not in decode_rgb(buffer.getvalue()).image.info


def _photo(width: int = 157, height: int = 93, seed: int = 0) -> Image.Image:
    """Noise over smooth colour: every pixel counts, and chroma varies (what subsampling and upsampling touch)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    smooth = np.stack([127 + 90 * np.sin(xs / 9 + c) * np.cos(ys / 7 - c) for c in range(3)], -1)
    return Image.fromarray((smooth + rng.normal(0, 25, smooth.shape)).clip(0, 255).astype(np.uint8))


@pytest.mark.parametrize("options", [
    {"subsampling": "4:2:0"}, {"subsampling": "4:2:2"}, {"subsampling": "4:4:4"}, {"progressive": True},
    {"optimize": True, "quality": 95}, {"restart_marker_blocks": 1}, {"exif": exif_block(6)},
    {"xmp": xmp_packet(8)},
], ids=lambda options: ",".join(f"{k}={v if not isinstance(v, bytes) else 'block'}" for k, v in options.items()))
def test_the_fast_jpeg_decode_gives_pillows_pixels(options):
    """decode_jpeg_bgr (OpenCV, the build's path for plain RGB JPEGs) gives decode_rgb's pixels exactly, channels
    reversed, in the stored frame (an orientation in the metadata is not applied), whatever the encoder's options."""
    buffer = io.BytesIO()
    _photo().save(buffer, format="JPEG", **{"quality": 75, **options})
    data = buffer.getvalue()
    bgr = decode_jpeg_bgr(data)
    assert bgr is not None and bgr.shape == (93, 157, 3) and bgr.dtype == np.uint8
    np.testing.assert_array_equal(bgr[..., ::-1], np.asarray(decode_rgb(data).image))
    assert kept_jpeg_bytes(data) == stored_bytes(data, decode_rgb(data))


def test_the_fast_jpeg_decode_leaves_every_other_file_to_pillow():
    """Not a plain RGB JPEG, or cut short: None, so that decode_rgb converts it or refuses it with its reason."""
    def encoded(image: Image.Image, fmt: str = "JPEG") -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
        return buffer.getvalue()

    photo = _photo()
    whole = encoded(photo)
    for data in (encoded(photo.convert("L")), encoded(photo.convert("CMYK")), encoded(photo, "PNG"),
                 whole[:len(whole) // 2], whole[:-2], b"\xff\xd8 not a JPEG \xff\xd9"):
        assert decode_jpeg_bgr(data) is None
    with pytest.raises(ImageRefused, match=CORRUPT):
        decode_rgb(whole[:len(whole) // 2])
    block = exif_block(6).replace(struct.pack("<HHIH", 0x0112, 3, 1, 6), struct.pack("<HHIHH", 0x0112, 3, 2, 6, 6))
    unrewritable = jpeg(two_colour(), exif=block)
    assert decode_jpeg_bgr(unrewritable) is not None and kept_jpeg_bytes(unrewritable) is None  # a PNG is stored


def test_jpeg_frame_reads_the_size_of_plain_rgb_jpegs_only():
    """The frame header's size, as Pillow reads it, for 8-bit 3-component baseline/progressive JPEGs ending with EOI;
    None for every other file (which then goes through Pillow: its size check, its decoder)."""
    def encoded(image: Image.Image, **options) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", **options)
        return buffer.getvalue()

    photo = _photo(157, 93)
    for options in ({}, {"progressive": True}, {"exif": exif_block(6)}, {"subsampling": "4:4:4"}):
        assert jpeg_frame(encoded(photo, **options)) == (157, 93)
    whole = encoded(photo)
    sof = whole.index(b"\xff\xc0")
    segment = whole[sof:sof + 2 + struct.unpack_from(">H", whole, sof + 2)[0]]
    for other in (encoded(photo.convert("L")), encoded(photo.convert("CMYK")), whole[:-2], whole[:sof + 6],
                  whole[:sof] + b"\xff\xc9" + whole[sof + 2:],  # arithmetic coding
                  whole[:sof] + segment + whole[sof:],  # two frame headers
                  whole[:sof + 4] + b"\x0c" + whole[sof + 5:],  # 12-bit samples
                  b"\xff\xd8\xff\xd9", b"\x89PNG not a JPEG \xff\xd9"):
        assert jpeg_frame(other) is None

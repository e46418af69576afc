"""modeling/image_decoding.py (the bundle's decoder): an open PIL image converts as its file decodes, its errors are
ValueErrors, and modeling/data/images.py raises them as ImageRefused (an ImageNet3DError) under the same names.
The mapping of each mode is tested in tests/data/test_images.py."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from modeling import image_decoding
from modeling.data import images
from modeling.image_decoding import CORRUPT, NOT_CONVERTIBLE, ImageDecodingError, decode_rgb, from_pil
from modeling.utils.errors import ImageNet3DError
from tests.data.test_images import CASES, _as_file, exif_block, two_colour


@pytest.mark.parametrize("mode", sorted(mode for mode in CASES if CASES[mode][1]))
def test_an_open_image_converts_as_its_file_decodes(mode):
    image = CASES[mode][0]()
    data = _as_file(image)
    if data is None:  # no format keeps this mode: the in-memory image against to_rgb8
        assert np.array_equal(np.asarray(from_pil(image).image), np.asarray(images.to_rgb8(image)[0]))
        return
    decoded = decode_rgb(data)
    with Image.open(io.BytesIO(data)) as opened:  # lazily loaded, as users pass Image.open(path)
        converted = from_pil(opened)
        assert np.array_equal(np.asarray(converted.image), np.asarray(decoded.image))
        assert (converted.source, converted.scaling, converted.orientation) == (
            decoded.source, decoded.scaling, decoded.orientation)


def test_an_open_image_keeps_the_orientation_of_its_metadata():
    buffer = io.BytesIO()
    gray = two_colour().convert("L")
    sixteen = Image.fromarray(np.asarray(gray, dtype=np.uint16) * 257)
    sixteen.save(buffer, format="PNG", exif=exif_block(6))
    decoded = decode_rgb(buffer.getvalue())
    assert decoded.source == "PNG I;16" and decoded.orientation == 6 and decoded.image.size == (200, 120)
    with Image.open(io.BytesIO(buffer.getvalue())) as opened:
        upright = from_pil(opened).upright()
    assert upright.size == (120, 200)
    assert np.array_equal(np.asarray(upright), np.asarray(decoded.upright()))
    assert np.array_equal(np.asarray(upright.convert("L")), np.asarray(gray.rotate(-90, expand=True)))  # 16 bits ÷ 257
    assert from_pil(two_colour()).source == "image RGB"  # made in memory: no format


def test_the_bundle_raises_value_errors_and_the_library_image_refused():
    garbage = b"\xff\xd8\xff\xe0 not a JPEG" * 10
    with pytest.raises(ImageDecodingError) as bundle:
        decode_rgb(garbage)
    assert isinstance(bundle.value, ValueError) and not isinstance(bundle.value, ImageNet3DError)
    assert bundle.value.reason == CORRUPT and str(bundle.value).startswith(f"{CORRUPT} (")
    with pytest.raises(images.ImageRefused) as library:
        images.decode_rgb(garbage)
    assert isinstance(library.value, ImageNet3DError) and isinstance(library.value, ImageDecodingError)
    assert (library.value.reason, library.value.detail, str(library.value)) == (
        bundle.value.reason, bundle.value.detail, str(bundle.value))
    nan = Image.fromarray(np.array([[0.0, np.nan]], dtype=np.float32))
    for convert in (images.to_rgb8, from_pil):
        with pytest.raises(ImageDecodingError, match="NaN or infinite") as refused:
            convert(nan)
        assert refused.value.reason == NOT_CONVERTIBLE
        assert isinstance(refused.value, ImageNet3DError) == (convert is images.to_rgb8)


def test_a_truncated_file_opened_lazily_is_corrupt():
    buffer = io.BytesIO()
    two_colour().save(buffer, format="PNG")
    opened = Image.open(io.BytesIO(buffer.getvalue()[:200]))  # the header reads; the pixels do not
    with pytest.raises(ImageDecodingError) as refused:
        from_pil(opened)
    assert refused.value.reason == CORRUPT and " at 0x" not in refused.value.detail


def test_the_library_names_are_the_bundles():
    for name in ("DecodedImage", "CORRUPT", "NOT_CONVERTIBLE", "TRANSPOSE", "ORIENTATION_TAG", "SIXTEEN_BIT_MODES"):
        assert getattr(images, name) is getattr(image_decoding, name), name

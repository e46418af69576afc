"""The `object-pose-estimation` pipeline decodes an image as `predict` does (modeling/image_decoding.py): the same
poses for a 16-bit PNG, an RGBA PNG, a CMYK JPEG and an EXIF-rotated JPEG, and the same pixels whether the image
comes as a path, a URL, bytes, base64 text or a PIL image. (transformers' `load_image`, which the pipeline used,
clips a 16-bit image to white.)"""

from __future__ import annotations

import base64
import http.server
import io
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from transformers import pipeline
from transformers.image_utils import load_image

from modeling.llava_pose.inference import load_model, predict
from modeling.llava_pose.inference import read_image as predict_read_image
from modeling.pipeline_llava_pose import TASK, read_image, with_degrees
from tests.data.test_images import exif_block
from tests.llava_pose.test_pipeline import same_objects


def _saved(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def sixteen_bit(image: Image.Image) -> Image.Image:
    """The image as 16-bit grayscale (mode I;16), 8-bit gray v stored as v · 257 (0..65535)."""
    return Image.fromarray(np.asarray(image.convert("L"), dtype=np.uint16) * 257)


def rgba(image: Image.Image) -> Image.Image:
    """The image with an alpha ramp along x (dropped by the decoders, not applied)."""
    alpha = np.tile(np.linspace(0, 255, image.width).astype(np.uint8), (image.height, 1))
    out = image.convert("RGBA")
    out.putalpha(Image.fromarray(alpha))
    return out


# name → (suffix, the file's bytes of an image; its upright frame is the image's own)
FILES = {
    "16-bit PNG": (".png", lambda image: _saved(sixteen_bit(image), "PNG")),
    "RGBA PNG": (".png", lambda image: _saved(rgba(image), "PNG")),
    "CMYK JPEG": (".jpg", lambda image: _saved(image.convert("CMYK"), "JPEG", quality=95)),
    # stored turned a quarter to the left, with the EXIF orientation (6) that shows it upright
    "EXIF-rotated JPEG": (".jpg", lambda image: _saved(image.transpose(Image.Transpose.ROTATE_90), "JPEG",
                                                       quality=95, exif=exif_block(6))),
}


@pytest.fixture(scope="module")
def pipe(box_model_dir):
    return pipeline(TASK, model=str(box_model_dir), trust_remote_code=True, device="cpu")


@pytest.fixture(scope="module")
def model_and_processor(box_model_dir):
    return load_model(box_model_dir)


@pytest.mark.parametrize("kind", sorted(FILES))
def test_a_file_gives_the_poses_of_predict(pipe, model_and_processor, two_objects, tmp_path, kind):
    image, objects, _ = two_objects
    boxes = [obj["box"] for obj in objects]
    suffix, make = FILES[kind]
    path = tmp_path / f"photo{suffix}"
    path.write_bytes(make(image))
    seen = predict_read_image(path)
    assert seen.size == image.size  # upright: the boxes of the image apply
    want = predict(*model_and_processor, [seen], task="joint", boxes=[boxes], max_new_tokens=16)[0]
    got = pipe(str(path), boxes=boxes, max_new_tokens=16, return_text=True)
    assert got["text"] == want["text"]
    same_objects(got["objects"], [with_degrees(obj) for obj in want["objects"]])


@pytest.fixture(scope="module")
def served():
    """`(base URL, files)`: a local HTTP server answering GET /NAME with `files[NAME]` (404 for other names)."""
    files: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the name http.server calls
            body = files.get(self.path.lstrip("/"))
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):  # quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files
    server.shutdown()
    server.server_close()


def ramp(size: tuple[int, int] = (200, 120)) -> Image.Image:
    """A colour ramp (red along x, green along y): many gray levels, and any turn or flip shows."""
    y, x = np.mgrid[:size[1], :size[0]]
    red, green = 255 * x // (size[0] - 1), 255 * y // (size[1] - 1)
    return Image.fromarray(np.stack([red, green, np.full_like(red, 60)], axis=-1).astype(np.uint8))


# how the file is given → the argument made from (path, bytes)
GIVEN = {
    "path": lambda path, data: str(path),
    "Path": lambda path, data: Path(path),
    "bytes": lambda path, data: data,
    "PIL image": lambda path, data: Image.open(path),
    "base64": lambda path, data: base64.b64encode(data).decode(),
    "data URI": lambda path, data: "data:image/png;base64," + base64.encodebytes(data).decode(),  # line breaks
}


@pytest.mark.parametrize("given", [*GIVEN, "URL"])
def test_every_way_of_giving_a_file_reads_the_pixels_of_predict(served, tmp_path, given):
    """A 16-bit PNG turned by its EXIF: scaling and orientation as `predict`'s `read_image`."""
    data = _saved(sixteen_bit(ramp()), "PNG", exif=exif_block(6))
    path = tmp_path / "wide.png"
    path.write_bytes(data)
    want = np.asarray(predict_read_image(path))
    assert want.shape == (200, 120, 3) and len(np.unique(want)) > 100  # upright, and not clipped to 2 levels
    if given == "URL":
        base, files = served
        files["wide.png"] = data
        argument = f"{base}/wide.png"
    else:
        argument = GIVEN[given](path, data)
    got = read_image(argument, timeout=10)
    assert got.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(got), want)
    if given == "path":  # what the pipeline did before: load_image's convert("RGB") clips 16-bit samples to 255
        assert not np.array_equal(np.asarray(load_image(str(path))), want)


def test_unreadable_inputs_are_one_clear_value_error(served, tmp_path):
    base, _ = served
    nan = tmp_path / "nan.tiff"
    Image.fromarray(np.array([[0.0, np.nan]], dtype=np.float32)).save(nan)
    cases = {
        f"{base}/missing.png": r"image 'http://127\.0\.0\.1:\d+/missing\.png': cannot read an image from it "
                               r"\(.*404",
        "nope.png": r"image 'nope\.png': cannot read an image from it \(not a file, an http\(s\) URL nor base64",
        base64.b64encode(b"hello").decode(): "not a file, an http\\(s\\) URL nor base64 image data",
        str(nan): r"cannot read an image from it \(image not convertible to 8-bit RGB \(mode F .*NaN",
        base64.b64encode(nan.read_bytes()).decode(): r"\(image not convertible to 8-bit RGB \(mode F .*NaN",
        "data:image/png;base64," + base64.b64encode(b"hello").decode(): r"\(corrupt or truncated image \(",
    }
    for argument, message in cases.items():
        with pytest.raises(ValueError, match=message):
            read_image(argument, timeout=10)
    with pytest.raises(ValueError, match=r"images\[2\] a ndarray: cannot read an image from it \(expected a path"):
        read_image(np.zeros((4, 4, 3), dtype=np.uint8), name="images[2]")

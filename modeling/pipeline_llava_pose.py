"""The transformers pipeline of LLaVA-pose: ``pipeline("object-pose-estimation", model=DIR, trust_remote_code=True)``.

::

    from transformers import pipeline
    pipe = pipeline("object-pose-estimation", model="path/or/hub-id", trust_remote_code=True)
    pipe("photo.jpg", boxes=[[10, 20, 200, 180], [220, 40, 400, 300]])   # one object per box
    pipe("photo.jpg")                                                   # describe the whole image
    pipe(["a.jpg", "b.jpg"], boxes=[[[10, 20, 200, 180]], None], batch_size=4)
    pipe("photo.jpg", return_text=True)                                 # {"text": caption, "objects": [...]}

Each object is ``{tag, category, azimuth, elevation, theta, distance, px, py, confidence, box, degrees}``: angles in
radians ([0, 2π), bin centres), ``degrees`` the same angles in degrees (azimuth in [0, 360), elevation and θ in
(−180, 180]), px, py the object's centre in pixels of the image, ``confidence`` per angle the probability mass of
the chosen bin and its neighbours, ``box`` the box as used (clipped to the image; None without boxes). With boxes,
each box is cut into the crop the model was trained on (``box_crop.py``, through
``LlavaPoseProcessor.joint_inputs``), exactly as ``imagenet3d predict`` cuts it, the distance is the box's
estimate and the k-th box of a category is tagged CATEGORYk (``number_box_tags``); without boxes the model
describes the whole image and the distance is its own. An answer without a
``<pose6D>`` gives an object whose tag, category, angles, px, py and confidence are None.

An image (a path, a URL, base64 text, bytes or a PIL image) is decoded by ``image_decoding.py``, the decoder of
``imagenet3d predict`` and of the build, and turned upright by its EXIF orientation: the model sees the same pixels
as ``predict`` on the same file (16-bit and float samples scaled to 8 bits, where ``load_image``'s
``convert("RGB")`` would clip them).

``LlavaPoseForConditionalGeneration.save_pretrained`` writes :data:`CUSTOM_PIPELINES` into ``config.json`` and
copies this file next to the weights (the model file imports it relatively), as transformers documents for custom
pipelines on the Hub; in a process that imported ``modeling.llava_pose.registration`` the task is also registered
with ``PIPELINE_REGISTRY``.

Hub custom code: imports only torch, transformers (and its ``huggingface_hub`` for URLs), Pillow, the standard
library and its sibling files.
"""

from __future__ import annotations

import base64
import binascii
import math
import numbers
import os
import warnings
from collections.abc import Sequence
from typing import Any

from PIL import Image
from transformers.pipelines.base import ChunkPipeline

from .geometry import ANGLE_NAMES
from .image_decoding import CORRUPT, ImageDecodingError, decode_rgb, from_pil
from .processing_llava_pose import number_box_tags

TASK = "object-pose-estimation"
"""The pipeline's task name."""
CUSTOM_PIPELINES = {TASK: {"impl": "pipeline_llava_pose.ObjectPosePipeline", "pt": ["AutoModelForImageTextToText"],
                           "type": "multimodal"}}
"""What ``config.json``'s ``custom_pipelines`` holds (``Pipeline.save_pretrained`` writes the same form)."""
DEFAULT_MAX_NEW_TOKENS = 96
"""Generation limit: sized for a caption (about two objects with the built-in tokenizer); a box's answer is shorter."""


def _describe(value: Any) -> str:
    """A short name of an input for error messages (a path or URL as given; an object by its type)."""
    if isinstance(value, str):
        return repr(value if len(value) <= 120 else value[:117] + "...")
    return f"a {type(value).__name__}"


NOT_AN_IMAGE_SOURCE = "not a file, an http(s) URL nor base64 image data"
"""Why a string is not an image (what `read_image` reads from a string)."""


def _image_bytes(image: Any, timeout: float | None) -> bytes | None:
    """The file bytes of an image given as a path, a URL, base64 text or bytes (None: a PIL image). Raises
    ValueError (TypeError for another type) with the reason."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return bytes(image)
    if isinstance(image, os.PathLike):
        image = os.fspath(image)
    if isinstance(image, str):
        if image.startswith(("http://", "https://")):  # as load_image: a real protocol, not a file "http_x.png"
            from huggingface_hub.utils import httpx  # the HTTP client transformers' load_image uses

            response = httpx.get(image, timeout=timeout, follow_redirects=True)
            response.raise_for_status()
            return response.content
        if os.path.isfile(image):
            with open(image, "rb") as file:
                return file.read()
        text = image.split(",", 1)[1] if image.startswith("data:image/") else image
        try:  # as load_image: base64 text (line breaks allowed), else nothing we can read
            return base64.b64decode("".join(text.split()).encode(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(NOT_AN_IMAGE_SOURCE) from None
    if isinstance(image, Image.Image):
        return None
    raise TypeError(f"expected a path, a URL, base64 text, bytes or a PIL image, got a {type(image).__name__}")


def read_image(image: Any, timeout: float | None = None, name: str = "image") -> Image.Image:
    """An image given as a path, a URL (fetched with `timeout` seconds), base64 text (or a ``data:image/`` URI),
    bytes or a PIL image, as the upright 8-bit RGB PIL image `predict` gets from the same file.

    Decoded by ``image_decoding.py`` as ``imagenet3d predict`` and the build decode it (16-bit and float samples
    scaled to 8 bits, not clipped; alpha dropped; CMYK and palettes converted by Pillow), then turned by its EXIF
    orientation; a PIL image is converted the same way (``image_decoding.from_pil``). Anything unreadable raises
    one ValueError naming `name` and the input.
    """
    try:
        data = _image_bytes(image, timeout)
        try:
            decoded = from_pil(image) if data is None else decode_rgb(data)
        except ImageDecodingError as err:
            guessed = isinstance(image, str) and not image.startswith(("http://", "https://", "data:image/"))
            if guessed and err.reason == CORRUPT and not os.path.isfile(image):  # text that is base64 of no image
                raise ValueError(NOT_AN_IMAGE_SOURCE) from None
            raise
        return decoded.upright()
    except Exception as err:  # OSError, decoding errors, httpx errors, TypeError: one clear line
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if len(detail) > 200:
            detail = detail[:197] + "..."
        raise ValueError(f"{name} {_describe(image)}: cannot read an image from it ({detail})") from None


def box_list(boxes: Any, name: str = "boxes") -> list[Any]:
    """One image's boxes as a list: None (no box), one box (4 numbers) or a list of boxes (lists, tuples or numpy
    arrays). Anything else raises ValueError naming `name`."""
    if boxes is None:
        return []
    if hasattr(boxes, "tolist"):  # a numpy array or a tensor
        boxes = boxes.tolist()
    if isinstance(boxes, (str, bytes)) or not isinstance(boxes, Sequence):
        raise ValueError(f"{name}: expected a list of boxes [x1, y1, x2, y2] (pixels), got {boxes!r}")
    if len(boxes) == 4 and all(isinstance(v, numbers.Real) for v in boxes):
        return [boxes]
    return list(boxes)


def with_degrees(obj: dict[str, Any]) -> dict[str, Any]:
    """The object with a `degrees` entry: azimuth in [0, 360), elevation and theta in (−180, 180] (None stays)."""
    degrees = {}
    for name in ANGLE_NAMES:
        value = obj.get(name)
        if value is None:
            degrees[name] = None
            continue
        turned = math.degrees(float(value)) % 360.0
        degrees[name] = turned if name == "azimuth" or turned <= 180.0 else turned - 360.0
    return {**obj, "degrees": degrees}


def _check_boxes_for_flip(boxes: Any, name: str) -> None:
    """`test_time_flip` mirrors each box's crop, centred on its object; an image without boxes is captioned."""
    if boxes is None or (isinstance(boxes, (list, tuple)) and len(boxes) == 0):
        raise ValueError(f"test_time_flip: for boxes (each box's crop is centred on its object); {name} has none, "
                         "and a caption's objects move with the mirror")


class ObjectPosePipeline(ChunkPipeline):
    """Objects and their 6D poses in images, from a LLaVA-pose model: boxes → one object each; no box → the
    objects of the generated caption.

    Call it with an image (a path, a URL, base64 text, bytes or a PIL image, decoded as `predict` decodes it: see
    `read_image`) or a list of them, and `boxes`: for one image a list of boxes [x1, y1, x2, y2] in pixels (or one
    box), for a list of images one such list (or None) per image.
    Keywords: `return_text` (return `{"text", "objects"}` instead of the objects), `max_new_tokens`, `timeout` (for
    URLs), `test_time_flip` (boxes only: each box's pose averaged with its mirror crop's, `generate`'s
    `test_time_flip`), and the pipeline's own `batch_size` (crops and images generated together). Returns a list of
    object dicts per image (see the module docstring); a list of images gives a list of those. A box that is not four
    finite numbers, is empty or lies wholly outside its image, and an unreadable image raise ValueError naming the
    input; a box partly outside its image is clipped to it with a warning.
    """

    _load_processor = True
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = False
    _pipeline_calls_generate = False  # generate(return_poses=True) is called by _forward

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.processor is None or not hasattr(self.processor, "joint_inputs"):
            raise ValueError("the object-pose-estimation pipeline needs the model's LlavaPoseProcessor "
                             "(processor_config.json next to the weights)")
        # The pipeline's batching pads input_ids with the tokenizer's pad id on its padding side: generation needs
        # left padding.
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"

    def __call__(self, images: Any, boxes: Any = None, **kwargs: Any) -> Any:
        """Objects of `images` (one image or a list), with optional `boxes` (see the class docstring)."""
        if isinstance(images, (list, tuple)):
            if boxes is None:
                boxes = [None] * len(images)
            elif not isinstance(boxes, (list, tuple)) or len(boxes) != len(images):
                raise ValueError(f"boxes: expected one list of boxes (or None) per image, {len(images)} in all, got "
                                 f"{boxes!r}")
            if kwargs.get("test_time_flip") is True:
                for i, image_boxes in enumerate(boxes):
                    _check_boxes_for_flip(image_boxes, f"images[{i}]")
            inputs = [{"image": image, "boxes": b, "index": i} for i, (image, b) in enumerate(zip(images, boxes))]
            return super().__call__(inputs, **kwargs)
        if kwargs.get("test_time_flip") is True:
            _check_boxes_for_flip(boxes, "image")
        return super().__call__({"image": images, "boxes": boxes, "index": None}, **kwargs)

    def _sanitize_parameters(self, return_text: bool | None = None, max_new_tokens: int | None = None,
                             timeout: float | None = None, test_time_flip: bool | None = None, **kwargs: Any):
        if kwargs:
            raise ValueError(f"object-pose-estimation: unknown arguments {sorted(kwargs)}")
        preprocess = {"timeout": timeout} if timeout is not None else {}
        forward = {"max_new_tokens": max_new_tokens} if max_new_tokens is not None else {}
        if test_time_flip is not None:
            if not isinstance(test_time_flip, bool):
                raise ValueError(f"test_time_flip: expected True or False, got {test_time_flip!r}")
            forward["test_time_flip"] = test_time_flip
        postprocess = {"return_text": return_text} if return_text is not None else {}
        return preprocess, forward, postprocess

    def preprocess(self, inputs: dict[str, Any], timeout: float | None = None):
        """The model inputs of one image: one item per box (its crop and joint prompt), or one describe item."""
        index = inputs["index"]
        name = "image" if index is None else f"images[{index}]"
        prefix = "boxes" if index is None else f"boxes[{index}]"
        image = read_image(inputs["image"], timeout, name)
        boxes = box_list(inputs["boxes"], prefix)
        if not boxes:
            encoded = self.processor(images=[image], text=[self.processor.describe_prompt()], return_tensors="pt")
            yield {**encoded, "meta": {"where": None, "size": (image.height, image.width)}, "is_last": True}
            return
        items = [self.processor.joint_inputs(image, box, name=f"{prefix}[{j}]") for j, box in enumerate(boxes)]
        for j, ((crop, prompt, where), box) in enumerate(zip(items, boxes)):
            if where.clipped:
                warnings.warn(f"{prefix}[{j}] {list(box)} reaches past the image ({image.width}x{image.height} "
                              f"pixels): clipped to {list(where.box)}", stacklevel=2)
            encoded = self.processor(images=[crop], text=[prompt], return_tensors="pt")
            yield {**encoded, "meta": {"where": where, "size": where.size}, "is_last": j == len(items) - 1}

    def _forward(self, model_inputs: dict[str, Any], max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
                 test_time_flip: bool = False):
        meta, is_last = model_inputs.pop("meta"), model_inputs.pop("is_last")
        batched = isinstance(meta, list)  # batch_size > 1: the pipeline's collate gave lists
        metas = meta if batched else [meta]
        output = self.model.generate(**model_inputs, max_new_tokens=max_new_tokens, do_sample=False,
                                     return_poses=True, test_time_flip=test_time_flip)
        objects = self.processor.post_process_pose_generation(output, [m["size"] for m in metas])
        texts = self.processor.decode_answers(output)
        if batched:
            return {"objects": objects, "text": texts, "meta": metas, "is_last": is_last}
        return {"objects": objects[0], "text": texts[0], "meta": meta, "is_last": is_last}

    def postprocess(self, model_outputs: list[dict[str, Any]], return_text: bool = False):
        """One image's objects (with `degrees`), or `{"text", "objects"}` with `return_text`."""
        objects, texts = [], []
        for out in model_outputs:
            where = out["meta"]["where"]
            if where is None:
                objects.extend({**obj, "box": None} for obj in out["objects"])
            else:
                objects.append(self.processor.joint_object(out["objects"], where))
            texts.append(out["text"])
        if any(out["meta"]["where"] is not None for out in model_outputs):
            objects = number_box_tags(objects)
        objects = [with_degrees(obj) for obj in objects]
        return {"text": "\n".join(texts), "objects": objects} if return_text else objects


__all__ = ["CUSTOM_PIPELINES", "DEFAULT_MAX_NEW_TOKENS", "TASK", "ObjectPosePipeline", "box_list", "read_image",
           "with_degrees"]

"""``imagenet3d predict``: objects and their 6D poses in an image, from a LLaVA-pose folder.

Python API: :func:`load_model`, :func:`read_image` (:func:`open_image`), :func:`parse_box`, :func:`predict`. Bad
input raises :class:`~modeling.utils.errors.ImageNet3DError` naming the file or the field; the CLI prints it on one
line (exit 2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modeling.geometry import signed_angle, wrap_angle
from modeling.utils.errors import ImageNet3DError, located
from modeling.utils.model_folder import model_type_of

PREDICT_TASKS = ("describe", "joint")
"""What `predict` asks: describe (a caption with a <pose6D> per object), joint (name and pose the object in a box)."""
CAPTION_MAX_NEW_TOKENS = 96
"""`predict`'s generation limit, sized for the longer task's answer, a caption: with the tiny tokenizer a caption takes
~40 tokens per object (about two objects fit), a joint answer 11-20 (`evaluate` bounds those with
`JOINT_ANSWER_MAX_NEW_TOKENS`)."""


def load_model(model_dir: str | Path):
    """Load a LLaVA-pose folder (model + processor) with this package's classes; returns `(model, processor)`.

    The folder must hold a `config.json` with `model_type: llava_pose`, as written by `imagenet3d init-model`
    or `save_pretrained`. Elsewhere (no package installed) load it with
    `AutoModel.from_pretrained(model_dir, trust_remote_code=True)` and `AutoProcessor.from_pretrained(...)`.
    """
    from modeling import LlavaPoseConfig, LlavaPoseForConditionalGeneration, LlavaPoseProcessor

    model_dir = Path(model_dir)
    model_type_of(model_dir, (LlavaPoseConfig.model_type,), "a LLaVA-pose model",
                  "create one with `imagenet3d init-model`, or convert a stock LLaVA with "
                  "`imagenet3d init-model OUT --base PATH`")
    if not (model_dir / "processor_config.json").is_file():
        raise located(model_dir, "no processor_config.json: save the processor next to the model")
    model = LlavaPoseForConditionalGeneration.from_pretrained(model_dir)
    processor = LlavaPoseProcessor.from_pretrained(model_dir)
    model.eval()
    return model, processor


def open_image(path: str | Path):
    """Decode an image file to 8-bit RGB in its stored frame (:func:`modeling.data.images.decode_rgb`, as the build
    does); returns the :class:`~modeling.data.images.DecodedImage`. An unreadable file raises ImageNet3DError
    naming it.
    """
    from modeling.data.images import ImageRefused, decode_rgb

    path = Path(path)
    if not path.is_file():
        raise located(path, "image not found")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise located(path, f"cannot read the image: {err}") from None
    try:
        return decode_rgb(data)
    except ImageRefused as err:
        raise located(path, f"cannot read the image: {err}") from None


def read_image(path: str | Path):
    """An image file as the 8-bit RGB PIL image that :func:`predict` takes, upright; unreadable: ImageNet3DError.

    The frame is the *upright* one: the file's EXIF/XMP orientation is applied, as photo viewers, browsers and
    ``datasets`` show the photo. A box the user gives (``--box``) is measured on the photo as they see it, and the
    returned px, py and in-plane angle θ are meant to be drawn on it; the model was trained on images that are
    upright as stored (the build leaves no orientation in the dataset, so for its images both frames agree, and a
    dataset image saved to a file gives the same coordinates as its row). A phone photo stored sideways would
    otherwise reach the model lying on its side. Samples wider than 8 bits are scaled as the build scales them.
    """
    return open_image(path).upright()


def decoding_notes(decoded) -> list[str]:
    """What :func:`read_image` did to a file beyond decoding it, in words (empty when nothing): for the CLI."""
    notes = []
    if decoded.turns:
        width, height = decoded.upright().size
        notes.append(f"applied the orientation {decoded.orientation} of the file's metadata: coordinates (--box, "
                     f"px, py) are in the upright image, {width}x{height} pixels")
    elif decoded.orientation is None:
        notes.append("the file's EXIF metadata is unreadable: its pixels are used as stored, not turned")
    if decoded.scaling:
        notes.append(f"{decoded.source} scaled to 8-bit RGB ({decoded.scaling})")
    return notes


def parse_box(text: str | Sequence[float], image_size: tuple[int, int], field: str = "--box") -> tuple[float, ...]:
    """A box "x1,y1,x2,y2" (pixels) checked against an image of (height, width): x1 < x2, y1 < y2, inside."""
    if isinstance(text, str):
        try:
            values = tuple(float(v) for v in text.split(","))
        except ValueError:
            raise ImageNet3DError(f"{field}: expected four numbers x1,y1,x2,y2, got {text!r}") from None
    else:
        values = tuple(float(v) for v in text)
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ImageNet3DError(f"{field}: expected four finite numbers x1,y1,x2,y2, got {text!r}")
    x1, y1, x2, y2 = values
    height, width = image_size
    if not (x1 < x2 and y1 < y2):
        raise ImageNet3DError(f"{field}: need x1 < x2 and y1 < y2, got {text!r}")
    if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
        raise ImageNet3DError(f"{field}: box {text!r} lies outside the image ({width}x{height} pixels)")
    return values


def predict(model, processor, images: Sequence[Any], task: str = "describe",
            boxes: Sequence[Sequence[float] | None] | None = None, prompts: Sequence[str] | None = None,
            max_new_tokens: int = CAPTION_MAX_NEW_TOKENS) -> list[dict[str, Any]]:
    """Generate for a batch of PIL images; one result per image: `{"text", "objects"}`.

    `task` is "describe" (caption with 6D poses) or "joint" (name and pose the object in `boxes[i]`, pixels).
    `prompts` overrides the task's prompts; each must contain the processor's image token. Objects are dicts
    `{tag, category, azimuth, elevation, theta, distance, px, py, confidence}`, angles in radians.
    """
    import torch

    if task not in PREDICT_TASKS:
        raise ImageNet3DError(f"task: expected one of {', '.join(PREDICT_TASKS)}, got {task!r}")
    sizes = [(image.height, image.width) for image in images]
    if prompts is None:
        if task == "joint":
            if boxes is None or len(boxes) != len(images) or any(box is None for box in boxes):
                raise ImageNet3DError("box: the joint task needs one box per image (--box x1,y1,x2,y2)")
            prompts = [processor.joint_prompt(parse_box(box, size), size) for box, size in zip(boxes, sizes)]
        else:
            prompts = [processor.describe_prompt()] * len(images)
    for i, prompt in enumerate(prompts):
        if processor.image_token not in prompt:
            raise ImageNet3DError(f"prompts[{i}]: no image token {processor.image_token!r} in {prompt!r}")
    if len(prompts) != len(images):
        raise ImageNet3DError(f"prompts: {len(prompts)} prompts for {len(images)} images")
    inputs = processor(images=list(images), text=list(prompts), return_tensors="pt", padding=True)
    with torch.no_grad():
        output = model.generate(**inputs.to(model.device), max_new_tokens=max_new_tokens, do_sample=False,
                                return_poses=True)
    objects = processor.post_process_pose_generation(output, sizes)
    texts = processor.batch_decode(output.sequences[:, output.prompt_length:], skip_special_tokens=False)
    cleanup = [t for t in (processor.tokenizer.pad_token, processor.tokenizer.eos_token) if t]
    for token in cleanup:
        texts = [text.replace(token, "") for text in texts]
    return [{"text": text.strip(), "objects": found} for text, found in zip(texts, objects)]


OBJECTS_TABLE_NOTE = ("azimuth in [0°, 360°); elevation and θ in (−180°, 180°]; distance from the camera in CAD "
                      "units (the CAD models are about 1 unit across); px, py: the object centre in pixels of the "
                      "image given; conf: probability mass of the chosen bin and its two neighbours")


def format_objects_table(objects: Sequence[dict[str, Any]]) -> str:
    """Objects as a text table for people: one row per object, units in the header and a note below.

    ``objects`` are dicts as :func:`predict` returns them (angles in radians). Azimuth is shown in [0°, 360°),
    elevation and θ in (−180°, 180°] (:func:`modeling.geometry.signed_angle`).
    """
    header = (f"{'tag':<16} {'category':<16} {'azim (°)':>8} {'elev (°)':>8} {'θ (°)':>7} {'dist':>6} "
              f"{'px':>7} {'py':>7}  conf a/e/θ")
    lines = [header, "-" * len(header)]
    for obj in objects:
        conf = "/".join(f"{obj['confidence'][k]:.2f}" for k in ("azimuth", "elevation", "theta"))
        elevation, theta = (math.degrees(float(signed_angle(obj[k]))) for k in ("elevation", "theta"))
        lines.append(f"{obj['tag'] or '?':<16} {obj['category'] or '?':<16} "
                     f"{math.degrees(float(wrap_angle(obj['azimuth']))):8.1f} {elevation:8.1f} {theta:7.1f} "
                     f"{obj['distance']:6.2f} {obj['px']:7.1f} {obj['py']:7.1f}  {conf}")
    lines.append(f"({OBJECTS_TABLE_NOTE})")
    return "\n".join(lines)

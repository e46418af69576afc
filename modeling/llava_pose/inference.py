"""``imagenet3d predict``: objects and their 6D poses in an image, from a LLaVA-pose or a baseline folder.

Python API: :func:`load_model` (LLaVA-pose: a model, adapter or ``train`` output folder, or a Hub id),
:func:`load_predictor` (also the classification baseline), :func:`read_image` (:func:`open_image`),
:func:`parse_box`, :func:`predict`. A box becomes the model's input through :mod:`modeling.box_crop`, the function
the transformers pipeline (``pipeline_llava_pose.py``) uses too, so both give the same poses. Bad input raises
:class:`~modeling.utils.errors.ImageNet3DError` naming the file or the field; the CLI prints it on one line (exit 2).
"""

from __future__ import annotations

import json
import math
import numbers
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modeling.geometry import ANGLE_NAMES, signed_angle, wrap_angle
from modeling.utils.errors import ImageNet3DError, located
from modeling.utils.model_folder import MERGED_DIR, config_model_type, model_type_of
from modeling.utils.textfile import read_text

PREDICT_TASKS = ("describe", "joint")
"""What `predict` asks: describe (a caption with a <pose6D> per object), joint (name and pose the object in a box)."""
CAPTION_MAX_NEW_TOKENS = 96
"""`predict`'s generation limit, sized for the longer task's answer, a caption: with the tiny tokenizer a caption takes
~40 tokens per object (about two objects fit), a joint answer 11-20 (`evaluate` bounds those with
`JOINT_ANSWER_MAX_NEW_TOKENS`)."""


HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
"""What a Hub model id looks like ("namespace/name"): a model argument that is no local folder is tried as one."""


def model_folder(model: str | Path) -> Path:
    """The local folder of a model given as a folder or a Hub id ("namespace/name", fetched with
    ``huggingface_hub.snapshot_download``, from the cache when offline). A path that is neither raises
    ImageNet3DError naming it."""
    path = Path(model)
    if path.exists():
        return path
    if HUB_ID.match(str(model)):
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(str(model)))
        except Exception as err:  # offline, unknown repo, no access: all one line for the user
            detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise located(path, f"model folder not found, and not loadable as a Hub model id ({detail})") from None
    raise located(path, "model folder not found")


def adapter_base(adapter_dir: str | Path) -> str:
    """The base model of a LoRA adapter folder (``imagenet3d train --stage 2``): its ``adapter_config.json``'s
    ``base_model_name_or_path``, as a folder or a Hub id.

    ``train`` records the base's absolute path. A relative path (adapters written before that) is looked up from the
    working directory, then from the adapter folder and each folder above it (it was written relative to where
    ``train`` ran); an id that no folder matches is returned as a Hub id. A missing or unreadable config, or a
    recorded folder that is gone, raises ImageNet3DError naming the file and what to set.
    """
    adapter_dir = Path(adapter_dir)
    config_file = adapter_dir / "adapter_config.json"
    try:
        recorded = json.loads(read_text(config_file, byte_order_mark=False)).get("base_model_name_or_path")
    except (json.JSONDecodeError, AttributeError) as err:
        raise located(config_file, f"not a PEFT adapter config ({err})") from None
    if not isinstance(recorded, str) or not recorded:
        raise located(config_file, "a LoRA adapter whose config names no base model (base_model_name_or_path): set "
                                   "it to the base's folder or Hub id, or use a merged model (train --merge writes "
                                   f"{adapter_dir / MERGED_DIR})")
    path = Path(recorded)
    candidates = [path] if path.is_absolute() else \
        [path, adapter_dir / path, *(parent / path for parent in adapter_dir.resolve().parents)]
    for candidate in candidates:
        if (candidate / "config.json").is_file():
            return str(candidate)
    if not path.is_absolute() and HUB_ID.match(recorded):
        return recorded
    raise located(config_file, f"base_model_name_or_path: the base model {recorded!r} is not there (set it to the "
                               "base's folder or Hub id)")


def load_model(model_dir: str | Path):
    """Load a LLaVA-pose with this package's classes; returns `(model in eval mode, processor)`.

    `model_dir` is a folder or a Hub id of: a LLaVA-pose model (`config.json` with `model_type: llava_pose`, as
    `imagenet3d init-model`, `train --stage 1`, `train --merge`'s `merged/` or `save_pretrained` write it); a LoRA
    adapter folder (`train --stage 2`), loaded onto its base (:func:`adapter_base`) and merged into it; or the
    output folder of `train --stage 2 --merge`, whose `merged/` is loaded. The weights are loaded from the folder's
    absolute path, so that an adapter trained on this model records where its base is, whatever the working
    directory. Elsewhere (no package installed) load a model folder with
    `AutoModel.from_pretrained(model_dir, trust_remote_code=True)` and `AutoProcessor.from_pretrained(...)`.
    Anything else raises ImageNet3DError naming the folder or file.
    """
    from modeling import LlavaPoseConfig, LlavaPoseForConditionalGeneration, LlavaPoseProcessor

    model_dir = model_folder(model_dir)
    if not (model_dir / "config.json").is_file() and (model_dir / "adapter_config.json").is_file():
        if (model_dir / MERGED_DIR / "config.json").is_file():
            return load_model(model_dir / MERGED_DIR)
        from peft import PeftModel

        base, _ = load_model(adapter_base(model_dir))
        processor_dir = model_dir if (model_dir / "processor_config.json").is_file() else Path(base.name_or_path)
        model = PeftModel.from_pretrained(base, str(model_dir.resolve())).merge_and_unload().eval()
        return model, LlavaPoseProcessor.from_pretrained(processor_dir)
    model_type_of(model_dir, (LlavaPoseConfig.model_type,), "a LLaVA-pose model",
                  "create one with `imagenet3d init-model`, or convert a stock LLaVA with "
                  "`imagenet3d init-model OUT --base PATH`")
    if not (model_dir / "processor_config.json").is_file():
        raise located(model_dir, "no processor_config.json: save the processor next to the model")
    model = LlavaPoseForConditionalGeneration.from_pretrained(str(model_dir.resolve()))
    processor = LlavaPoseProcessor.from_pretrained(model_dir)
    model.eval()
    return model, processor


def load_predictor(model_dir: str | Path):
    """`(model, processor)` of any folder (or Hub id) :func:`predict` takes: what :func:`load_model` loads, or a
    classification baseline (`imagenet3d train-baseline`). Anything else raises ImageNet3DError naming it."""
    from modeling.baseline.model import MODEL_TYPE, load_baseline

    folder = model_folder(model_dir)
    if (folder / "config.json").is_file() and config_model_type(folder / "config.json") == MODEL_TYPE:
        return load_baseline(folder)
    return load_model(folder)


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


def parse_box(text: str | Sequence[float], image_size: tuple[int, int],
              field: str = "--box") -> tuple[tuple[float, ...], bool]:
    """A box "x1,y1,x2,y2" (or 4 numbers; pixels) checked and clipped to an image of (height, width); returns
    `(box, clipped)`.

    A box partly outside the image is clipped to it (`clipped` True: say so); one that is not four finite numbers,
    has x2 <= x1 or y2 <= y1, or lies wholly outside the image raises ImageNet3DError naming `field`
    (:func:`modeling.box_crop.clip_box`).
    """
    from modeling.box_crop import clip_box

    if isinstance(text, str):
        try:
            text = tuple(float(v) for v in text.split(","))
        except ValueError:
            raise ImageNet3DError(f"{field}: expected four numbers x1,y1,x2,y2, got {text!r}") from None
    try:
        return clip_box(text, image_size, field)
    except ValueError as err:
        raise ImageNet3DError(str(err)) from None


def clipping_note(field: str, given: Sequence[float], box: Sequence[float], image_size: tuple[int, int]) -> str:
    """The note said when a box was clipped to its image: which box, as given and as used."""
    height, width = image_size
    return (f"{field} ({', '.join(f'{v:g}' for v in given)}) reaches past the image ({width}x{height} pixels): "
            f"clipped to ({', '.join(f'{v:g}' for v in box)})")


def image_boxes(boxes: Sequence[Any] | None, count: int) -> list[list[Sequence[float]]]:
    """`predict`'s `boxes` as one list of boxes per image: each entry is a list of boxes or one box (4 numbers).
    None gives no box for any image; a count other than one entry per image raises ImageNet3DError."""
    if boxes is None:
        return [[] for _ in range(count)]
    if len(boxes) != count:
        raise ImageNet3DError(f"boxes: {len(boxes)} entries for {count} images (one list of boxes per image)")
    out = []
    for entry in boxes:
        if entry is None:
            out.append([])
        elif len(entry) == 4 and all(isinstance(v, numbers.Real) for v in entry):
            out.append([entry])
        else:
            out.append(list(entry))
    return out


def is_baseline(model: Any) -> bool:
    """Whether `model` is a classification baseline (`PoseClassifier`) rather than a LLaVA-pose."""
    from modeling.baseline.model import MODEL_TYPE

    return getattr(model.config, "model_type", None) == MODEL_TYPE


def predict(model, processor, images: Sequence[Any], task: str = "describe", boxes: Sequence[Any] | None = None,
            prompts: Sequence[str] | None = None, max_new_tokens: int = CAPTION_MAX_NEW_TOKENS,
            test_time_flip: bool = False) -> list[dict[str, Any]]:
    """Objects and their poses in a batch of PIL images; one result per image: `{"text", "objects"}`.

    `task` "joint" names and poses the object in each box of `boxes[i]` (a list of boxes (x1, y1, x2, y2) in pixels
    of image i, or one box): each box is clipped to its image (with a warning) and cut into the crop the model was
    trained on (`processor.joint_inputs`, :mod:`modeling.box_crop`), one object per box, in order. `task`
    "describe" (no boxes) generates a caption with a `<pose6D>` per object on the whole image. A classification
    baseline (`PoseClassifier`, from :func:`load_predictor`) takes the same arguments: it names and poses the
    object of each box, or of the whole image with no box; its `text` is empty.

    Objects are dicts `{tag, category, azimuth, elevation, theta, distance, px, py, confidence, box}`: angles in
    radians (bin centres, [0, 2π)); px, py the object centre in pixels of the image given; `box` the box as used
    (clipped; None in the describe task); `confidence` the per-angle probability mass of the argmax bin and its
    neighbours. For a box, `distance` is the box's estimate (:attr:`modeling.box_crop.BoxCrop.distance`); in the
    describe task, the model's. A joint answer without `<pose6D>` gives an object with None in place of its tag,
    category, angles, px, py and confidence. The baseline predicts no centre: its px, py are the box's centre.
    `text` is the generated text (the joint answers, one line per box).

    `prompts` (LLaVA-pose only) replaces the task: the images are given to the model as they are (no crop), with
    these prompts, each holding the processor's image token (`evaluate` does this with dataset crops); objects then
    have `box` None.

    `test_time_flip` (the joint task, `prompts`, or the baseline) averages each pose with the pose read from the
    mirror image of its crop (`LlavaPoseForConditionalGeneration.generate`'s and
    :func:`modeling.baseline.model.predict_output`'s `test_time_flip`); the baseline averages its category too.
    Bad input raises ImageNet3DError naming the argument.
    """
    from modeling.processing_llava_pose import number_box_tags

    if task not in PREDICT_TASKS:
        raise ImageNet3DError(f"task: expected one of {', '.join(PREDICT_TASKS)}, got {task!r}")
    if not isinstance(test_time_flip, bool):
        raise ImageNet3DError(f"test_time_flip: expected True or False, got {test_time_flip!r}")
    images = list(images)
    per_image = image_boxes(boxes, len(images))
    if task == "joint" and prompts is None and not all(per_image):
        raise ImageNet3DError("boxes: the joint task needs at least one box per image (--box x1,y1,x2,y2)")
    if task == "describe" and any(per_image) and not is_baseline(model):
        raise ImageNet3DError("boxes: only the joint task takes boxes")
    if is_baseline(model):
        if prompts is not None:
            raise ImageNet3DError("prompts: the classification baseline takes no prompt")
        return _predict_baseline(model, processor, images, per_image, test_time_flip)
    if test_time_flip and task == "describe" and prompts is None:
        raise ImageNet3DError("test_time_flip (--test-time-flip): for the joint task's crops, centred on their "
                              "object: give a box (--box x1,y1,x2,y2); a caption's objects move with the mirror")
    if prompts is not None:
        prompts = list(prompts)
        if len(prompts) != len(images):
            raise ImageNet3DError(f"prompts: {len(prompts)} prompts for {len(images)} images")
        for i, prompt in enumerate(prompts):
            if processor.image_token not in prompt:
                raise ImageNet3DError(f"prompts[{i}]: no image token {processor.image_token!r} in {prompt!r}")
        texts, objects = generate_objects(model, processor, images, prompts, max_new_tokens, test_time_flip)
        return [{"text": text, "objects": [{**obj, "box": None} for obj in found]}
                for text, found in zip(texts, objects)]
    if task == "describe":
        texts, objects = generate_objects(model, processor, images, [processor.describe_prompt()] * len(images),
                                          max_new_tokens)
        return [{"text": text, "objects": [{**obj, "box": None} for obj in found]}
                for text, found in zip(texts, objects)]
    owners, cuts = _cut_boxes(images, per_image, processor.joint_inputs, stacklevel=3)
    crops, crop_prompts, places = ([cut[k] for cut in cuts] for k in range(3))
    texts, objects = generate_objects(model, processor, crops, crop_prompts, max_new_tokens, test_time_flip)
    results = [{"text": [], "objects": []} for _ in images]
    for owner, text, found, where in zip(owners, texts, objects, places):
        results[owner]["text"].append(text)
        results[owner]["objects"].append(processor.joint_object(found, where))
    return [{"text": "\n".join(result["text"]), "objects": number_box_tags(result["objects"])} for result in results]


def generate_objects(model, processor, images: Sequence[Any], prompts: Sequence[str],
                     max_new_tokens: int = CAPTION_MAX_NEW_TOKENS,
                     test_time_flip: bool = False) -> tuple[list[str], list[list[dict[str, Any]]]]:
    """One greedy generation over the batch (left-padded): `(texts, objects)`, per image the generated text
    (padding and EOS removed) and the objects of `processor.post_process_pose_generation` (in the frame of the
    image given); `test_time_flip` as `model.generate`'s."""
    import torch

    if not images:
        return [], []
    sizes = [(image.height, image.width) for image in images]
    inputs = processor(images=list(images), text=list(prompts), return_tensors="pt", padding=True)
    with torch.no_grad():
        output = model.generate(**inputs.to(model.device), max_new_tokens=max_new_tokens, do_sample=False,
                                return_poses=True, test_time_flip=test_time_flip)
    return processor.decode_answers(output), processor.post_process_pose_generation(output, sizes)


def _cut_boxes(images: Sequence[Any], per_image: Sequence[Sequence], cut, stacklevel: int) -> tuple[list[int], list]:
    """Each box of each image through `cut(image, box, name=...)` (:func:`modeling.box_crop.box_crop` or the
    processor's `joint_inputs`, whose result ends with the crop's placement): `(owners, cuts)`, `owners[k]` the index
    of the image of `cuts[k]`. A box partly outside its image is clipped with a warning naming it (`stacklevel`: the
    caller's caller sees it); a box `cut` refuses raises ImageNet3DError naming `boxes[i][j]`."""
    owners, cuts = [], []
    for i, (image, boxes) in enumerate(zip(images, per_image)):
        for j, box in enumerate(boxes):
            name = f"boxes[{i}][{j}]"
            try:
                result = cut(image, box, name=name)
            except ValueError as err:
                raise ImageNet3DError(str(err)) from None
            where = result[-1]
            if where.clipped:
                warnings.warn(clipping_note(name, box, where.box, (image.height, image.width)), stacklevel=stacklevel)
            owners.append(i)
            cuts.append(result)
    return owners, cuts


def _predict_baseline(model, processor, images: list, per_image: list[list],
                      test_time_flip: bool = False) -> list[dict[str, Any]]:
    """:func:`predict` for a classification baseline: each box's crop (the whole image without a box) classified."""
    from modeling.baseline.model import decode, pixel_values, predict_output
    from modeling.box_crop import box_crop, object_in_image
    from modeling.processing_llava_pose import number_box_tags

    whole = [boxes or [(0, 0, image.width, image.height)] for image, boxes in zip(images, per_image)]
    owners, cuts = _cut_boxes(images, whole, box_crop, stacklevel=4)
    crops, places = ([cut[k] for cut in cuts] for k in range(2))
    output = predict_output(model, pixel_values(processor, crops).to(model.device), test_time_flip)
    names = [model.config.id2label[k] for k in range(model.config.num_categories)]
    results: list[dict[str, Any]] = [{"text": "", "objects": []} for _ in images]
    for owner, prediction, where in zip(owners, decode(output, names), places):
        x1, y1, x2, y2 = where.box
        obj = {"tag": None, "category": prediction["category"],
               **{name: prediction[name] for name in ANGLE_NAMES}, "distance": None,
               "px": (x1 + x2) / 2 - where.left, "py": (y1 + y2) / 2 - where.top,
               "confidence": prediction["confidence"]}
        results[owner]["objects"].append(object_in_image(obj, where))
    return [{**result, "objects": number_box_tags(result["objects"])} for result in results]


OBJECTS_TABLE_NOTE = ("azimuth in [0°, 360°); elevation and θ in (−180°, 180°]; distance from the camera in CAD "
                      "units (the CAD models are about 1 unit across; for a box, estimated from its size); px, py: "
                      "the object centre in pixels of the image given; conf: probability mass of the chosen bin and "
                      "its two neighbours; -: the model wrote no pose for that box")


def _number(value: Any, width: int, digits: int = 1, degrees: bool = False, signed: bool = False) -> str:
    if value is None:
        return f"{'-':>{width}}"
    if degrees:
        value = math.degrees(float(signed_angle(value) if signed else wrap_angle(value)))
    return f"{float(value):{width}.{digits}f}"


def format_objects_table(objects: Sequence[dict[str, Any]]) -> str:
    """Objects as a text table for people: one row per object, units in the header and a note below.

    ``objects`` are dicts as :func:`predict` returns them (angles in radians; None where a joint answer had no
    pose). Azimuth is shown in [0°, 360°), elevation and θ in (−180°, 180°] (:func:`modeling.geometry.signed_angle`).
    """
    header = (f"{'tag':<16} {'category':<16} {'azim (°)':>8} {'elev (°)':>8} {'θ (°)':>7} {'dist':>6} "
              f"{'px':>7} {'py':>7}  conf a/e/θ")
    lines = [header, "-" * len(header)]
    for obj in objects:
        confidence = obj.get("confidence")
        conf = "/".join(f"{confidence[k]:.2f}" for k in ANGLE_NAMES) if confidence else "-"
        angles = (_number(obj["azimuth"], 8, degrees=True), _number(obj["elevation"], 8, degrees=True, signed=True),
                  _number(obj["theta"], 7, degrees=True, signed=True))
        lines.append(f"{obj['tag'] or '?':<16} {obj['category'] or '?':<16} {' '.join(angles)} "
                     f"{_number(obj['distance'], 6, 2)} {_number(obj['px'], 7)} {_number(obj['py'], 7)}  {conf}")
    lines.append(f"({OBJECTS_TABLE_NOTE})")
    return "\n".join(lines)

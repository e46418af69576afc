"""What the Space (``space/app.py``) shows, as plain Python values: no Gradio here.

The app is the user interface; everything it computes lives here so that tests, the notebook and the app share it:
the model named by ``IMAGENET3D_MODEL`` (:func:`model_source`, :func:`load_space_model`), the boxes typed as lines
``x1,y1,x2,y2`` (:func:`parse_boxes`), one run on an image (:func:`analyse`: the objects, the image with their poses
drawn, the table rows, the generated text), the table (:func:`table_rows`, with the note of
:func:`symmetry_note` when the azimuth confidence is low) and the sample validation images
(:func:`write_sample_images`, made by the synthetic generator).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modeling.utils.errors import ImageNet3DError

MODEL_ENV = "IMAGENET3D_MODEL"
"""The environment variable naming the Space's model: a local folder or a Hub model id."""
CAD_ENV = "IMAGENET3D_CAD"
"""The environment variable naming the CAD models drawn as wireframes: a release (folder or zip) or a built dataset
with the ``cad`` config; unset: the synthetic release's procedural models."""
DEMO_MODEL_DIR = "demo_output/models/llava_pose/merged"
"""Where ``make demo`` (``imagenet3d demo``) leaves the trained LLaVA-pose, merged."""
NO_MODEL_MESSAGE = (
    f"No model is set. Set the environment variable `{MODEL_ENV}` to a LLaVA-pose folder or a Hub model id and "
    f"restart, e.g. `make demo` (about 20 min on 2 CPU cores) then `{MODEL_ENV}={DEMO_MODEL_DIR} python "
    f"space/app.py`, or `imagenet3d space --model {DEMO_MODEL_DIR}`.")

SYMMETRY_AZIMUTH_CONFIDENCE = 0.2
"""Below this azimuth confidence (probability mass of the argmax bin and its two neighbours, 0..1; 0.075 when the
azimuth is uniform) the table says the object may be rotationally symmetric. Measured on the synthetic validation
objects (README, "The Space"): it flags 40 of 48 bottles and 101 of 453 other objects."""
TABLE_HEADERS = ("object", "category", "azimuth (°)", "elevation (°)", "θ (°)", "distance", "conf. azimuth",
                 "conf. elevation", "conf. θ", "note")
"""The columns of :func:`table_rows`: angles in degrees, distance in CAD units, confidences in 0..1."""
TASK_DESCRIBE = "describe"
TASK_BOXES = "boxes"


def model_source(explicit: str | os.PathLike | None = None) -> str | None:
    """The model to load: ``explicit`` when given, else ``$IMAGENET3D_MODEL``; None when neither is set (blank
    counts as unset)."""
    value = str(explicit) if explicit is not None else os.environ.get(MODEL_ENV, "")
    return value.strip() or None


def load_space_model(source: str):
    """``(model, processor)`` on CPU in eval mode from a folder or a Hub id (``org/name``; offline: from the cache
    only): a LLaVA-pose (merged, an adapter or a ``train`` output folder) or a classification baseline, as
    :func:`modeling.llava_pose.inference.load_predictor` loads them. Anything else raises ImageNet3DError naming it.
    """
    from modeling.llava_pose.inference import load_predictor

    return load_predictor(source)


def parse_boxes(text: str | None, image_size: tuple[int, int]) -> tuple[list[tuple[float, ...]], list[str]]:
    """Boxes typed one per line as ``x1,y1,x2,y2`` (pixels; spaces allowed, blank lines skipped) for an image of
    (height, width), and the notes said about them: a box reaching past the image is clipped to it, with a note. An
    empty text gives no boxes. A bad line raises ImageNet3DError naming it (``boxes, line 2: ...``)."""
    from modeling.llava_pose.inference import clipping_note, parse_box

    boxes, notes = [], []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip().replace(" ", "")
        if not line:
            continue
        field = f"boxes, line {number}"
        box, clipped = parse_box(line, image_size, field=field)
        if clipped:
            notes.append(clipping_note(field, [float(v) for v in line.split(",")], box, image_size))
        boxes.append(tuple(box))
    return boxes, notes


def read_photo(path: str | os.PathLike | None):
    """An uploaded file as ``(image, notes)``: the upright 8-bit RGB PIL image that ``predict`` takes (the file's
    EXIF orientation applied, as the user sees it) and what was done to it, in words. No file or an unreadable one:
    ImageNet3DError naming it."""
    from modeling.llava_pose.inference import decoding_notes, open_image

    if path is None:
        raise ImageNet3DError("image: upload a photo or pick a sample first")
    decoded = open_image(path)
    return decoded.upright(), decoding_notes(decoded)


def symmetry_note(obj: dict[str, Any], threshold: float = SYMMETRY_AZIMUTH_CONFIDENCE) -> str:
    """A note for an object whose azimuth confidence is under ``threshold``: it may be rotationally symmetric (a
    bottle), so its azimuth says little; for an answer without ``<pose6D>``, that it has no pose; empty otherwise."""
    confidence = (obj.get("confidence") or {}).get("azimuth")
    if confidence is None:
        return "no pose: the answer has no <pose6D>"
    if confidence < threshold:
        return (f"azimuth uncertain (confidence {confidence:.2f} < {threshold:.2f}): the object may be "
                f"rotationally symmetric")
    return ""


def _rounded(value: float | None, digits: int) -> float | str:
    return NO_VALUE if value is None else round(float(value), digits)


NO_VALUE = "—"
"""What the table shows for a value the model did not give (an answer without ``<pose6D>``)."""


def table_rows(objects: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """One row per object, in the columns of :data:`TABLE_HEADERS`: angles in degrees (azimuth in [0, 360),
    elevation and θ in (−180, 180], as the pipeline's ``degrees``), rounded to 0.1; distance and confidences to
    0.01; :data:`NO_VALUE` where the model gave none. ``objects`` are dicts as ``predict`` returns them (radians).
    """
    from modeling.pipeline_llava_pose import with_degrees

    rows = []
    for obj in objects:
        angles = with_degrees(obj)["degrees"]
        confidence = obj.get("confidence") or {}
        rows.append([obj.get("tag") or "?", obj.get("category") or "?",
                     *(_rounded(angles[k], 1) for k in ("azimuth", "elevation", "theta")),
                     _rounded(obj.get("distance"), 2),
                     *(_rounded(confidence.get(k), 2) for k in ("azimuth", "elevation", "theta")),
                     symmetry_note(obj)])
    return rows


@dataclass
class Analysis:
    """One run of the Space on an image: ``objects`` (dicts, radians), ``overlay`` (the PIL image with the poses
    drawn), ``rows`` (:func:`table_rows`), ``text`` (the generated text: the caption, or one answer per box) and
    ``notes`` (what was done to the input, in words)."""

    objects: list[dict[str, Any]]
    overlay: Any
    rows: list[list[Any]]
    text: str
    notes: list[str] = field(default_factory=list)


def cad_meshes(source: str | os.PathLike | None = None) -> dict:
    """The CAD meshes to draw as wireframes, keyed as :func:`modeling.visualization.load_cad_meshes` keys them:
    from ``source`` (or ``$IMAGENET3D_CAD``: a release or a built dataset with the ``cad`` config), else the
    synthetic release's procedural models (:func:`modeling.visualization.synthetic_meshes`). An object of a
    category without a mesh is drawn as its 3D axes. A bad source raises ImageNet3DError naming it."""
    from modeling.visualization import load_cad_meshes, synthetic_meshes

    source = source if source is not None else (os.environ.get(CAD_ENV, "").strip() or None)
    return load_cad_meshes(source) if source is not None else synthetic_meshes()


def analyse(model, processor, image, boxes_text: str | None = None, task: str = TASK_DESCRIBE,
            meshes: dict | None = None, test_time_flip: bool = False) -> Analysis:
    """Run the model on a PIL image: ``task="describe"`` captions the whole image and finds its objects from the
    caption; ``task="boxes"`` names and poses the object in each box of ``boxes_text`` (:func:`parse_boxes`), with
    ``test_time_flip`` each box's pose averaged with its mirror crop's (``predict``'s; a caption ignores it, with a
    note). The overlay is :func:`modeling.visualization.draw_poses` of the objects: each one's CAD wireframe when
    ``meshes`` (:func:`cad_meshes`) has its category, else its 3D axes.

    Errors (ImageNet3DError): no image, an unknown task, the boxes task without a box, a bad box line.
    """
    from modeling.llava_pose.inference import predict
    from modeling.visualization import draw_poses

    if image is None:
        raise ImageNet3DError("image: upload a photo or pick a sample first")
    image = image.convert("RGB")
    size = (image.height, image.width)
    boxes, notes = parse_boxes(boxes_text, size)
    if task == TASK_DESCRIBE:
        result = predict(model, processor, [image], task="describe")[0]
    elif task == TASK_BOXES:
        if not boxes:
            raise ImageNet3DError("boxes: type one box per line as x1,y1,x2,y2, or describe the whole image")
        result = predict(model, processor, [image], task="joint", boxes=[boxes], test_time_flip=test_time_flip)[0]
        if test_time_flip:
            notes.append("each box's pose is the mean of its crop's and its mirror image's")
    else:
        raise ImageNet3DError(f"task: expected {TASK_DESCRIBE!r} or {TASK_BOXES!r}, got {task!r}")
    objects, text = result["objects"], result["text"]
    if not objects:
        notes.append("the model wrote no <pose6D>: no object found")
    if task == TASK_DESCRIBE and boxes:
        notes.append("the boxes are not used when describing the whole image: choose the objects in the boxes")
    if task == TASK_DESCRIBE and test_time_flip:
        notes.append("mirroring is for the objects in the boxes: the caption reads the image once")
    return Analysis(objects=objects, overlay=draw_poses(image, objects, meshes=meshes), rows=table_rows(objects),
                    text=text, notes=notes)


@dataclass(frozen=True)
class Sample:
    """A sample validation image written by :func:`write_sample_images`: its file, category and the annotated
    objects' boxes as the Space's box lines."""

    path: Path
    category: str
    boxes_text: str


SAMPLE_IMAGES: tuple[tuple[str, int], ...] = (("aeroplane", 7), ("bottle", 42), ("laptop", 32), ("bus", 47))
"""(category, image index) of the samples: validation images of ``make demo``'s synthetic release (seed 0, 540
images per known category), so that the demo's model never trained on them; none carries a generator quirk."""


def write_sample_images(folder: str | Path, samples: Sequence[tuple[str, int]] = SAMPLE_IMAGES,
                        seed: int = 0) -> list[Sample]:
    """Write the sample images into ``folder`` as JPEG (``<category>_<image id>.jpg``; the synthetic generator, so
    the same bytes every time) and return them with their objects' boxes; existing files are kept."""
    from PIL import Image

    from modeling.synthetic.generator import synthesize_image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for category, index in samples:
        synthetic = synthesize_image(category, index, seed=seed)
        path = folder / f"{category}_{synthetic.image_id}.jpg"
        if not path.is_file():  # written beside, then renamed: a second app starting at once reads whole files
            partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
            Image.fromarray(synthetic.image).save(partial, format="JPEG", quality=90)
            os.replace(partial, path)
        lines = [",".join(str(int(round(float(v)))) for v in annotation["bbox"])
                 for annotation in synthetic.annotations]
        written.append(Sample(path=path, category=category, boxes_text="\n".join(lines)))
    return written


__all__ = ["Analysis", "CAD_ENV", "DEMO_MODEL_DIR", "MODEL_ENV", "NO_MODEL_MESSAGE", "NO_VALUE", "SAMPLE_IMAGES",
           "SYMMETRY_AZIMUTH_CONFIDENCE", "Sample", "TABLE_HEADERS", "TASK_BOXES", "TASK_DESCRIBE", "analyse",
           "cad_meshes", "load_space_model", "model_source", "parse_boxes", "read_photo", "symmetry_note",
           "table_rows", "write_sample_images"]

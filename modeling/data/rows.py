"""From the release to rows: one image at a time, decoded once, to its ``image`` row and its ``pose`` rows.

Both ways of building the dataset use this module: ``imagenet3d build`` (Parquet shards, see
:mod:`modeling.data.build`) and the ``datasets`` builder in ``imagenet3d.py``. Rows are plain dicts
whose keys are the features of ``imagenet3d.py``; images are ``{"bytes": ..., "path": None}``.

Bad input never stops a default build and is never dropped silently: :class:`BuildReport` counts
every skip with its reason, file and field (with ``strict`` the first one raises an
:class:`~modeling.utils.errors.ImageNet3DError` naming the file and the field). Objects removed by the
official filter are counted by reason too, and objects kept with an oddity the filter does not judge (a
box past the border...) are counted and listed by flag (:data:`~modeling.data.objects.FLAGS`).
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from dataset_card import CATEGORIES, META_CLASS_OF
from modeling.data.captions import PROMPT, CaptionError, CaptionObject, check_caption, template_caption
from modeling.data.crop import DEFAULT_CROP_SIZE, crop_pixels, enlarges, official_crop_geometry
from modeling.data.images import (
    ImageRefused,
    decode_jpeg_bgr,
    decode_rgb,
    jpeg_frame,
    kept_jpeg_bytes,
    stored_bytes,
)
from modeling.data.objects import (
    ObjectCheck,
    as_bbox,
    as_float,
    as_numbers,
    check_object,
    object_flags,
    wrapped,
)
from modeling.data.off import MalformedOffError, parse_off
from modeling.data.release import (
    MAX_IMAGE_PIXELS,
    SPLITS,
    Release,
    UnreadableFileError,
    UnsafePickleError,
    image_too_large,
    is_safe_id,
    load_annotations,
)
from modeling.geometry import angle_to_bin
from modeling.utils.errors import ImageNet3DError, located

SPLIT_NAMES = {"train": "train", "val": "validation"}
"""Official split name → Hugging Face split name."""
CROP_JPEG_QUALITY = 75
"""The official preprocessing saves crops with Pillow's default JPEG quality, 75."""


@dataclass(frozen=True)
class BuildOptions:
    """What to make from each image; picklable, sent to worker processes."""

    crop_size: int = DEFAULT_CROP_SIZE
    jpeg_quality: int = CROP_JPEG_QUALITY
    strict: bool = False
    pose: bool = True
    image: bool = True
    imported_captions: str | None = None
    """Name of the ``--captions`` file when captions are imported (None: template captions)."""


@dataclass
class BuildReport:
    """Counts of a build: skips (bad input) with file and field, the official filter, flags, conversions, totals.

    ``where`` turns a release-relative path into the path shown in strict-mode errors; it is not
    pickled (worker processes set their own).
    """

    strict: bool = False
    skips: list[dict] = field(default_factory=list)
    filtered: Counter = field(default_factory=Counter)
    flagged: Counter = field(default_factory=Counter)
    flags: list[dict] = field(default_factory=list)
    converted: list[dict] = field(default_factory=list)
    totals: Counter = field(default_factory=Counter)
    where: Callable[[str], str] | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "where": None}

    def skip(self, reason: str, file: str, field: str | None = None, detail: str | None = None) -> None:
        """Record a skip, or raise it in strict mode."""
        if self.strict:
            message = f"{field}: {reason}" if field else reason
            raise located(self.where(file) if self.where else file, f"{message}{f' ({detail})' if detail else ''}")
        entry = {"reason": reason, "file": file, "field": field}
        if detail:
            entry["detail"] = detail
        self.skips.append(entry)

    def flag(self, split: str, flags: tuple[str, ...], file: str, field: str) -> None:
        """Count and list an object kept with flags (never an error, also with ``strict``: nothing is dropped)."""
        for name in flags:
            self.flagged[f"{split}/{name}"] += 1
            self.flags.append({"flag": name, "file": file, "field": field})

    def merge(self, other: BuildReport) -> None:
        """Add another unit's report to this one (skips, filter counts, flags, conversions, totals)."""
        self.skips.extend(other.skips)
        self.filtered.update(other.filtered)
        self.flagged.update(other.flagged)
        self.flags.extend(other.flags)
        self.converted.extend(other.converted)
        self.totals.update(other.totals)


@dataclass
class ImageResult:
    """The rows made from one listed image."""

    image_row: dict | None
    pose_rows: list[dict]


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return None


def _integer(value: object) -> int | None:
    number = as_float(value)
    return int(number) if number is not None and math.isfinite(number) and number == int(number) else None


def raw_object(obj: object, index: int, object_id: str, check: ObjectCheck, flags: tuple[str, ...] = ()) -> dict:
    """An object of the ``image`` config: every official key (None when absent), angles wrapped, its flags.

    ``bbox`` holds the numbers as found (any count, NaN kept), so that a flagged box is not lost.
    """
    get = obj.get if isinstance(obj, dict) else (lambda key: None)
    principal = get("principal")
    principal_values = None
    if principal is not None and not isinstance(principal, (str, bytes)):
        try:
            principal_values = [float(v) for v in list(principal)[:2]]
        except (TypeError, ValueError):
            principal_values = None
    return {
        "index": index, "object_id": object_id, "passes_filter": check.passes, "skip_reason": check.reason,
        "flags": list(flags),
        **{name: wrapped(get(name)) for name in ("azimuth", "elevation", "theta")},
        **{name: as_float(get(name)) for name in ("distance", "px", "py", "focal", "viewport")},
        "principal": principal_values, "bbox": as_numbers(get("bbox")), "class": _text(get("class")),
        "cad_index": _integer(get("cad_index")), "object_status": _text(get("object_status")),
        "dense": _text(get("dense")), "ignore": as_float(get("ignore")),
        "height": _integer(get("height")), "width": _integer(get("width")),
    }


class ImagePixels:
    """An image's pixels as its crops need them: ``bgr``, the (H, W, 3) uint8 array in BGR order (OpenCV resamples
    enlarged windows from it and encodes their crops as they come, with no channel conversion per crop), and
    ``rgb``, the PIL RGB image (Pillow resamples shrunk windows from it). Made from either; the other is made on
    first use, once per image. ``width`` and ``height`` are in pixels.
    """

    def __init__(self, bgr: np.ndarray | None = None, rgb: Image.Image | None = None) -> None:
        if bgr is None and rgb is None:
            raise ValueError("ImagePixels needs the BGR array or the RGB image")
        self._bgr, self._rgb = bgr, rgb
        self.width, self.height = (bgr.shape[1], bgr.shape[0]) if bgr is not None else rgb.size

    @property
    def bgr(self) -> np.ndarray:
        """(H, W, 3) uint8, BGR."""
        if self._bgr is None:
            raw = self._rgb.tobytes("raw", "BGR")  # one pass: the channels reversed as Pillow copies them out
            self._bgr = np.frombuffer(raw, dtype=np.uint8).reshape(self.height, self.width, 3)
        return self._bgr

    @property
    def rgb(self) -> Image.Image:
        """The 8-bit RGB PIL image."""
        if self._rgb is None:
            self._rgb = Image.frombytes("RGB", (self.width, self.height), self._bgr.tobytes(), "raw", "BGR")
        return self._rgb


def _jpeg(image: Image.Image | np.ndarray, quality: int) -> bytes:
    """JPEG bytes of a crop: an array in BGR order (:func:`~modeling.data.crop.crop_pixels` of
    :attr:`ImagePixels.bgr`) is encoded by OpenCV's libjpeg-turbo as it is (no copy into a PIL image, no channel
    conversion; its bytes decode to the pixels Pillow's encoder gives at the same quality, 4:2:0, ~1.5x faster), a
    PIL image (RGB) by Pillow."""
    if isinstance(image, np.ndarray):
        import cv2

        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:
            return encoded.tobytes()
        image = Image.fromarray(np.ascontiguousarray(image[..., ::-1]))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def pose_row(image: ImagePixels, obj: dict, category: str, image_id: str, index: int,
             options: BuildOptions, flags: tuple[str, ...] = ()) -> dict:
    """The ``pose`` row of an object that passed :func:`~modeling.data.objects.check_object`: crop and every field.

    ``image`` is the decoded image (:class:`ImagePixels`): an enlarged window is resampled from its BGR array and
    encoded as it comes, a shrunk one from its RGB image.

    The box moves into the crop as the official script moves it, unclipped (it may reach past the crop); a box
    that is not 4 numbers is None in both frames, a NaN corner stays NaN; ``flags`` says which.
    """
    distance, px, py = (as_float(obj[k]) for k in ("distance", "px", "py"))
    geometry = official_crop_geometry(image.width, image.height, px, py, distance, options.crop_size)
    crop = crop_pixels(image.bgr if enlarges(geometry, image.width, image.height) else image.rgb, geometry)
    bbox = as_bbox(obj.get("bbox"))
    bbox_in_crop = None if bbox is None else geometry.bbox_to_crop(bbox)
    angles = {name: wrapped(obj[name]) for name in ("azimuth", "elevation", "theta")}
    principal = geometry.principal
    return {
        "object_id": f"{image_id}_{index:02d}", "image_id": image_id, "object_index": index,
        "category": category, "meta_class": META_CLASS_OF[category],
        "image": {"bytes": _jpeg(crop, options.jpeg_quality), "path": None},
        **angles, **{f"{name}_bin": int(angle_to_bin(value)) for name, value in angles.items()},
        "distance": geometry.distance, "px": principal[0], "py": principal[1], "bbox": bbox_in_crop,
        "distance_original": distance, "px_original": px, "py_original": py, "bbox_original": bbox,
        "resize_rate": geometry.resize_rate, "width_original": image.width, "height_original": image.height,
        "viewport": as_float(obj.get("viewport")), "focal": as_float(obj.get("focal")),
        "cad_index": _integer(obj.get("cad_index")), "object_status": _text(obj.get("object_status")),
        "dense": _text(obj.get("dense")), "flags": list(flags),
    }


def decode_image(data: bytes, path: str, report: BuildReport,
                 store: bool = True) -> tuple[ImagePixels, bytes | None] | None:
    """The 8-bit RGB image in its stored frame (:class:`ImagePixels`) and the bytes to store, or None (a counted
    skip) when it has none.

    With ``store=False`` (a build without the ``image`` shards) the bytes to store are not made: None.

    A plain RGB JPEG (nearly every ImageNet file) is decoded by OpenCV straight into the BGR array its crops are made
    from (:func:`~modeling.data.images.decode_jpeg_bgr`: the same pixels, faster); every other file by Pillow.

    :mod:`modeling.data.images` decodes and chooses the bytes: an RGB JPEG keeps its bytes (an orientation in its
    metadata rewritten to 1); grayscale, CMYK, palette, 16-bit or a PNG named .JPEG (all in ImageNet) are stored
    as PNG of their 8-bit RGB values. Each conversion is counted; a corrupt, truncated or unconvertible file is
    a skip.
    """
    bgr = decode_jpeg_bgr(data)
    if bgr is not None:
        kept = kept_jpeg_bytes(data) if store else (None, None)
        if kept is not None:  # else: a JPEG whose orientation cannot be rewritten, stored as a PNG (below)
            stored, conversion = kept
            if conversion is not None:
                report.converted.append({"file": path, **conversion})
            return ImagePixels(bgr=bgr), stored
    try:
        decoded = decode_rgb(data)
    except ImageRefused as err:
        report.skip(err.reason, path, None, err.detail)
        return None
    if not store:
        return ImagePixels(rgb=decoded.image), None
    stored, conversion = stored_bytes(data, decoded)
    if conversion is not None:
        report.converted.append({"file": path, **conversion})
    return ImagePixels(rgb=decoded.image), stored


def _caption_objects(objects: list, checks: list[ObjectCheck], category: str) -> list[CaptionObject]:
    return [CaptionObject(index, category, *(wrapped(obj[k]) for k in ("azimuth", "elevation", "theta")),
                          *(as_float(obj[k]) for k in ("distance", "px", "py")), _text(obj.get("object_status")))
            for index, (obj, check) in enumerate(zip(objects, checks)) if check.passes]


def _caption(image_id: str, annotation_path: str, objects: list[CaptionObject], width: int,
             captions: dict[str, str] | None, options: BuildOptions, report: BuildReport,
             split: str) -> tuple[str | None, list[dict]]:
    if options.imported_captions is None:
        made = template_caption(image_id, objects, width)
        return made if made else (None, [])
    text = (captions or {}).get(image_id)
    if text is None:
        report.totals[f"{split}/images without an imported caption"] += 1
        return None, []
    try:
        return check_caption(text, objects)
    except CaptionError as err:
        report.skip(f"imported caption does not match the annotations: {err}", annotation_path, "caption",
                    options.imported_captions)
        return None, []


def iter_unit(release: Release, category: str, split: str, options: BuildOptions, report: BuildReport,
              captions: dict[str, str] | None = None) -> Iterator[ImageResult]:
    """The rows of one category's official split, in list order; skips and filter counts go to ``report``.

    ``captions`` are the imported captions of this unit's images (with ``options.imported_captions``).
    """
    list_path = release.list_path(category, split)
    hf_split = SPLIT_NAMES[split]
    try:
        entries = release.list_entries(category, split)
    except UnreadableFileError as err:
        report.skip(err.reason, list_path, None, err.detail)
        return
    if entries is None:
        report.skip("list file missing", list_path)
        return
    if not entries:
        report.skip("empty list file", list_path)
        return
    missing = [f"{top}/{category}" for top in ("images", "annotations") if not release.has_folder(f"{top}/{category}")]
    if missing:  # one skip for the folder, not one per listed image
        report.totals[f"{hf_split}/images listed"] += len(entries)
        for folder in missing:
            report.skip("category folder missing", folder, None, f"{len(entries)} image(s) of {list_path} not built")
        return
    seen: dict[str, int] = {}
    for line, image_id in entries:
        report.totals[f"{hf_split}/images listed"] += 1
        if not is_safe_id(image_id) or image_id in seen:
            if image_id in seen:
                report.skip("duplicate image id", list_path, f"line {line}",
                            f"{image_id!r}, first on line {seen[image_id]}")
            else:
                report.skip("invalid image id", list_path, f"line {line}", repr(image_id))
            continue
        seen[image_id] = line
        result = _image(release, category, image_id, hf_split, options, report, captions)
        if result is not None:
            yield result


def _read(release: Release, path: str, missing: str, report: BuildReport) -> bytes | None:
    """A file's bytes, or None after counting why not: ``missing`` when there is no such file, unreadable, empty."""
    try:
        data = release.read(path)
    except UnreadableFileError as err:
        report.skip(err.reason, path, None, err.detail)
        return None
    if data is None:
        report.skip(missing, path)
    elif not data:
        report.skip("empty file (0 bytes)", path)
        return None
    return data


def _image(release: Release, category: str, image_id: str, split: str, options: BuildOptions,
           report: BuildReport, captions: dict[str, str] | None) -> ImageResult | None:
    image_path, annotation_path = f"images/{category}/{image_id}.JPEG", f"annotations/{category}/{image_id}.npz"
    data = _read(release, image_path, "image listed but missing", report)
    if data is None:
        return None
    annotation = _read(release, annotation_path, "annotation file missing", report)
    if annotation is None:
        return None
    try:
        objects = load_annotations(annotation, annotation_path)
    except UnsafePickleError as err:
        # Never a counted skip: a pickle naming code to run means the release was tampered with.
        raise UnsafePickleError(f"{release.where(annotation_path)}: {str(err).split(': ', 1)[-1]}") from None
    except ImageNet3DError as err:
        report.skip("corrupt annotation file", annotation_path, "annotations", str(err).split(": ", 1)[-1])
        return None
    frame = jpeg_frame(data)  # a plain RGB JPEG's size, from its frame header (no need to open it with Pillow)
    small = frame is not None and frame[0] * frame[1] <= min(MAX_IMAGE_PIXELS, Image.MAX_IMAGE_PIXELS or math.inf)
    too_large = None if small else image_too_large(data)  # from the header: a decompression bomb is never allocated
    if too_large:
        report.skip("image too large", image_path, None, too_large)
        return None
    decoded = decode_image(data, image_path, report, store=options.image)
    if decoded is None:
        return None
    image, stored = decoded
    report.totals[f"{split}/images"] += 1
    report.totals[f"{split}/objects"] += len(objects)
    checks, raw, rows = [], [], []
    for index, obj in enumerate(objects):
        check, flags = check_object(obj), object_flags(obj, image.width, image.height)
        checks.append(check)
        if check.bad_input:
            report.skip(check.reason, annotation_path, f"annotations[{index}]" + (f".{check.field}" if check.field
                                                                                 else ""))
        elif not check.passes:
            report.filtered[f"{split}/{check.reason}"] += 1
        if flags:
            report.flag(split, flags, annotation_path, f"annotations[{index}].bbox")
        if options.image:  # the objects of the image row
            raw.append(raw_object(obj, index, f"{image_id}_{index:02d}", check, flags))
        if check.passes and options.pose:
            rows.append(pose_row(image, obj, category, image_id, index, options, flags))
    report.totals[f"{split}/objects kept"] += sum(c.passes for c in checks)
    image_row = None
    if options.image:
        caption_objects = _caption_objects(objects, checks, category)
        caption, pose6d = _caption(image_id, annotation_path, caption_objects, image.width, captions, options,
                                   report, split)
        report.totals[f"{split}/images with a caption"] += caption is not None
        image_row = {
            "image_id": image_id, "category": category, "meta_class": META_CLASS_OF[category],
            "image": {"bytes": stored, "path": None}, "width": image.width, "height": image.height,
            "objects": raw, "prompt": PROMPT, "caption": caption, "pose6d": pose6d, "has_caption": caption is not None,
        }
    return ImageResult(image_row, rows)


def cad_rows(release: Release, category: str, report: BuildReport) -> list[dict]:
    """One row per CAD model of a category: vertices (N, 3) and triangular faces (M, 3), 0-based."""
    rows = []
    paths = list(release.cad_paths(category))
    if not paths:
        report.skip("no CAD models", f"CAD/{category}")
    for cad_index, path in paths:
        data = _read(release, path, "CAD model missing", report)
        if data is None:
            continue
        try:
            vertices, faces = parse_off(data, path)
        except MalformedOffError as err:
            report.skip("malformed CAD model", path, None if err.line is None else f"line {err.line}", err.problem)
            continue
        rows.append({"category": category, "cad_index": cad_index, "vertices": vertices.tolist(),
                     "faces": faces.tolist()})
    return rows


def release_categories(release: Release, report: BuildReport) -> list[str]:
    """The release's categories in the official taxonomy, sorted; other folders are counted skips."""
    known = []
    for name in release.categories():
        if name in CATEGORIES:
            known.append(name)
        else:
            folder = next((f"{top}/{name}" for top in ("images", "annotations", "CAD")
                           if name in release.subfolders(top)), f"lists/{name}_imagenet_*.txt")
            report.skip("unknown category folder", folder)
    return known


def listed_ids(release: Release, category: str, split: str) -> list[str]:
    """The ids of a list file for planning (progress, captions, unlisted images): [] when it is missing or
    unreadable, which building the unit reports."""
    try:
        return release.list_ids(category, split) or []
    except UnreadableFileError:
        return []


def unlisted_images(release: Release, category: str) -> int:
    """Images of a category that no list file names: outside both official splits, hence not built."""
    listed = set()
    for split in SPLITS:
        listed.update(listed_ids(release, category, split))
    return sum(1 for path in release.files(f"images/{category}")
               if path.rsplit("/", 1)[-1].rsplit(".", 1)[0] not in listed)

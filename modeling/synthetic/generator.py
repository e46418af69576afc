"""The synthetic release: procedural CAD models rendered into the official ImageNet3D v1 layout.

This is the project's built-in dataset (demo, tests, notebook, training smoke runs): a few
categories, each with its own procedural CAD models, rendered with the official camera model so
that every annotation agrees with its pixels, and written exactly as the official release is::

    OUT/
      images/<category>/<wnid>_<index>.JPEG
      annotations/<category>/<wnid>_<index>.npz     # key 'annotations': object array of one dict per object
      lists/<category>_imagenet_{train,val}.txt
      CAD/<category>/NN.off
      synthetic.json                                # how it was generated + the injected quirks (ours only)
      imagenet3d_v1.zip                             # only with make_zip: members imagenet3d_v1/images/..., etc.

A small fraction of objects (``quirk_rate``) carries the quirks of the real annotations: angles
outside [0, 2π), objects with only ``bbox`` and ``class``, ``distance`` 0, ``status_bad`` objects.
The output depends only on the arguments: the same arguments give byte-identical files, whatever
the number of processes.
"""

from __future__ import annotations

import dataclasses
import io
import json
import multiprocessing
import shutil
import zipfile
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from dataset_card import CATEGORIES, KNOWN_CATEGORIES
from modeling.data.release import load_annotations
from modeling.geometry import DEFAULT_VIEWPORT, TWO_PI, wrap_angle
from modeling.synthetic.meshes import (
    MESH_CATEGORIES,
    SYMMETRIC_CATEGORIES,
    build_mesh,
    num_cad_models,
    off_text,
)
from modeling.synthetic.render import (
    SceneObject,
    camera_effects,
    object_palette,
    random_background,
    render_scene,
)
from modeling.utils.errors import ImageNet3DError

DEFAULT_CATEGORIES: tuple[str, ...] = (
    "ambulance", "bed", "bench", "bottle", "bus", "camera", "car", "chair", "cup", "fire_truck", "guitar", "hammer",
    "kettle", "laptop", "power_drill", "projector", "skate", "skateboard", "sofa", "teapot", "tvmonitor", "violin",
)
"""The 22 categories of the default release: in each of the 7 meta-classes, known and novel categories of the
official open-vocabulary split built from the same aligned parts (``modeling.synthetic.parts``; the card says which,
``synthetic_categories_paragraph``). ``MESH_CATEGORIES`` also has aeroplane, hand_barrow, microwave and piano."""
DEFAULT_IMAGES_PER_CATEGORY = 50
DEFAULT_QUIRK_RATE = 0.04
QUIRKS = ("angles_unwrapped", "pose_missing", "distance_zero", "status_bad")
"""Quirks of the real annotations that the generator injects, one per affected object."""
STATUSES = ("status_good", "status_partially", "status_barely", "status_bad")
MIN_VISIBLE_PIXELS = 40
"""Objects with fewer visible pixels are not annotated (an annotator would not see them)."""
MANIFEST = "synthetic.json"
ZIP_NAME = "imagenet3d_v1.zip"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_JPEG_QUALITY = 90

# Real ImageNet-21k synsets where we know them; the rest get a fake id starting with n9 (no WordNet noun does).
_WNIDS = {
    "aeroplane": "n02691156", "ambulance": "n02701002", "bed": "n02818832", "bench": "n02828884",
    "bottle": "n02876657", "bus": "n02924116", "camera": "n02942699", "car": "n02958343", "chair": "n03001627",
    "cup": "n03147509", "fire_truck": "n03345487", "guitar": "n03467517", "hammer": "n03481172",
    "hand_barrow": "n03484083", "laptop": "n03642806", "microwave": "n03761084", "piano": "n03928116",
    "power_drill": "n03995372", "projector": "n04009552", "skateboard": "n04225987", "sofa": "n04256520",
    "teapot": "n04398044", "tvmonitor": "n03782006", "violin": "n04536866",
}

__all__ = ["DEFAULT_CATEGORIES", "QUIRKS", "SYMMETRIC_CATEGORIES", "SyntheticImage", "check_image_scale",
           "generate_release",
           "image_ids", "known_novel_counts", "summarize_release", "synthesize_image",
           "wnid"]


def wnid(category: str) -> str:
    """The WordNet id used in the image names of a category."""
    return _WNIDS.get(category) or f"n9{zlib.crc32(category.encode()) % 10_000_000:07d}"


def image_ids(category: str, count: int, seed: int = 0) -> list[str]:
    """ImageNet-style ids ``<wnid>_<index>`` with sparse increasing indices (the first ``count``)."""
    gaps = np.random.default_rng([seed, CATEGORIES.index(category), 7_919]).integers(1, 40, size=count)
    return [f"{wnid(category)}_{n}" for n in np.cumsum(gaps)]


def _is_val(index: int, count: int) -> bool:
    """About 20 % of images go to val, spread over the indices, at least one when count ≥ 2."""
    n_val = max(1 if count >= 2 else 0, round(0.2 * count))
    return index in {int((j + 0.5) * count / n_val) for j in range(n_val)}


@dataclass
class SyntheticImage:
    """One generated image with its annotations (as written) and, per annotated object, the renderer's masks."""

    category: str
    image_id: str
    image: np.ndarray
    annotations: list[dict]
    full_masks: list[np.ndarray]
    visible_masks: list[np.ndarray]
    visible_fractions: list[float]
    quirks: list[str | None] = field(default_factory=list)


def _sample_size(rng: np.random.Generator) -> tuple[int, int]:
    long_side, short_side = int(rng.integers(400, 501)), int(rng.integers(300, 376))
    return (long_side, short_side) if rng.uniform() < 0.75 else (short_side, long_side)


def _sample_objects(rng: np.random.Generator, category: str, size: tuple[int, int]) -> list[SceneObject]:
    """1–3 objects of the category with random poses, sizes and positions."""
    width, height = size
    count = int(rng.choice([1, 2, 3], p=[0.65, 0.25, 0.1]))
    objects = []
    for _ in range(count):
        cad_index = int(rng.integers(1, num_cad_models(category) + 1))
        elevation = rng.uniform(-10, 40) if rng.uniform() < 0.9 else rng.uniform(-25, 70)
        if count == 1:
            distance = rng.uniform(5.5, 11.0)
            px, py = width * rng.uniform(0.3, 0.7), height * rng.uniform(0.32, 0.68)
        else:
            distance = rng.uniform(7.0, 14.0)
            px, py = width * rng.uniform(0.12, 0.88), height * rng.uniform(0.25, 0.75)
        objects.append(SceneObject(
            mesh=build_mesh(category, cad_index), azimuth=rng.uniform(0, TWO_PI), elevation=np.deg2rad(elevation),
            theta=np.deg2rad(rng.normal(0.0, 5.0)), distance=distance, px=px, py=py, viewport=DEFAULT_VIEWPORT,
            colors=object_palette(rng)))
    return objects


def _scene(rng: np.random.Generator, category: str, image_size: tuple[int, int] | None) -> tuple[
        list[SceneObject], tuple[int, int]]:
    """The objects and the (W, H) size of an image at full resolution."""
    size = image_size or _sample_size(rng)
    return _sample_objects(rng, category, size), size


def _status(visible_fraction: float) -> str:
    """object_status from the visible fraction (the annotation guide: good means > 90 % visible)."""
    if visible_fraction >= 0.9:
        return "status_good"
    if visible_fraction >= 0.55:
        return "status_partially"
    return "status_barely" if visible_fraction >= 0.2 else "status_bad"


def _bbox(mask: np.ndarray) -> np.ndarray:
    """(x1, y1, x2, y2) of a mask, inclusive pixel indices as floats."""
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()], dtype=np.float64)


def _dense(boxes: list[np.ndarray]) -> list[str]:
    """dense_yes when another object's box covers over 10 % of the smaller of the two boxes (very close in 2D)."""
    def area(b: np.ndarray) -> float:
        return float(max(b[2] - b[0] + 1, 0) * max(b[3] - b[1] + 1, 0))

    def close(a: np.ndarray, b: np.ndarray) -> bool:
        overlap = area(np.concatenate([np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])]))
        return overlap > 0.1 * min(area(a), area(b))

    return ["dense_yes" if any(i != j and close(a, b) for j, b in enumerate(boxes)) else "dense_no"
            for i, a in enumerate(boxes)]


def _annotation(obj: SceneObject, category: str, bbox: np.ndarray, status: str, dense: str,
                size: tuple[int, int]) -> dict:
    """One object's dict with the official keys and types (angles wrapped to [0, 2π))."""
    width, height = size
    azimuth, elevation, theta = (float(wrap_angle(a)) for a in (obj.azimuth, obj.elevation, obj.theta))
    return {
        "bbox": bbox, "class": category, "azimuth": azimuth, "elevation": elevation, "theta": theta,
        "distance": float(obj.distance), "px": float(obj.px), "py": float(obj.py),
        "principal": np.array([obj.px, obj.py], dtype=np.float64), "focal": 1.0, "viewport": int(obj.viewport),
        "height": np.uint16(height), "width": np.uint16(width),
        "cad_index": _cad_index(category, obj.mesh), "object_status": status, "dense": dense,
        "ignore": int(status == "status_bad"),
    }


def _cad_index(category: str, mesh: object) -> int:
    return next(i for i in range(1, num_cad_models(category) + 1) if build_mesh(category, i) is mesh)


def _apply_quirk(rng: np.random.Generator, annotation: dict, obj: SceneObject) -> tuple[dict, str]:
    """Rewrite one annotation the way real annotations are sometimes written."""
    kind = QUIRKS[int(rng.integers(len(QUIRKS)))]
    if kind == "pose_missing":
        return {"bbox": annotation["bbox"], "class": annotation["class"]}, kind
    annotation = dict(annotation)
    if kind == "distance_zero":
        annotation.update(distance=0.0, ignore=1)
    elif kind == "status_bad":
        annotation.update(object_status="status_bad", ignore=1)
    else:
        # The annotation tool saved degrees·π/180 without wrapping: negative angles stay negative.
        options = ["azimuth"] + [name for name in ("elevation", "theta") if getattr(obj, name) < 0]
        name = options[int(rng.integers(len(options)))]
        annotation[name] = float(annotation[name] + TWO_PI if name == "azimuth" else getattr(obj, name))
    return annotation, kind


def _scaled(objects: list[SceneObject], size: tuple[int, int], scale: float) -> tuple[list[SceneObject],
                                                                                    tuple[int, int]]:
    """The scene at ``scale`` of its resolution: the image side × scale, every object 1/scale times farther (same
    viewport, so the object shrinks by scale), its centre moved with its pixel (centre x → (x + ½)·scale − ½)."""
    if scale == 1.0:
        return objects, size
    moved = [dataclasses.replace(obj, px=(obj.px + 0.5) * scale - 0.5, py=(obj.py + 0.5) * scale - 0.5,
                                 distance=obj.distance / scale) for obj in objects]
    return moved, (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))


def check_image_scale(scale: float) -> float:
    """``scale`` as a float in (0, 1]; raises ImageNet3DError naming the option otherwise."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0.0 < scale <= 1.0:
        raise ImageNet3DError(f"image_scale: expected a number in (0, 1], got {scale!r}")
    return float(scale)


def synthesize_image(category: str, index: int, seed: int = 0, image_size: tuple[int, int] | None = None,
                     quirk_rate: float = DEFAULT_QUIRK_RATE, image_scale: float = 1.0) -> SyntheticImage:
    """Generate image ``index`` (0-based) of a category; a pure function of its arguments.

    ``image_size`` is (W, H) in pixels, or None for a random ImageNet-like size. ``image_scale`` in (0, 1] renders
    the same scene (the same random draws) at that fraction of its resolution, with every object 1/image_scale
    times farther away (the viewport stays the official 2000), so that the official object-centric crops cost a
    fraction of the pixels: at 0.5, four times fewer. The annotation describes the scaled image exactly.
    """
    scale = check_image_scale(image_scale)
    rng = np.random.default_rng([seed, CATEGORIES.index(category), index])
    objects, size = _scaled(*_scene(rng, category, image_size), scale)
    background = random_background(rng, size, scale)
    light = np.array([rng.uniform(-1, 1), rng.uniform(0.1, 1.2), rng.uniform(0.6, 1.5)])
    rendered = render_scene(objects, background, light, ambient=rng.uniform(0.25, 0.5))
    image = camera_effects(rng, rendered.image, scale)
    min_pixels = MIN_VISIBLE_PIXELS * scale * scale
    keep = [k for k, mask in enumerate(rendered.visible_masks) if mask.sum() >= min_pixels]
    fractions = rendered.visible_fractions
    boxes = [_bbox(rendered.visible_masks[k]) for k in keep]
    annotations, quirks = [], []
    for k, box, dense in zip(keep, boxes, _dense(boxes)):
        annotation = _annotation(objects[k], category, box, _status(fractions[k]), dense, size)
        quirk = None
        if rng.uniform() < quirk_rate:
            annotation, quirk = _apply_quirk(rng, annotation, objects[k])
        annotations.append(annotation)
        quirks.append(quirk)
    return SyntheticImage(category, image_ids(category, index + 1, seed)[index], image, annotations,
                          [rendered.full_masks[k] for k in keep], [rendered.visible_masks[k] for k in keep],
                          [fractions[k] for k in keep], quirks)


# ---- writing ------------------------------------------------------------------------------------------------


def npz_bytes(annotations: list[dict]) -> bytes:
    """What ``np.savez(path, annotations=<object array of dicts>)`` writes, with a fixed zip timestamp.

    np.savez stamps the member with the current time, which would make releases differ run to run.
    """
    array = np.empty(len(annotations), dtype=object)
    array[:] = annotations
    payload = io.BytesIO()
    np.lib.format.write_array(payload, array, allow_pickle=True)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(zipfile.ZipInfo("annotations.npy", date_time=_ZIP_DATE), payload.getvalue())
    return out.getvalue()


def _jpeg_bytes(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="JPEG", quality=_JPEG_QUALITY)
    return out.getvalue()


def _write_image(task: tuple[str, str, int, int, tuple[int, int] | None, float, float]) -> tuple[str, str, int,
                                                                                                 list]:
    """Worker: synthesize and write one image; returns what the lists and the manifest need."""
    root, category, index, seed, image_size, quirk_rate, image_scale = task
    sample = synthesize_image(category, index, seed, image_size, quirk_rate, image_scale)
    (Path(root) / "images" / category / f"{sample.image_id}.JPEG").write_bytes(_jpeg_bytes(sample.image))
    (Path(root) / "annotations" / category / f"{sample.image_id}.npz").write_bytes(npz_bytes(sample.annotations))
    quirks = [[k, q] for k, q in enumerate(sample.quirks) if q]
    return category, sample.image_id, len(sample.annotations), quirks


def _prepare(root: Path) -> None:
    """Refuse to write into a folder that holds anything but an earlier synthetic release (which is replaced)."""
    if root.exists() and any(root.iterdir()):
        if not (root / MANIFEST).is_file():
            raise ImageNet3DError(f"{root}: folder is not empty and holds no synthetic release; choose another")
        for name in ("images", "annotations", "lists", "CAD"):
            shutil.rmtree(root / name, ignore_errors=True)
        for name in (MANIFEST, ZIP_NAME):
            (root / name).unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)


def _write_cads(root: Path, categories: list[str]) -> None:
    for category in categories:
        folder = root / "CAD" / category
        folder.mkdir(parents=True, exist_ok=True)
        for cad_index in range(1, num_cad_models(category) + 1):
            (folder / f"{cad_index:02d}.off").write_text(off_text(build_mesh(category, cad_index)), encoding="ascii")


def write_zip(root: Path, zip_path: Path) -> None:
    """Zip the release with members ``imagenet3d_v1/...`` (as the official zip), fixed timestamps, sorted."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p != zip_path)
    folders = sorted({parent for p in files for parent in p.relative_to(root).parents if parent != Path(".")})
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name in ["imagenet3d_v1/"] + [f"imagenet3d_v1/{d.as_posix()}/" for d in folders]:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.external_attr = (0o40755 << 16) | 0x10
            archive.writestr(info, b"")
        for path in files:
            info = zipfile.ZipInfo(f"imagenet3d_v1/{path.relative_to(root).as_posix()}", date_time=_ZIP_DATE)
            info.external_attr = 0o100644 << 16
            # Images and npz are incompressible; text (lists, OFF, manifest) deflates well.
            info.compress_type = zipfile.ZIP_STORED if path.suffix in (".JPEG", ".npz") else zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def check_categories(categories: list[str] | tuple[str, ...]) -> list[str]:
    """Validate category names against the procedural models; raises ImageNet3DError with the allowed names."""
    if not categories:
        raise ImageNet3DError("no categories given")
    for category in categories:
        if category not in MESH_CATEGORIES:
            known = "an ImageNet3D category without a procedural model" if category in CATEGORIES else "not a category"
            raise ImageNet3DError(f"{category!r} is {known}; choose from: {', '.join(MESH_CATEGORIES)}")
    return sorted(set(categories))


def generate_release(out_dir: str | Path, categories: list[str] | tuple[str, ...] = DEFAULT_CATEGORIES,
                     images_per_category: int | Mapping[str, int] = DEFAULT_IMAGES_PER_CATEGORY,
                     image_size: tuple[int, int] | None = None, seed: int = 0, make_zip: bool = False,
                     quirk_rate: float = DEFAULT_QUIRK_RATE, progress: bool = True, num_proc: int = 1,
                     image_scale: float = 1.0) -> Path:
    """Write a synthetic release in the official v1 layout and return its root (``out_dir``).

    The folder gets ``images/``, ``annotations/``, ``lists/``, ``CAD/`` and ``synthetic.json``; with
    ``make_zip`` also ``out_dir/imagenet3d_v1.zip``, whose members are ``imagenet3d_v1/<the same files>``
    like the official download. ``image_size`` is (width, height) for every image, or None for
    ImageNet-like random sizes, before ``image_scale`` (in (0, 1]; see :func:`synthesize_image`: the same scenes
    at that fraction of the resolution, objects farther away; the demo renders at 0.5, what its small crops need).
    ``images_per_category`` is one count for every category or a count per category
    (e.g. fewer images of the novel categories, which Task 2 only evaluates); image ``i`` of a category is the same
    whatever the count, and about 20 % of each category's images go to val. Output is byte-identical for the same
    arguments, whatever ``num_proc``.
    """
    categories = check_categories(categories)
    counts = _image_counts(categories, images_per_category)
    image_scale = check_image_scale(image_scale)
    if not 0.0 <= quirk_rate <= 1.0:
        raise ImageNet3DError(f"quirk_rate must be in [0, 1], got {quirk_rate}")
    root = Path(out_dir)
    _prepare(root)
    _write_cads(root, categories)
    for sub in ("images", "annotations"):
        for category in categories:
            (root / sub / category).mkdir(parents=True, exist_ok=True)
    size = tuple(image_size) if image_size else None
    tasks = [(str(root), c, i, seed, size, quirk_rate, image_scale) for c in categories for i in range(counts[c])]
    bar = {"total": len(tasks), "desc": "synthesize", "unit": "img", "disable": not progress}
    if num_proc > 1 and len(tasks) >= 4 * num_proc:
        # Results come back in task order (imap), and each image has its own RNG: output is independent of num_proc.
        with multiprocessing.get_context("spawn").Pool(num_proc) as pool:
            results = list(tqdm(pool.imap(_write_image, tasks, chunksize=4), **bar))
    else:
        results = list(tqdm(map(_write_image, tasks), **bar))
    _write_lists(root, counts, results)
    uniform = len(set(counts.values())) == 1
    manifest = {"generator": "imagenet3d synthesize", "seed": seed, "categories": categories,
                "images_per_category": counts[categories[0]] if uniform else counts,
                "image_size": list(size) if size else None,
                "quirk_rate": quirk_rate,
                "quirks": {f"{c}/{image_id}": q for c, image_id, _, q in results if q}}
    if image_scale != 1.0:  # recorded only when used: a release at full resolution keeps its bytes
        manifest["image_scale"] = image_scale
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if make_zip:
        write_zip(root, root / ZIP_NAME)
    return root


def known_novel_counts(categories: list[str] | tuple[str, ...], known: int, novel: int) -> dict[str, int]:
    """Images per category: `known` for the 63 known categories of the open-vocabulary split, `novel` for the rest
    (Task 2 only evaluates those, so they need fewer)."""
    return {c: known if c in KNOWN_CATEGORIES else novel for c in check_categories(categories)}


def _image_counts(categories: list[str], images_per_category: int | Mapping[str, int]) -> dict[str, int]:
    """Images per category from one count or a mapping, which must name exactly the chosen categories."""
    if isinstance(images_per_category, Mapping):
        if set(images_per_category) != set(categories):
            extra = sorted(set(images_per_category) - set(categories))
            missing = sorted(set(categories) - set(images_per_category))
            raise ImageNet3DError(f"images_per_category: names categories {extra} not rendered and lacks {missing}")
        counts = {c: images_per_category[c] for c in categories}
    else:
        counts = dict.fromkeys(categories, images_per_category)
    for category, count in counts.items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ImageNet3DError(f"images_per_category: {category} needs a whole number of at least 1, got {count!r}")
    return counts


def _write_lists(root: Path, counts: dict[str, int], results: list[tuple]) -> None:
    (root / "lists").mkdir(exist_ok=True)
    for category, count in counts.items():
        ids = [image_id for c, image_id, _, _ in results if c == category]
        for split, wanted in (("train", False), ("val", True)):
            chosen = [image_id for i, image_id in enumerate(ids) if _is_val(i, count) == wanted]
            text = "".join(f"{image_id}\n" for image_id in chosen)
            (root / "lists" / f"{category}_imagenet_{split}.txt").write_text(text, encoding="utf-8")


# ---- reading back: summary ----------------------------------------------------------------------------------


def _angles_outside(annotation: dict) -> bool:
    return any(name in annotation and not 0.0 <= float(annotation[name]) < TWO_PI
               for name in ("azimuth", "elevation", "theta"))


def summarize_release(root: str | Path) -> dict:
    """Counts of a release in the official layout: images, objects, per category/split/status, and quirks.

    ``quirks`` is detected from the files (so it works on any release); ``quirks_injected`` is the
    generator's record in ``synthetic.json`` when present.
    """
    root = Path(root)
    if not (root / "annotations").is_dir():
        raise ImageNet3DError(f"{root}: no annotations/ folder; not a release in the official layout")
    summary: dict = {"images": 0, "objects": 0, "categories": {}, "splits": Counter(), "object_status": Counter(),
                     "dense": Counter(), "quirks": Counter()}
    for category_dir in sorted(p for p in (root / "annotations").iterdir() if p.is_dir()):
        category = category_dir.name
        counts = {"images": 0, "objects": 0}
        for path in sorted(category_dir.glob("*.npz")):
            objects = load_annotations(path.read_bytes(), str(path))
            counts["images"] += 1
            counts["objects"] += len(objects)
            for obj in objects:
                summary["object_status"][obj.get("object_status", "missing")] += 1
                summary["dense"][obj.get("dense", "missing")] += 1
                summary["quirks"]["pose_missing"] += "azimuth" not in obj
                summary["quirks"]["distance_zero"] += "distance" in obj and float(obj["distance"]) <= 0
                summary["quirks"]["angles_unwrapped"] += _angles_outside(obj)
        summary["categories"][category] = counts
        summary["images"] += counts["images"]
        summary["objects"] += counts["objects"]
        for split in ("train", "val"):
            listed = root / "lists" / f"{category}_imagenet_{split}.txt"
            if listed.is_file():
                summary["splits"][split] += len(listed.read_text(encoding="utf-8").split())
    manifest = root / MANIFEST
    if manifest.is_file():
        injected = json.loads(manifest.read_text(encoding="utf-8"))["quirks"]
        summary["quirks_injected"] = dict(Counter(q for objs in injected.values() for _, q in objs))
    for key in ("splits", "object_status", "dense", "quirks"):
        summary[key] = dict(summary[key])
    return summary

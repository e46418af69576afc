"""ImageNet3D (Ma et al. 2024, "Towards General-Purpose Object-Level 3D Understanding") for 🤗 Datasets.

The taxonomy of the release lives in ``dataset_card/`` and is re-exported here:

>>> import imagenet3d
>>> len(imagenet3d.CATEGORIES), len(imagenet3d.META_CLASSES), len(imagenet3d.KNOWN_CATEGORIES)
(189, 7, 63)

This module defines the dataset: one :class:`ImageNet3DConfig` per task, the features of each,
and :class:`ImageNet3D`, a ``datasets.GeneratorBasedBuilder`` over the official release (a folder
or ``imagenet3d_v1.zip``). ``datasets`` 5 no longer runs loading scripts, so the builder is used as
ordinary Python::

    builder = ImageNet3D(config_name="pose", data_dir="imagenet3d_v1.zip", cache_dir="cache")
    builder.download_and_prepare()
    ds = builder.as_dataset()

The main path is ``imagenet3d build SOURCE`` (:mod:`modeling.data.build`), which writes Parquet shards
and a dataset card into ``./imagenet3d`` so that ``load_dataset("imagenet3d", "pose")`` works. Both
paths make the same rows (:mod:`modeling.data.rows`).

Configs (splits ``train`` and ``validation`` unless noted):

* ``pose`` (default): one row per object passing the official filter, its object-centric crop
  (official preprocessing) and every field;
* ``image``: one row per image, the full image and all its objects with a ``passes_filter`` flag;
* ``classification``: crops with category, meta-class and pose (Task 3, joint classification and pose);
* ``probe``: crops with the 40-bin labels of azimuth, elevation and theta (Task 1, linear probing);
* ``open_vocab``: ``train`` on the 63 known categories, ``validation_known``, ``validation_novel`` (Task 2);
* ``captions``: full images with a caption whose ``<pose6D>`` tokens stand for the objects' poses;
* ``cad``: the CAD models (split ``train``), vertices and triangular faces.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import datasets
from datasets import ClassLabel, Features, Image, List, Value

from dataset_card import (
    CATEGORIES,
    KNOWN_CATEGORIES,
    META_CLASS_ABBREVIATIONS,
    META_CLASS_OF,
    META_CLASSES,
    NOVEL_CATEGORIES,
)
from modeling.data.captions import read_captions_file
from modeling.data.release import Release
from modeling.data.rows import BuildOptions, BuildReport, cad_rows, iter_unit, release_categories
from modeling.utils.errors import ImageNet3DError

__all__ = ["CATEGORIES", "CITATION", "CONFIG_COLUMNS", "CONFIG_NAMES", "CONFIG_SHARDS", "ImageNet3D",
           "ImageNet3DConfig", "KNOWN_CATEGORIES", "META_CLASSES", "META_CLASS_ABBREVIATIONS", "META_CLASS_OF",
           "NOVEL_CATEGORIES", "SHARD_FEATURES", "config_features", "config_splits"]

CITATION = """@article{ma2024imagenet3d,
  title   = {ImageNet3D: Towards General-Purpose Object-Level 3D Understanding},
  author  = {Ma, Wufei and Zeng, Guanning and Zhang, Guofeng and Liu, Qihao and Zhang, Letian and
             Kortylewski, Adam and Liu, Yaoyao and Yuille, Alan},
  journal = {arXiv preprint arXiv:2406.09613},
  year    = {2024}
}"""
HOMEPAGE = "https://imagenet3d.github.io/"
LICENSE = "cc-by-nc-4.0"
DESCRIPTION = ("ImageNet3D: 3D pose annotations (azimuth, elevation, in-plane rotation, distance, 2D centre, "
               "CAD model) of objects in ImageNet-21k images, 189 categories.")

_F64 = Value("float64")
_BBOX = List(Value("float64"), length=4)
_FLAGS = List(Value("string"))  # oddities the official filter does not judge (modeling.data.objects.FLAGS): kept
CATEGORY = ClassLabel(names=list(CATEGORIES))
META_CLASS = ClassLabel(names=sorted(META_CLASSES))

_POSE_FEATURES = Features({
    "object_id": Value("string"),        # <image_id>_<index:02d>, as the official preprocessing names crops
    "image_id": Value("string"),
    "object_index": Value("int32"),      # position in the npz annotation list
    "category": CATEGORY,
    "meta_class": META_CLASS,
    "image": Image(),                    # the object-centric crop
    "azimuth": _F64, "elevation": _F64, "theta": _F64,               # radians, wrapped to [0, 2π)
    "azimuth_bin": Value("int32"), "elevation_bin": Value("int32"), "theta_bin": Value("int32"),  # 40 bins
    "distance": _F64, "px": _F64, "py": _F64, "bbox": _BBOX,         # in the crop
    "distance_original": _F64, "px_original": _F64, "py_original": _F64, "bbox_original": _BBOX,
    "resize_rate": _F64, "width_original": Value("int32"), "height_original": Value("int32"),
    "viewport": _F64, "focal": _F64, "cad_index": Value("int32"),
    "object_status": Value("string"), "dense": Value("string"),
    "flags": _FLAGS,
})

_OBJECT = {
    "index": Value("int32"), "object_id": Value("string"),
    "passes_filter": Value("bool"), "skip_reason": Value("string"), "flags": _FLAGS,
    "azimuth": _F64, "elevation": _F64, "theta": _F64, "distance": _F64, "px": _F64, "py": _F64,
    "focal": _F64, "viewport": _F64, "principal": List(_F64), "bbox": List(_F64),
    "class": Value("string"), "cad_index": Value("int32"), "object_status": Value("string"),
    "dense": Value("string"), "ignore": _F64, "height": Value("int32"), "width": Value("int32"),
}
_POSE6D = {"tag": Value("string"), "object_index": Value("int32"),
           "azimuth": _F64, "elevation": _F64, "theta": _F64, "distance": _F64, "px": _F64, "py": _F64}

_IMAGE_FEATURES = Features({
    "image_id": Value("string"),
    "category": CATEGORY,
    "meta_class": META_CLASS,
    "image": Image(),                    # the full image, RGB
    "width": Value("int32"), "height": Value("int32"),
    "objects": List(_OBJECT),
    "prompt": Value("string"),
    "caption": Value("string"),
    "pose6d": List(_POSE6D),             # per <pose6D> token of the caption, in order
    "has_caption": Value("bool"),
})

_CAD_FEATURES = Features({
    "category": CATEGORY,
    "cad_index": Value("int32"),         # 1-based, as the annotations' cad_index and CAD/<category>/<NN>.off
    "vertices": List(List(Value("float32"), length=3)),
    "faces": List(List(Value("int32"), length=3)),   # 0-based vertex indices
})

SHARD_FEATURES: dict[str, Features] = {"pose": _POSE_FEATURES, "image": _IMAGE_FEATURES, "cad": _CAD_FEATURES}
"""The three kinds of Parquet shards a build writes; every config is a column selection of one kind."""

_CROP_TASK = ["object_id", "image", "category", "meta_class", "azimuth", "elevation", "theta"]
_BINS = ["azimuth_bin", "elevation_bin", "theta_bin"]

CONFIG_SHARDS: dict[str, str] = {
    "pose": "pose", "image": "image", "classification": "pose", "probe": "pose", "open_vocab": "pose",
    "captions": "image", "cad": "cad",
}
"""Config → the kind of shard it reads (image bytes are stored once per kind, not once per task)."""

CONFIG_COLUMNS: dict[str, list[str]] = {
    "pose": list(_POSE_FEATURES),
    "image": ["image_id", "category", "meta_class", "image", "width", "height", "objects"],
    "classification": _CROP_TASK,
    "probe": _CROP_TASK + _BINS,
    "open_vocab": _CROP_TASK + _BINS,
    "captions": ["image_id", "category", "meta_class", "image", "prompt", "caption", "pose6d"],
    "cad": list(_CAD_FEATURES),
}
CONFIG_NAMES: tuple[str, ...] = tuple(CONFIG_SHARDS)
DEFAULT_CONFIG = "pose"

_DESCRIPTIONS = {
    "pose": "One row per object that passes the official filter: the official 512×512 object-centric crop "
            "(scale distance/4, centred on px, py, zero padding) and every annotation field.",
    "image": "One row per image: the full image and all its objects with all raw fields and passes_filter.",
    "classification": "Crops with category, meta-class and pose (Task 3: joint classification and pose).",
    "probe": "Crops with the 40-bin labels of azimuth, elevation and theta (Task 1: linear probing).",
    "open_vocab": "Crops; train on the 63 known categories, validation_known and validation_novel (Task 2).",
    "captions": "Full images with template captions whose <pose6D> tokens stand for the objects' 6D poses.",
    "cad": "The CAD models: vertices and triangular faces per (category, cad_index).",
}


def config_features(name: str) -> Features:
    """The features of a config (a column selection of its shard kind's features)."""
    shard = SHARD_FEATURES[CONFIG_SHARDS[name]]
    return Features({column: shard[column] for column in CONFIG_COLUMNS[name]})


def config_splits(name: str, categories: list[str] | tuple[str, ...] = CATEGORIES) -> dict[str, list[tuple[str, str]]]:
    """Split → the (official split, category) pairs it holds, for the given categories."""
    if name == "cad":
        return {"train": [("cad", c) for c in categories]}
    if name == "open_vocab":
        known = set(KNOWN_CATEGORIES)
        return {"train": [("train", c) for c in categories if c in known],
                "validation_known": [("val", c) for c in categories if c in known],
                "validation_novel": [("val", c) for c in categories if c not in known]}
    return {"train": [("train", c) for c in categories], "validation": [("val", c) for c in categories]}


@dataclass
class ImageNet3DConfig(datasets.BuilderConfig):
    """A task config; the build options travel with it.

    Attributes:
        crop_size: side of the object-centric crops in pixels (the official baselines use 512).
        jpeg_quality: JPEG quality of the crops (75: what the official preprocessing writes).
        strict: raise on the first bad input instead of counting it as a skip.
        captions_file: JSONL of ``{"image_id", "caption"}`` to import instead of template captions.
    """

    crop_size: int = 512
    jpeg_quality: int = 75
    strict: bool = False
    captions_file: str | None = None


class ImageNet3D(datasets.GeneratorBasedBuilder):
    """ImageNet3D from the official release; ``data_dir`` is the release folder or ``imagenet3d_v1.zip``."""

    BUILDER_CONFIG_CLASS = ImageNet3DConfig
    BUILDER_CONFIGS = [ImageNet3DConfig(name=name, version=datasets.Version("1.0.0"), description=_DESCRIPTIONS[name])
                       for name in CONFIG_NAMES]
    DEFAULT_CONFIG_NAME = DEFAULT_CONFIG

    def _info(self) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(description=DESCRIPTION, features=config_features(self.config.name),
                                    homepage=HOMEPAGE, license=LICENSE, citation=CITATION)

    def _split_generators(self, dl_manager: datasets.DownloadManager) -> list[datasets.SplitGenerator]:
        if not self.config.data_dir:
            raise ImageNet3DError("ImageNet3D needs data_dir: the release folder or imagenet3d_v1.zip")
        release = Release(self.config.data_dir)
        categories = release_categories(release, BuildReport(strict=self.config.strict))
        release.close()
        return [datasets.SplitGenerator(name=split, gen_kwargs={"units": units})
                for split, units in config_splits(self.config.name, categories).items()]

    def _generate_examples(self, units: list[tuple[str, str]]) -> Iterator[tuple[str, dict]]:
        name, config = self.config.name, self.config
        shard = CONFIG_SHARDS[name]
        columns = CONFIG_COLUMNS[name]
        captions = read_captions_file(config.captions_file) if config.captions_file and name == "captions" else None
        options = BuildOptions(crop_size=config.crop_size, jpeg_quality=config.jpeg_quality, strict=config.strict,
                               pose=shard == "pose", image=shard == "image",
                               imported_captions=str(config.captions_file) if captions is not None else None)
        release = Release(config.data_dir)
        report = BuildReport(strict=config.strict, where=release.where)
        try:
            for split, category in units:
                if shard == "cad":
                    for row in cad_rows(release, category, report):
                        yield f"{category}/{row['cad_index']:02d}", row
                    continue
                for result in iter_unit(release, category, split, options, report, captions):
                    if shard == "pose":
                        for row in result.pose_rows:
                            yield row["object_id"], {c: row[c] for c in columns}
                    elif name != "captions" or result.image_row["has_caption"]:
                        yield f"{category}/{result.image_row['image_id']}", {c: result.image_row[c] for c in columns}
        finally:
            release.close()
        if report.skips:
            reasons = sorted({s["reason"] for s in report.skips})
            datasets.logging.get_logger(__name__).warning(
                f"ImageNet3D {name}: skipped {len(report.skips)} bad input(s): {', '.join(reasons)}")

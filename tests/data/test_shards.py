"""Shards past the size limit split into numbered files; rows encode without ``datasets``, as it would."""

from pathlib import Path

import pyarrow.parquet as pq
from datasets import load_dataset

import imagenet3d
from modeling.data import build as build_module
from modeling.data import rows as examples
from modeling.data.release import Release
from modeling.data.shards import shard_path


def test_a_shard_past_the_limit_goes_on_in_numbered_files_that_load_in_order(synthetic_release, tmp_path,
                                                                             monkeypatch):
    whole = tmp_path / "whole"
    build_module.build(synthetic_release, whole, configs=["pose", "open_vocab"], crop_size=32, progress=False)
    monkeypatch.setattr(build_module, "MAX_SHARD_BYTES", 1)  # every row group closes its file
    monkeypatch.setattr("modeling.data.shards.ROW_GROUP_SIZE", 2)
    split = tmp_path / "split"
    report = build_module.build(synthetic_release, split, configs=["pose", "open_vocab"], crop_size=32,
                                progress=False)
    files = sorted(p.relative_to(split).as_posix() for p in split.rglob("*.parquet"))
    assert "data/pose/train/car-00000-known.parquet" in files and "data/pose/train/car-00001-known.parquet" in files
    assert not any(f.endswith("/car-known.parquet") for f in files)
    for config, splits in (("pose", ("train", "validation")),
                           ("open_vocab", ("train", "validation_known", "validation_novel"))):
        for name in splits:
            ours, theirs = load_dataset(str(split), config, split=name), load_dataset(str(whole), config, split=name)
            assert ours["object_id"] == theirs["object_id"] and ours.num_rows == report["rows"][config][name]


def test_rows_encode_as_datasets_encodes_them(synthetic_release):
    specs = build_module.shard_specs()
    release = Release(synthetic_release)
    report = examples.BuildReport()
    for result in examples.iter_unit(release, "car", "train", examples.BuildOptions(crop_size=16), report):
        for kind, rows in (("pose", result.pose_rows), ("image", [result.image_row])):
            for row in rows:
                assert specs[kind].encode(dict(row)) == imagenet3d.SHARD_FEATURES[kind].encode_example(row)
    assert shard_path("pose", "train", "car") == "data/pose/train/car-known.parquet"
    assert shard_path("pose", "train", "chair", 3) == "data/pose/train/chair-00003-novel.parquet"


def test_a_written_shard_has_the_features_schema(synthetic_release, tmp_path):
    build_module.build(synthetic_release, tmp_path / "o", configs=["pose"], crop_size=16, progress=False)
    path = next(Path(tmp_path / "o").rglob("*.parquet"))
    assert pq.read_schema(path).remove_metadata() == imagenet3d.SHARD_FEATURES["pose"].arrow_schema.remove_metadata()

"""`imagenet3d build` from the synthetic release: every config loads offline with the right features,
splits, counts and values; determinism, atomicity, streaming, the builder as Python, collate."""

import io
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from datasets import load_dataset
from PIL import Image

import imagenet3d
from dataset_card import KNOWN_CATEGORIES, META_CLASS_OF
from modeling import cli
from modeling.data import build as build_module
from modeling.data import rows as examples
from modeling.data.captions import POSE_TOKEN, PROMPT
from modeling.data.collate import collate_fn
from modeling.geometry import angle_to_bin, wrap_angle
from tests.helpers.dataset import expected_objects, listed_images, npz_objects, official_filter, tree_digest

CROP = 48
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(synthetic_release, tmp_path_factory):
    """Every config, built once from the release folder."""
    out = tmp_path_factory.mktemp("built") / "imagenet3d"
    report = build_module.build(synthetic_release, out, crop_size=CROP, progress=False)
    return out, report


def _load(out, config, **kwargs):
    return load_dataset(str(out), config, **kwargs)


def test_folder_and_zip_build_the_same_bytes(built, synthetic_release, tmp_path):
    out, _ = built
    from_zip = tmp_path / "from_zip"
    assert cli.main(["build", str(synthetic_release / "imagenet3d_v1.zip"), str(from_zip), "--crop-size", str(CROP),
                     "--no-progress"]) == 0
    assert tree_digest(from_zip) == tree_digest(out)
    assert {"README.md", "build_report.json", "data/cad/cad.parquet"} <= set(tree_digest(out))


@pytest.mark.parametrize("config", imagenet3d.CONFIG_NAMES)
def test_every_config_loads_with_its_features_and_splits(built, config):
    out, report = built
    ds = _load(out, config)
    expected_splits = {"open_vocab": ["train", "validation_known", "validation_novel"], "cad": ["train"]}
    assert list(ds) == expected_splits.get(config, ["train", "validation"])
    for split in ds.values():
        assert split.features == imagenet3d.config_features(config)
    assert {s: ds[s].num_rows for s in ds} == report["rows"][config]


def test_pose_rows_match_the_npz_files(built, synthetic_release):
    out, _ = built
    ds = _load(out, "pose")
    expected = expected_objects(synthetic_release)
    names = ds["train"].features["category"].names
    metas = ds["train"].features["meta_class"].names
    for split in ("train", "validation"):
        rows = ds[split]
        assert sorted(rows["object_id"]) == sorted(expected[split])
        assert len(rows) > 10
        for row in rows:
            category, obj = expected[split][row["object_id"]]
            image_id, index = row["object_id"].rsplit("_", 1)
            assert (row["image_id"], row["object_index"]) == (image_id, int(index))
            assert names[row["category"]] == category and metas[row["meta_class"]] == META_CLASS_OF[category]
            for name in ("azimuth", "elevation", "theta"):
                assert row[name] == float(wrap_angle(obj[name])) and 0 <= row[name] < 2 * np.pi
                assert row[f"{name}_bin"] == int(angle_to_bin(obj[name]))
            # The official 512 crop at CROP pixels: the camera zoomed out by 512 / CROP.
            target = 4.0 * 512 / CROP
            assert row["distance_original"] == obj["distance"] and row["distance"] == target
            assert (row["px_original"], row["py_original"]) == (obj["px"], obj["py"])
            assert row["bbox_original"] == list(obj["bbox"])
            assert (row["px"], row["py"]) == (CROP / 2, CROP / 2)
            rate = obj["distance"] / target
            assert row["resize_rate"] == rate
            left, top = int(obj["px"] * rate) - CROP // 2, int(obj["py"] * rate) - CROP // 2
            np.testing.assert_allclose(row["bbox"], np.asarray(obj["bbox"]) * rate - [left, top, left, top])
            assert (row["width_original"], row["height_original"]) == (obj["width"], obj["height"])
            assert (row["cad_index"], row["viewport"], row["focal"]) == (obj["cad_index"], obj["viewport"],
                                                                         obj["focal"])
            assert (row["object_status"], row["dense"]) == (obj["object_status"], obj["dense"])
            assert row["image"].size == (CROP, CROP) and row["image"].mode == "RGB"


def test_image_rows_hold_every_object_and_the_original_bytes(built, synthetic_release):
    out, _ = built
    ds = _load(out, "image").cast_column("image", datasets.Image(decode=False))
    for split, images in listed_images(synthetic_release).items():
        assert ds[split]["image_id"] == [image_id for _, image_id in images]
        for row, (category, image_id) in zip(ds[split], images):
            source = synthetic_release / "images" / category / f"{image_id}.JPEG"
            assert row["image"]["bytes"] == source.read_bytes()
            with Image.open(source) as image:
                assert (row["width"], row["height"]) == image.size
            objects = npz_objects(synthetic_release, category, image_id)
            assert [o["index"] for o in row["objects"]] == list(range(len(objects)))
            for got, obj in zip(row["objects"], objects):
                assert got["passes_filter"] == official_filter(obj)
                assert (got["skip_reason"] is None) == got["passes_filter"]
                assert got["class"] == obj["class"] and got["bbox"] == list(obj["bbox"])
                assert got["object_status"] == obj.get("object_status")
                if "azimuth" in obj:
                    assert got["azimuth"] == float(wrap_angle(obj["azimuth"]))
                else:
                    assert got["azimuth"] is None and got["distance"] is None


def test_task_configs_select_columns_and_categories(built):
    out, _ = built
    pose = _load(out, "pose")
    names = pose["train"].features["category"].names
    known = set(KNOWN_CATEGORIES)
    vocab = _load(out, "open_vocab")
    assert {names[c] for c in vocab["train"]["category"]} <= known
    assert {names[c] for c in vocab["validation_known"]["category"]} <= known
    assert not {names[c] for c in vocab["validation_novel"]["category"]} & known
    assert len(vocab["validation_known"]) + len(vocab["validation_novel"]) == len(pose["validation"])
    train_known = [i for i, c in zip(pose["train"]["object_id"], pose["train"]["category"]) if names[c] in known]
    assert vocab["train"]["object_id"] == train_known
    probe = _load(out, "probe")
    assert probe["train"]["azimuth_bin"] == pose["train"]["azimuth_bin"]
    assert set(probe["train"].column_names) == {"object_id", "image", "category", "meta_class", "azimuth",
                                                "elevation", "theta", "azimuth_bin", "elevation_bin", "theta_bin"}
    classification = _load(out, "classification")
    assert classification["validation"]["object_id"] == pose["validation"]["object_id"]
    # Image bytes are stored once per kind: task configs add no shard of their own.
    shards = sorted(p.relative_to(out).parts[1] for p in out.rglob("*.parquet"))
    assert set(shards) == {"pose", "image", "cad"}


def test_captions_tag_every_object_with_its_pose(built, synthetic_release):
    out, report = built
    ds = _load(out, "captions")
    expected = expected_objects(synthetic_release)
    for split in ("train", "validation"):
        with_objects = {i for i, _ in (k.rsplit("_", 1) for k in expected[split])}
        assert set(ds[split]["image_id"]) == with_objects  # images without a valid object have no caption
        for row in ds[split]:
            assert row["prompt"] == PROMPT
            assert row["caption"].count(POSE_TOKEN) == len(row["pose6d"]) > 0
            ids = [f"{row['image_id']}_{e['object_index']:02d}" for e in row["pose6d"]]
            assert sorted(ids) == sorted(k for k in expected[split] if k.startswith(row["image_id"] + "_"))
            for entry, object_id in zip(row["pose6d"], ids):
                _, obj = expected[split][object_id]
                assert entry["tag"] in row["caption"] and entry["tag"].startswith(obj["class"].upper())
                assert entry["azimuth"] == float(wrap_angle(obj["azimuth"])) and entry["px"] == obj["px"]


def test_cad_rows_are_the_off_meshes(built, synthetic_release):
    out, _ = built
    ds = _load(out, "cad", split="train")
    files = sorted((synthetic_release / "CAD").glob("*/*.off"))
    assert len(ds) == len(files)
    names = ds.features["category"].names
    for row in ds:
        lines = (synthetic_release / "CAD" / names[row["category"]] / f"{row['cad_index']:02d}.off").read_text()
        n_vertices, n_faces = (int(v) for v in lines.splitlines()[1].split()[:2])
        assert len(row["vertices"]) == n_vertices and len(row["faces"]) == n_faces
        assert max(max(f) for f in row["faces"]) < n_vertices


def test_card_has_configs_license_citation_counts_and_caveat(built):
    out, report = built
    card = (out / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\nlicense: apache-2.0\n")  # the synthetic release: the project's license
    assert "arXiv:2406.09613" in card and "reconstruction" in card
    for config in imagenet3d.CONFIG_NAMES:
        assert f"### `{config}`" in card
        for split, rows in report["rows"][config].items():
            assert f"| `{config}` | `{split}` | {rows:,} |" in card
    assert datasets.get_dataset_default_config_name(str(out)) == "pose"
    assert sorted(datasets.get_dataset_config_names(str(out))) == sorted(imagenet3d.CONFIG_NAMES)


def test_streaming_gives_the_same_rows(built):
    out, _ = built
    eager = _load(out, "pose", split="validation")
    streamed = list(_load(out, "pose", split="validation", streaming=True))
    assert [r["object_id"] for r in streamed] == eager["object_id"]
    assert streamed[0]["azimuth"] == eager[0]["azimuth"] and streamed[0]["image"].size == (CROP, CROP)
    captions = list(_load(out, "captions", split="train", streaming=True))
    assert len(captions) == len(_load(out, "captions", split="train"))


def test_load_by_name_from_the_folder_the_build_ran_in(synthetic_release, tmp_path, monkeypatch):
    # As in the repository root: imagenet3d.py sits beside the ./imagenet3d the build writes.
    shutil.copy(REPO / "imagenet3d.py", tmp_path / "imagenet3d.py")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["build", str(synthetic_release), "--configs", "pose", "--crop-size", "32", "--no-progress"]) == 0
    assert (tmp_path / "imagenet3d" / "README.md").is_file()
    ds = load_dataset("imagenet3d", "pose")
    assert ds["validation"].num_rows == len(expected_objects(synthetic_release)["validation"])
    assert load_dataset("imagenet3d", split="train").num_rows == ds["train"].num_rows  # pose is the default


def test_two_processes_build_the_same_bytes(built, synthetic_release, tmp_path):
    out, _ = built
    build_module.build(synthetic_release, tmp_path / "p2", crop_size=CROP, num_proc=2, progress=False)
    assert tree_digest(tmp_path / "p2") == tree_digest(out)


def test_each_image_is_decoded_once(synthetic_release, tmp_path, monkeypatch):
    calls = []
    original = examples.decode_image

    def counting(data, path, report, *args, **kwargs):
        calls.append(path)
        return original(data, path, report, *args, **kwargs)

    monkeypatch.setattr(examples, "decode_image", counting)
    report = build_module.build(synthetic_release, tmp_path / "o", configs=["pose", "image"], crop_size=16,
                                progress=False)
    assert len(calls) == len(set(calls)) == sum(t["images"] for t in report["totals"].values())
    objects_per_image = [len(npz_objects(synthetic_release, *Path(p).parts[1:3])) for p in
                         (c.replace(".JPEG", "") for c in calls)]
    assert max(objects_per_image) > 1


def test_an_interrupted_build_leaves_out_as_it_was(synthetic_release, tmp_path, monkeypatch):
    out = tmp_path / "imagenet3d"
    build_module.build(synthetic_release, out, configs=["pose"], crop_size=16, progress=False)
    before = tree_digest(out)
    original, calls = build_module.build_unit, []

    def failing(task):
        calls.append(task)
        if len(calls) == 5:
            raise RuntimeError("disk full")
        return original(task)

    monkeypatch.setattr(build_module, "build_unit", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        build_module.build(synthetic_release, out, configs=["pose", "image"], crop_size=24, progress=False)
    assert tree_digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imagenet3d"]  # no staging left behind
    monkeypatch.setattr(build_module, "build_unit", original)
    build_module.build(synthetic_release, out, configs=["pose", "image"], crop_size=24, progress=False)
    assert _load(out, "image")["train"].num_rows == len(listed_images(synthetic_release)["train"])


def test_a_killed_build_leaves_out_as_it_was_and_a_rerun_completes(synthetic_release, tmp_path):
    out, ready = tmp_path / "imagenet3d", tmp_path / "ready"
    build_module.build(synthetic_release, out, configs=["pose"], crop_size=16, progress=False)
    before = tree_digest(out)
    script = textwrap.dedent("""
        import sys, time
        from modeling.data import build
        original, done = build.build_unit, []
        def slow(task):
            done.append(original(task))
            if len(done) == 4:
                open(sys.argv[3], "w").close()
                time.sleep(120)
            return done[-1]
        build.build_unit = slow
        build.build(sys.argv[1], sys.argv[2], configs=["pose"], crop_size=24, progress=False)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-c", script, str(synthetic_release), str(out), str(ready)], env=env)
    try:
        for _ in range(600):
            if ready.exists() or process.poll() is not None:
                break
            __import__("time").sleep(0.1)
        assert ready.exists(), "the build did not reach its 4th unit"
        staging = tmp_path / ".imagenet3d.partial"
        assert any(staging.rglob("*.parquet"))  # it was midway: shards written into the staging folder
    finally:
        process.kill()
        process.wait()
    assert tree_digest(out) == before
    build_module.build(synthetic_release, out, configs=["pose"], crop_size=24, progress=False)
    assert not staging.exists()
    assert _load(out, "pose", split="validation")[0]["image"].size == (24, 24)


def test_out_that_is_not_a_build_is_refused(synthetic_release, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(build_module.ImageNet3DError, match="not an imagenet3d build"):
        build_module.build(synthetic_release, tmp_path, configs=["cad"], progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_the_builder_as_python_makes_the_same_rows(built, synthetic_release, tmp_path):
    out, _ = built
    for config in ("pose", "captions", "open_vocab", "cad"):
        builder = imagenet3d.ImageNet3D(config_name=config, data_dir=str(synthetic_release / "imagenet3d_v1.zip"),
                                        cache_dir=str(tmp_path / "cache"), crop_size=CROP)
        builder.download_and_prepare()
        ours = builder.as_dataset()
        parquet = _load(out, config)
        assert list(ours) == list(parquet)
        for split in ours:
            a, b = ours[split], parquet[split]
            assert a.features == b.features and a.num_rows == b.num_rows
            if "image" in a.column_names:
                a, b = (d.cast_column("image", datasets.Image(decode=False)) for d in (a, b))
            assert a.to_list() == b.to_list()


def test_collate_functions(built):
    out, _ = built
    pose = _load(out, "pose", split="train")
    batch = next(iter(torch.utils.data.DataLoader(pose, batch_size=4, collate_fn=collate_fn("pose"))))
    assert batch["image"].shape == (4, 3, CROP, CROP) and batch["image"].dtype == torch.uint8
    assert batch["bbox"].shape == (4, 4) and batch["azimuth"].dtype == torch.float32
    assert batch["object_id"] == pose["object_id"][:4]
    np.testing.assert_array_equal(batch["image"][0].permute(1, 2, 0).numpy(), np.asarray(pose[0]["image"]))
    torch_batch = collate_fn("probe")([pose.with_format("torch")[i] for i in range(3)])
    assert torch_batch["image"].shape == (3, 3, CROP, CROP) and torch_batch["theta_bin"].shape == (3,)
    images = _load(out, "image", split="validation")
    batch = next(iter(torch.utils.data.DataLoader(images, batch_size=3, collate_fn=collate_fn("image"))))
    assert [tuple(t.shape) for t in batch["image"]] == [(3, h, w) for w, h in zip(images["width"][:3],
                                                                                   images["height"][:3])]
    assert isinstance(batch["objects"][0], list) and "passes_filter" in batch["objects"][0][0]
    cad = collate_fn("cad")(list(_load(out, "cad", split="train").select(range(2))))
    assert cad["vertices"][0].shape[1] == 3 and cad["faces"][0].dtype == torch.int64
    with pytest.raises(ValueError):
        collate_fn("nope")


def test_report_counts_the_official_filter(built, synthetic_release):
    _, report = built
    removed = {split: 0 for split in ("train", "validation")}
    for split, images in listed_images(synthetic_release).items():
        removed[split] = sum(not official_filter(o) for c, i in images for o in npz_objects(synthetic_release, c, i))
    assert {s: sum(r.values()) for s, r in report["filtered"].items()} == {s: n for s, n in removed.items() if n}
    assert report["skipped"] == {} and report["skips"] == []
    assert io.StringIO((built[0] / "build_report.json").read_text()).read().count("/tmp") == 0

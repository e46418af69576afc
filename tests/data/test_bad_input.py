"""Bad input: a counted skip in the build report by default, an error naming the file and field with --strict.
Also imported captions, the offline --hub path and the build command's own errors."""

import io
import json
import shutil

import numpy as np
import pytest
from datasets import load_dataset
from PIL import Image

from modeling import cli
from modeling.data import build as build_module
from modeling.data.captions import POSE_TOKEN
from modeling.synthetic.generator import generate_release
from modeling.utils.errors import ImageNet3DError
from tests.helpers.dataset import npz_objects

CATEGORY = "chair"


@pytest.fixture(scope="module")
def tiny_release(tmp_path_factory):
    """Two categories, four images each, no quirks: every object passes the filter unless we break it."""
    root = tmp_path_factory.mktemp("tiny") / "release"
    return generate_release(root, ["car", CATEGORY], images_per_category=4, quirk_rate=0.0, make_zip=True,
                            progress=False)


@pytest.fixture
def release(tiny_release, tmp_path):
    copy = tmp_path / "release"
    shutil.copytree(tiny_release, copy)
    return copy


def first_image(release):
    return (release / "lists" / f"{CATEGORY}_imagenet_train.txt").read_text().split()[0]


def paths(release, image_id=None):
    image_id = image_id or first_image(release)
    return (f"images/{CATEGORY}/{image_id}.JPEG", f"annotations/{CATEGORY}/{image_id}.npz")


def rewrite_first_object(release, **changes):
    _, npz = paths(release)
    objects = npz_objects(release, CATEGORY, first_image(release))
    for key, value in changes.items():
        if value is None:
            del objects[0][key]
        else:
            objects[0][key] = value
    array = np.empty(len(objects), dtype=object)
    array[:] = objects
    np.savez(release / npz, annotations=array)


def reencode(release, mode, fmt="JPEG"):
    image_path, _ = paths(release)
    with Image.open(release / image_path) as image:
        converted = image.convert(mode)
    buffer = io.BytesIO()
    converted.save(buffer, format=fmt)
    (release / image_path).write_bytes(buffer.getvalue())


def corrupt(release):
    (release / paths(release)[0]).write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG at all" * 20)


def truncate(release):
    path = release / paths(release)[0]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def remove_image(release):
    (release / paths(release)[0]).unlink()


def remove_annotation(release):
    (release / paths(release)[1]).unlink()


def unknown_category(release):
    (release / "images" / "not_a_category").mkdir()
    (release / "images" / "not_a_category" / "x_1.JPEG").write_bytes(b"")


def empty_list(release):
    (release / "lists" / "car_imagenet_val.txt").write_text("")


# (name, break the release, reason, file: 'image' | 'annotation' | literal, field)
SKIPS = [
    ("corrupt JPEG", corrupt, "corrupt or truncated image", "image", None),
    ("truncated JPEG", truncate, "corrupt or truncated image", "image", None),
    ("image missing", remove_image, "image listed but missing", "image", None),
    ("annotation missing", remove_annotation, "annotation file missing", "annotation", None),
    ("missing pose key", lambda r: rewrite_first_object(r, azimuth=None), "missing pose key", "annotation",
     "annotations[0].azimuth"),
    ("NaN angle", lambda r: rewrite_first_object(r, elevation=float("nan")), "NaN or infinite pose value",
     "annotation", "annotations[0].elevation"),
    ("infinite angle", lambda r: rewrite_first_object(r, theta=np.inf), "NaN or infinite pose value",
     "annotation", "annotations[0].theta"),
    ("unknown category", unknown_category, "unknown category folder", "images/not_a_category", None),
    ("empty list", empty_list, "empty list file", "lists/car_imagenet_val.txt", None),
]


def _build(release, out, *extra):
    return cli.main(["build", str(release), str(out), "--configs", "pose", "image", "--crop-size", "16",
                     "--no-progress", *extra])


@pytest.mark.parametrize("name, breaker, reason, file, field", SKIPS, ids=[s[0] for s in SKIPS])
def test_bad_input_is_a_counted_skip(release, tmp_path, capsys, name, breaker, reason, file, field):
    image_path, annotation_path = paths(release)
    breaker(release)
    assert _build(release, tmp_path / "out") == 0
    printed = capsys.readouterr().out
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    expected_file = {"image": image_path, "annotation": annotation_path}.get(file, file)
    assert report["skipped"] == {reason: 1}
    assert [(s["reason"], s["file"], s["field"]) for s in report["skips"]] == [(reason, expected_file, field)]
    assert f"{reason}: 1" in printed and expected_file in printed
    assert f"{reason}: 1" in (tmp_path / "out" / "README.md").read_text()
    # The rest of the release is built.
    pose = load_dataset(str(tmp_path / "out"), "pose")
    assert pose["train"].num_rows > 0


@pytest.mark.parametrize("name, breaker, reason, file, field", SKIPS, ids=[s[0] for s in SKIPS])
def test_bad_input_with_strict_is_an_error_naming_file_and_field(release, tmp_path, capsys, name, breaker, reason,
                                                                  file, field):
    image_path, annotation_path = paths(release)
    breaker(release)
    out = tmp_path / "out"
    assert _build(release, out, "--strict") == 2
    err = capsys.readouterr().err.strip()
    expected_file = {"image": image_path, "annotation": annotation_path}.get(file, file)
    assert err.startswith(f"imagenet3d build: error: {release / expected_file}: ") and "\n" not in err
    assert reason in err and (field is None or field in err)
    assert not out.exists()


@pytest.mark.parametrize("mode, fmt, kind", [("L", "JPEG", "JPEG L"), ("CMYK", "JPEG", "JPEG CMYK"),
                                             ("RGB", "PNG", "PNG RGB")])
def test_grayscale_cmyk_and_png_named_jpeg_are_converted(release, tmp_path, mode, fmt, kind):
    image_path, _ = paths(release)
    reencode(release, mode, fmt)
    with Image.open(release / image_path) as image:
        expected = np.asarray(image.convert("RGB"))
    assert _build(release, tmp_path / "out", "--strict") == 0
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert report["skipped"] == {} and report["converted"] == {kind: 1}
    assert report["conversions"] == [{"file": image_path, "from": kind, "to": "RGB PNG"}]
    images = load_dataset(str(tmp_path / "out"), "image", split="train")
    row = images[images["image_id"].index(first_image(release))]
    assert row["image"].mode == "RGB" and row["image"].format == "PNG"
    np.testing.assert_array_equal(np.asarray(row["image"]), expected)  # lossless
    pose = load_dataset(str(tmp_path / "out"), "pose", split="train")
    assert any(i.startswith(first_image(release) + "_") for i in pose["object_id"])


def test_filtered_objects_are_counted_not_errors(release, tmp_path):
    rewrite_first_object(release, object_status="status_bad")
    assert _build(release, tmp_path / "out", "--strict") == 0
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert report["filtered"] == {"train": {"filtered: object_status is status_bad": 1}}
    image = load_dataset(str(tmp_path / "out"), "image", split="train")
    row = image[image["image_id"].index(first_image(release))]
    assert row["objects"][0]["passes_filter"] is False
    assert row["objects"][0]["skip_reason"] == "filtered: object_status is status_bad"


def test_a_hostile_npz_stops_the_build_even_without_strict(release, tmp_path, capsys):
    _, npz = paths(release)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return exec, (f"open({str(marker)!r}, 'w').close()",)

    array = np.empty(1, dtype=object)
    array[:] = [{"object_status": "status_good", "x": Payload()}]
    np.savez(release / npz, annotations=array)
    assert _build(release, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert f"{release / npz}: refusing to unpickle builtins.exec" in err
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_zip_slip_release_is_refused(tiny_release, tmp_path, capsys):
    import zipfile

    archive = tmp_path / "evil.zip"
    shutil.copy(tiny_release / "imagenet3d_v1.zip", archive)
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("imagenet3d_v1/../../escaped.txt", b"x")
    assert _build(archive, tmp_path / "out") == 2
    assert "zip slip" in capsys.readouterr().err
    assert not (tmp_path.parent / "escaped.txt").exists() and not (tmp_path / "out").exists()


# ---- imported captions ---------------------------------------------------------------------------------------


def _caption_for(release, image_id, category):
    objects = npz_objects(release, category, image_id)
    return " ".join(f"Here is a {category} {category.upper()}{k} with {POSE_TOKEN}." for k in
                    range(1, len(objects) + 1))


def test_imported_captions_are_checked_and_counted(release, tmp_path):
    ids = (release / "lists" / f"{CATEGORY}_imagenet_train.txt").read_text().split()
    lines = [{"image_id": ids[0], "caption": _caption_for(release, ids[0], CATEGORY)},
             {"image_id": ids[1], "caption": "A sofa SOFA1 with <pose6D>."},
             {"image_id": "n0_404", "caption": "nothing"}]
    captions = tmp_path / "caps.jsonl"
    captions.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "out"
    assert cli.main(["build", str(release), str(out), "--configs", "captions", "--captions", str(captions),
                     "--no-progress"]) == 0
    report = json.loads((out / "build_report.json").read_text())
    reasons = sorted(s["reason"].split(":")[0] for s in report["skips"])
    assert reasons == ["caption for an image that no list names", "imported caption does not match the annotations"]
    bad = next(s for s in report["skips"] if s["reason"].startswith("imported"))
    assert "unknown tag SOFA1" in bad["reason"] and bad["file"] == paths(release, ids[1])[1]
    rows = load_dataset(str(out), "captions", split="train")
    assert rows["image_id"] == [ids[0]] and rows[0]["caption"] == lines[0]["caption"]
    assert [e["tag"] for e in rows[0]["pose6d"]] == [f"CHAIR{k}" for k in range(1, len(rows[0]["pose6d"]) + 1)]
    assert "caps.jsonl" in (out / "README.md").read_text()
    assert cli.main(["build", str(release), str(tmp_path / "strict"), "--configs", "captions", "--captions",
                     str(captions), "--strict", "--no-progress"]) == 2


# ---- the command's own errors and the Hub ------------------------------------------------------------------


@pytest.mark.parametrize("argv, message", [
    (["build"], "SOURCE is required"),
    (["build", "/no/such/release"], "no such file or folder"),
    (["build", "--hub", "a", "b"], "with --hub give only OUT"),
])
def test_command_errors_are_one_line(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_hub_download_offline_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert cli.main(["build", "--hub", "out_never_written"]) == 2
    assert "cannot download ccvl/ImageNet3D/imagenet3d_v1.zip" in capsys.readouterr().err


def test_hub_download(tmp_path):
    import huggingface_hub.constants

    if huggingface_hub.constants.HF_HUB_OFFLINE:
        pytest.skip("needs the Hugging Face Hub and a token with access to the gated ccvl/ImageNet3D (offline here)")
    try:
        path = build_module.download_release()
    except ImageNet3DError as err:
        pytest.skip(f"ccvl/ImageNet3D not reachable with this token: {err}")
    assert path.name == "imagenet3d_v1.zip" and path.stat().st_size > 1_000_000_000

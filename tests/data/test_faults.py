"""The fault suite: broken inputs made here, each a counted skip naming the file (default) or a one-line error
naming it (--strict), and never a half-written OUT. Also a truncated zip (always an error), a decompression
bomb (refused from its header, before any pixel is allocated) and 10,000 objects in one image (linear)."""

import io
import json
import shutil
import struct
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from modeling import cli
from modeling.data import release as release_module
from modeling.data.release import MAX_IMAGE_PIXELS, Release, UnreadableFileError, image_too_large
from modeling.synthetic.generator import generate_release
from tests.helpers.dataset import good_object, tree_digest

CATEGORY = "chair"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """A tiny release (folder + zip) and a good build of it: the OUT each failing build must leave alone."""
    root = tmp_path_factory.mktemp("faults")
    release = generate_release(root / "release", ["car", CATEGORY], images_per_category=4, quirk_rate=0.0,
                               make_zip=True, progress=False)
    out = root / "out"
    assert _build(release, out) == 0
    return release, out


@pytest.fixture
def release(pristine, tmp_path):
    copy = tmp_path / "release"
    shutil.copytree(pristine[0], copy)
    return copy


def _build(source, out, *extra):
    return cli.main(["build", str(source), str(out), "--configs", "pose", "image", "cad", "--crop-size", "16",
                     "--no-progress", *extra])


def _first_id(release, split="train"):
    return (release / "lists" / f"{CATEGORY}_imagenet_{split}.txt").read_text().split()[0]


def _image(release):
    return f"images/{CATEGORY}/{_first_id(release)}.JPEG"


def _annotation(release):
    return f"annotations/{CATEGORY}/{_first_id(release)}.npz"


def _with_size(data: bytes, width: int, height: int) -> bytes:
    """A JPEG or PNG whose header claims ``width`` × ``height`` pixels (the body stays the small image's)."""
    if data.startswith(b"\x89PNG"):
        ihdr = bytearray(data[16:29])
        ihdr[0:8] = struct.pack(">II", width, height)
        return data[:16] + bytes(ihdr) + struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr))) + data[33:]
    sof = data.index(b"\xff\xc0")
    return data[:sof + 5] + struct.pack(">HH", height, width) + data[sof + 9:]


def _small(fmt):
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 40)).save(buffer, format=fmt)
    return buffer.getvalue()


# ---- each fault: (name, break the release -> the source to build, [(reason, file, field)] expected) ---------


def npz_not_a_zip(release):
    (release / _annotation(release)).write_bytes(b"just some text, not a zip archive\n")
    return release, [("corrupt annotation file", _annotation(release), "annotations")]


def empty_image(release):
    (release / _image(release)).write_bytes(b"")
    return release, [("empty file (0 bytes)", _image(release), None)]


def jpeg_bomb(release):
    (release / _image(release)).write_bytes(_with_size(_small("JPEG"), 20_000, 20_000))
    return release, [("image too large", _image(release), None)]


def png_over_our_limit(release):
    # 10,000 x 10,000 = 1e8 pixels: Pillow only warns (its error is at twice its limit); we refuse.
    (release / _image(release)).write_bytes(_with_size(_small("PNG"), 10_000, 10_000))
    return release, [("image too large", _image(release), None)]


def cad_face_past_vertices(release):
    path = release / "CAD" / CATEGORY / "01.off"
    lines = path.read_text().splitlines()
    n_vertices = int(lines[1].split()[0])
    lines[2 + n_vertices] = f"3 0 1 {n_vertices + 5}"
    path.write_text("\n".join(lines) + "\n")
    return release, [("malformed CAD model", f"CAD/{CATEGORY}/01.off", f"line {3 + n_vertices}")]


def category_folder_missing(release):
    shutil.rmtree(release / "images" / CATEGORY)
    return release, [("category folder missing", f"images/{CATEGORY}", None)] * 2  # train and val lists


def corrupt_zip_member(release):
    archive = release / "imagenet3d_v1.zip"
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(f"imagenet3d_v1/{_image(release)}")
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length + info.compress_size // 2
    data[start:start + 16] = bytes(b ^ 0xFF for b in data[start:start + 16])
    archive.write_bytes(bytes(data))
    return archive, [("unreadable file", _image(release), None)]


FAULTS = [npz_not_a_zip, empty_image, jpeg_bomb, png_over_our_limit, cad_face_past_vertices,
          category_folder_missing, corrupt_zip_member]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.__name__ for f in FAULTS])
def test_fault_is_a_counted_skip_naming_the_file(release, tmp_path, capsys, fault):
    source, expected = fault(release)
    assert _build(source, tmp_path / "out") == 0
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert [(s["reason"], s["file"], s["field"]) for s in report["skips"]] == expected
    assert report["skipped"] == {expected[0][0]: len(expected)}
    printed = capsys.readouterr()
    assert expected[0][1] in printed.out and "Traceback" not in printed.err
    assert report["rows"]["pose"]["train"] > 0  # the rest is built


@pytest.mark.parametrize("fault", FAULTS, ids=[f.__name__ for f in FAULTS])
def test_fault_with_strict_is_one_line_and_leaves_out_as_it_was(pristine, release, tmp_path, capsys, fault):
    source, expected = fault(release)
    out = tmp_path / "out"
    shutil.copytree(pristine[1], out)
    before = tree_digest(out)
    assert _build(source, out, "--strict") == 2
    err = capsys.readouterr().err.strip()
    reason, file, field = expected[0]
    where = Release(source).where(file)
    assert err.startswith(f"imagenet3d build: error: {where}: ") and "\n" not in err
    assert reason in err and (field is None or field in err)
    assert tree_digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "release"]  # no staging folder left


def test_a_truncated_zip_is_refused_whole_and_out_stays(pristine, tmp_path, capsys):
    zipped = pristine[0] / "imagenet3d_v1.zip"
    cut = tmp_path / "imagenet3d_v1.zip"
    cut.write_bytes(zipped.read_bytes()[: zipped.stat().st_size // 2])
    out = tmp_path / "out"
    shutil.copytree(pristine[1], out)
    before = tree_digest(out)
    for extra in ((), ("--strict",)):
        assert _build(cut, out, *extra) == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"imagenet3d build: error: {cut}: truncated or corrupt zip file (its central directory, at "
                       "the end, is missing or damaged): download or copy it again")
        assert tree_digest(out) == before


def test_a_bomb_is_refused_from_its_header_before_any_pixel_is_allocated(monkeypatch):
    decoded = []
    original = ImageFile.ImageFile.load

    def spy(self):
        decoded.append(self.size)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # a process that switched Pillow's guard off
    for fmt, size in (("JPEG", (20_000, 20_000)), ("PNG", (10_000, 10_000)), ("JPEG", (9_500, 9_500))):
        reason = image_too_large(_with_size(_small(fmt), *size))
        assert reason and f"{size[0]} x {size[1]}" in reason and f"{MAX_IMAGE_PIXELS:,}" in reason
    assert image_too_large(_small("JPEG")) is None and image_too_large(b"") is None  # decoder reports those
    assert decoded == []
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 89_478_485)
    assert "decompression bomb" in image_too_large(_with_size(_small("JPEG"), 20_000, 20_000)).lower()


def test_files_too_large_to_read_are_refused_before_reading(pristine, monkeypatch):
    path = f"images/{CATEGORY}/{_first_id(pristine[0])}.JPEG"
    size = (pristine[0] / path).stat().st_size
    monkeypatch.setattr(release_module, "MAX_FILE_BYTES", size - 1)
    for source in (pristine[0], pristine[0] / "imagenet3d_v1.zip"):
        with pytest.raises(UnreadableFileError, match=rf"{path}: file too large \({size:,} bytes, more than"):
            Release(source).read(path)


# ---- many objects in one image ------------------------------------------------------------------------------


def _one_image_release(root, n_objects):
    for folder in (f"images/{CATEGORY}", f"annotations/{CATEGORY}", "lists"):
        (root / folder).mkdir(parents=True)
    (root / f"images/{CATEGORY}/n1_1.JPEG").write_bytes(_small("JPEG"))
    rng = np.random.default_rng(0)
    objects = np.empty(n_objects, dtype=object)
    objects[:] = [good_object(px=float(rng.uniform(0, 16)), py=float(rng.uniform(0, 16)),
                              distance=float(rng.uniform(2, 8))) for _ in range(n_objects)]
    np.savez(root / f"annotations/{CATEGORY}/n1_1.npz", annotations=objects)
    (root / f"lists/{CATEGORY}_imagenet_train.txt").write_text("n1_1\n")
    (root / f"lists/{CATEGORY}_imagenet_val.txt").write_text("n1_1\n")
    return root




def test_ten_thousand_objects_in_one_image_build(tmp_path):
    release = _one_image_release(tmp_path / "many", 10_000)
    # That the time grows linearly with the objects is measured by benchmarks/bench_objects_per_image.py.
    assert _build(release, tmp_path / "out", "--configs", "image", "captions", "--crop-size", "16") == 0
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert report["totals"]["train"]["objects kept"] == 10_000 and report["skips"] == []
    import pyarrow.parquet as pq

    row = pq.read_table(next((tmp_path / "out" / "data/image/train").glob("*.parquet"))).to_pylist()[0]
    assert len(row["objects"]) == 10_000 and row["caption"].count("<pose6D>") == len(row["pose6d"]) == 10_000
    assert row["objects"][-1]["object_id"] == "n1_1_9999"


@pytest.mark.parametrize("category", ["car", CATEGORY])
def test_two_processes_report_and_refuse_faults_as_one(pristine, release, tmp_path, capsys, category):
    """--num-proc 2 (a spawned worker and the main process, each taking units): a fault in either's unit is the
    same counted skip as with one process, and with --strict the same one-line error, OUT left as it was."""
    first = (release / "lists" / f"{category}_imagenet_train.txt").read_text().split()[0]
    (release / "annotations" / category / f"{first}.npz").write_bytes(b"not a zip\n")
    reports = []
    for processes in ("1", "2"):
        assert _build(release, tmp_path / f"out{processes}", "--num-proc", processes) == 0
        reports.append((tmp_path / f"out{processes}" / "build_report.json").read_text())
    assert reports[0] == reports[1] and "corrupt annotation file" in reports[0]
    out = tmp_path / "strict"
    shutil.copytree(pristine[1], out)
    capsys.readouterr()
    assert _build(release, out, "--strict", "--num-proc", "2") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("imagenet3d build: error: ") and "\n" not in err
    assert f"annotations/{category}/{first}.npz" in err and "corrupt annotation file" in err
    assert tree_digest(out) == tree_digest(pristine[1])

"""Reading untrusted release files: the restricted unpickler, zip slip, per-object checks, OFF meshes."""

import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from modeling.data.release import (
    Release,
    UnsafePickleError,
    check_member_name,
    is_safe_id,
    load_annotations,
    load_npz,
)
from modeling.utils.errors import ImageNet3DError
from tests.helpers.dataset import good_object


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def object_array(objects: list) -> np.ndarray:
    array = np.empty(len(objects), dtype=object)
    array[:] = objects
    return array


def test_annotations_round_trip_with_numpy_types():
    objects = [good_object(), good_object(azimuth=np.float64(-0.5), cad_index=np.int32(1))]
    loaded = load_annotations(npz_bytes(annotations=object_array(objects)), "a.npz")
    assert len(loaded) == 2
    for got, want in zip(loaded, objects):
        assert set(got) == set(want)
        np.testing.assert_array_equal(got["bbox"], want["bbox"])
        assert got["height"] == 100 and got["height"].dtype == np.uint16
        assert got["azimuth"] == want["azimuth"] and got["object_status"] == "status_good"


def test_plain_arrays_are_read_without_pickle():
    arrays = load_npz(npz_bytes(a=np.arange(6, dtype=np.int16).reshape(2, 3), b=np.asfortranarray(np.eye(3))), "x")
    np.testing.assert_array_equal(arrays["a"], np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(arrays["b"], np.eye(3))


class _WritesAFile:
    """Pickles to a call of exec() that creates a file: what a hostile annotation could do."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return exec, (f"open({self.target!r}, 'w').write('pwned')",)


def test_crafted_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned.txt"
    data = npz_bytes(annotations=object_array([good_object(), {"payload": _WritesAFile(marker)}]))
    with pytest.raises(UnsafePickleError, match=r"evil\.npz: refusing to unpickle builtins\.exec"):
        load_annotations(data, "evil.npz")
    assert not marker.exists()
    # The file is really hostile: numpy with pickles allowed runs the payload.
    np.load(io.BytesIO(data), allow_pickle=True)["annotations"]
    assert marker.read_text() == "pwned"


@pytest.mark.parametrize("module, name", [("os", "system"), ("builtins", "eval"), ("numpy", "load"),
                                          ("numpy.core.multiarray", "_get_ndarray_c_version"), ("subprocess", "Popen")])
def test_any_other_global_is_refused(module, name):
    payload = (b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\nq\x00.")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("annotations.npy", header.getvalue() + payload)
    with pytest.raises(UnsafePickleError, match=rf"{module}\.{name}"):
        load_annotations(archive.getvalue(), "x.npz")


def test_persistent_ids_are_refused():
    class Persisting(pickle.Pickler):
        def persistent_id(self, obj):
            return "ref" if obj == "secret" else None

    buffer = io.BytesIO()
    Persisting(buffer, protocol=2).dump(["secret"])
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("annotations.npy", header.getvalue() + buffer.getvalue())
    with pytest.raises(UnsafePickleError, match="persistent id"):
        load_annotations(archive.getvalue(), "x.npz")


@pytest.mark.parametrize("data, message", [
    (b"not a zip at all", "corrupt npz"),
    (npz_bytes(other=np.zeros(3)), "no 'annotations' array"),
])
def test_corrupt_npz_names_the_file(data, message):
    with pytest.raises(ImageNet3DError, match=rf"^bad\.npz: .*{message}"):
        load_annotations(data, "bad.npz")


def test_truncated_npz_is_corrupt_not_unsafe():
    data = npz_bytes(annotations=object_array([good_object()]))
    with pytest.raises(ImageNet3DError, match="corrupt npz") as info:
        load_annotations(data[: len(data) // 2], "cut.npz")
    assert not isinstance(info.value, UnsafePickleError)


# ---- zip slip -------------------------------------------------------------------------------------------------


def _zip(path, names):
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(name, b"x")
    return path


@pytest.mark.parametrize("member", ["../evil.txt", "imagenet3d_v1/../../evil.txt", "/etc/evil", "C:/evil.txt",
                                    "imagenet3d_v1\\..\\..\\evil.txt", "imagenet3d_v1/images/../../../evil"])
def test_zip_slip_members_are_refused(tmp_path, member):
    archive = _zip(tmp_path / "r.zip", ["imagenet3d_v1/annotations/chair/a.npz", member])
    with pytest.raises(ImageNet3DError, match="zip slip"):
        Release(archive)
    assert not (tmp_path.parent / "evil.txt").exists()


def test_symlink_members_are_refused(tmp_path):
    archive = tmp_path / "r.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("imagenet3d_v1/annotations/chair/a.npz", b"x")
        link = zipfile.ZipInfo("imagenet3d_v1/images/chair/a.JPEG")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(ImageNet3DError, match="symbolic link"):
        Release(archive)


def test_member_names_inside_the_tree_pass():
    for name in ("imagenet3d_v1/images/chair/n1_2.JPEG", "a..b/c.txt", "lists/x..y.txt"):
        check_member_name(name, "r.zip")


def test_release_reads_folder_and_zip_alike(tmp_path):
    root = tmp_path / "rel" / "imagenet3d_v1"
    for path, data in {"annotations/chair/a.npz": b"A", "images/chair/a.JPEG": b"I",
                       "lists/chair_imagenet_train.txt": b"a\n\n", "CAD/chair/01.off": b"OFF"}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    archive = tmp_path / "r.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in root.rglob("*"):
            zf.write(path, path.relative_to(tmp_path / "rel").as_posix())
    for release in (Release(tmp_path / "rel"), Release(root), Release(archive)):
        assert release.categories() == ["chair"]
        assert release.list_ids("chair", "train") == ["a"] and release.list_ids("chair", "val") is None
        assert release.read("images/chair/a.JPEG") == b"I" and release.read("images/chair/b.JPEG") is None
        assert list(release.cad_paths("chair")) == [(1, "CAD/chair/01.off")]
        assert release.where("images/chair/a.JPEG").endswith("imagenet3d_v1/images/chair/a.JPEG")
    with pytest.raises(ImageNet3DError, match="no annotations/ folder"):
        Release(tmp_path)


def _windows_zip(path, files):
    """A zip whose member names use backslashes, as some Windows tools write them."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name.replace("/", "\\"), data)
    return path


FILES = {"imagenet3d_v1/annotations/chair/a.npz": b"A", "imagenet3d_v1/images/chair/a.JPEG": b"I",
         "imagenet3d_v1/lists/chair_imagenet_train.txt": b"a\n", "imagenet3d_v1/CAD/chair/01.off": b"OFF"}


def test_zip_with_backslash_member_names_is_read(tmp_path):
    release = Release(_windows_zip(tmp_path / "w.zip", FILES))
    assert release.categories() == ["chair"] and release.list_ids("chair", "train") == ["a"]
    assert release.read("images/chair/a.JPEG") == b"I" and list(release.cad_paths("chair")) == [(1, "CAD/chair/01.off")]
    assert release.where("images/chair/a.JPEG") == f"{tmp_path / 'w.zip'}/imagenet3d_v1\\images\\chair\\a.JPEG"


@pytest.mark.parametrize("member", ["imagenet3d_v1\\..\\..\\x", "..\\..\\x", "\\\\server\\share\\x",
                                    "C:\\x", "imagenet3d_v1\\images\\..\\..\\..\\x"])
def test_backslash_names_that_escape_are_still_refused(tmp_path, member):
    with pytest.raises(ImageNet3DError, match="zip slip"):
        Release(_windows_zip(tmp_path / "w.zip", {**FILES, member: b"x"}))


def test_one_file_written_both_ways_is_refused(tmp_path):
    archive = _windows_zip(tmp_path / "w.zip", FILES)
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("imagenet3d_v1/images/chair/a.JPEG", b"other")
    with pytest.raises(ImageNet3DError, match=r"name the same file"):
        Release(archive)


def test_a_zip_without_one_annotations_folder_says_what_it_holds(tmp_path):
    with pytest.raises(ImageNet3DError, match=r"no annotations/ folder .*2 file\(s\); first: 'x/a.txt', 'x/b.txt'"):
        Release(_zip(tmp_path / "a.zip", ["x/a.txt", "x/b.txt"]))
    with pytest.raises(ImageNet3DError, match=r"more than one annotations/ folder .*a/annotations/, b/annotations/"):
        Release(_zip(tmp_path / "b.zip", ["a/annotations/c/x.npz", "b/annotations/c/x.npz"]))


@pytest.mark.parametrize("data", [
    b"\xef\xbb\xbfa\r\nb\r\n", b"a\rb\r", b"a\r\n\r\n  b  \r\n", "a\r\nb\r\n".encode("utf-16"),
    "a\nb".encode("utf-16-be").join([b"\xfe\xff", b""]),
], ids=["utf-8 BOM + CRLF", "CR", "blank lines", "UTF-16 LE BOM", "UTF-16 BE BOM"])
def test_list_files_from_other_systems_are_read(tmp_path, data):
    root = tmp_path / "r"
    (root / "annotations").mkdir(parents=True)
    (root / "lists").mkdir()
    (root / "lists" / "chair_imagenet_train.txt").write_bytes(data)
    assert Release(root).list_ids("chair", "train") == ["a", "b"]


def test_undecodable_list_bytes_are_kept_visible_with_their_line(tmp_path):
    root = tmp_path / "r"
    (root / "annotations").mkdir(parents=True)
    (root / "lists").mkdir()
    (root / "lists" / "chair_imagenet_train.txt").write_bytes(b"a\n\nb\xff\n")
    entries = Release(root).list_entries("chair", "train")
    assert entries == [(1, "a"), (3, "b\ufffd")] and not is_safe_id(entries[1][1])


def test_ids_that_could_name_other_paths_are_unsafe():
    assert is_safe_id("n02818832_13") and is_safe_id("img.v2-1")
    for bad in ("../x", "a/b", "a\\b", "", ".hidden", "..", "x..y"):
        assert not is_safe_id(bad)


def test_release_refuses_what_is_not_a_release(tmp_path):
    (tmp_path / "file.txt").write_text("hello")
    with pytest.raises(ImageNet3DError, match="not a folder and not a zip"):
        Release(tmp_path / "file.txt")
    with pytest.raises(ImageNet3DError, match="no such file"):
        Release(tmp_path / "missing")
    assert os.listdir(tmp_path) == ["file.txt"]

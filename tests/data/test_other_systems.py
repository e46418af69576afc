"""A release packed or edited on another system builds the same dataset: zip member names with backslashes (some
Windows tools), list files with a UTF-8 byte-order mark and CRLF line ends, or saved as UTF-16."""

import json
import zipfile

import pytest

from modeling import cli
from modeling.synthetic.generator import generate_release
from tests.helpers.dataset import tree_digest


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A tiny release (folder and zip) and its build."""
    root = tmp_path_factory.mktemp("other_systems")
    release = generate_release(root / "release", ["car", "chair"], images_per_category=4, make_zip=True,
                               progress=False)
    out = root / "out"
    assert _build(release, out, "--strict") == 0
    return release, out


def _build(source, out, *extra):
    return cli.main(["build", str(source), str(out), "--configs", "pose", "image", "--crop-size", "16",
                     "--no-progress", *extra])


def test_a_zip_with_backslash_member_names_builds_the_same(reference, tmp_path):
    release, out = reference
    windows = tmp_path / "imagenet3d_v1.zip"
    with zipfile.ZipFile(release / "imagenet3d_v1.zip") as source, zipfile.ZipFile(windows, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename.replace("/", "\\"), source.read(info))
    assert _build(windows, tmp_path / "out", "--strict") == 0
    assert tree_digest(tmp_path / "out") == tree_digest(out)


@pytest.mark.parametrize("encode", [lambda text: b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode(),
                                    lambda text: text.replace("\n", "\r\n").encode("utf-16")],
                         ids=["UTF-8 BOM, CRLF", "UTF-16 with BOM"])
def test_list_files_saved_by_windows_editors_build_the_same(reference, tmp_path, encode):
    import shutil

    release, out = reference
    copy = tmp_path / "release"
    shutil.copytree(release, copy, ignore=shutil.ignore_patterns("*.zip"))
    for path in (copy / "lists").iterdir():
        path.write_bytes(encode(path.read_text(encoding="utf-8")))
    assert _build(copy, tmp_path / "out", "--strict") == 0
    assert tree_digest(tmp_path / "out") == tree_digest(out)
    assert json.loads((tmp_path / "out" / "build_report.json").read_text())["skips"] == []

"""The renderer: the vectorised rasteriser against a per-face reference, and the image scale of the generator."""

from __future__ import annotations

import numpy as np
import pytest

from modeling.synthetic import render
from modeling.synthetic.generator import _sample_objects, check_image_scale, synthesize_image
from modeling.synthetic.render import _face_setup, _project, rasterize
from modeling.utils.errors import ImageNet3DError


def loop_rasterize(uv: np.ndarray, depth: np.ndarray, faces: np.ndarray,
                   shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The reference: one face at a time, in order, with a strict depth test (the renderer's former code)."""
    height, width = shape
    inv_depth = np.zeros(shape, np.float64)
    face_index = np.full(shape, -1, np.int32)
    kept, bary, plane = _face_setup(uv, depth, faces)
    corners = uv[faces[kept]]
    lo = np.maximum(np.ceil(corners.min(1)), 0).astype(int)
    hi = np.minimum(np.floor(corners.max(1)), [width - 1, height - 1]).astype(int)
    for n in np.flatnonzero(np.all(hi >= lo, axis=1)):
        xs = np.arange(lo[n, 0], hi[n, 0] + 1, dtype=np.float64)
        ys = np.arange(lo[n, 1], hi[n, 1] + 1, dtype=np.float64)[:, None]
        b = bary[n]
        inside = ((b[0, 0] * xs + b[0, 1] * ys + b[0, 2] >= -1e-9) & (b[1, 0] * xs + b[1, 1] * ys + b[1, 2] >= -1e-9)
                  & (b[2, 0] * xs + b[2, 1] * ys + b[2, 2] >= -1e-9))
        z = plane[n, 0] * xs + plane[n, 1] * ys + plane[n, 2]
        window = (slice(lo[n, 1], hi[n, 1] + 1), slice(lo[n, 0], hi[n, 0] + 1))
        nearer = inside & (z > inv_depth[window])
        inv_depth[window][nearer] = z[nearer]
        face_index[window][nearer] = kept[n]
    return inv_depth, face_index


@pytest.mark.parametrize("category", ["car", "chair", "teapot", "guitar"])
@pytest.mark.parametrize("scale", [1.0, 0.5, 0.2])
def test_vectorised_rasteriser_equals_the_per_face_loop(category, scale, monkeypatch):
    rng = np.random.default_rng([3, len(category)])
    size = (int(400 * scale), int(300 * scale))
    for obj in _sample_objects(rng, category, size):
        obj = type(obj)(**{**obj.__dict__, "distance": obj.distance / scale, "px": obj.px, "py": obj.py})
        uv, depth = _project(obj, (0, 0))
        shape = (2 * size[1], 2 * size[0])
        expected = loop_rasterize(uv, depth, obj.mesh.faces, shape)
        assert (expected[1] >= 0).sum() > 20  # the object is on the canvas
        for chunk, large in ((render._CHUNK, render._LARGE), (97, 0), (97, 10**9), (1 << 30, 30)):
            # every split of the faces between the loop and the vectorised part, chunks cutting through faces' runs
            monkeypatch.setattr(render, "_CHUNK", chunk)
            monkeypatch.setattr(render, "_LARGE", large)
            got = rasterize(uv, depth, obj.mesh.faces, shape)
            assert got[0].dtype == np.float64 and got[1].dtype == np.int32
            np.testing.assert_array_equal(got[0], expected[0])
            np.testing.assert_array_equal(got[1], expected[1])


def test_coplanar_overlap_keeps_the_first_face():
    """Two copies of one triangle: equal depths everywhere; the first face wins, as with a strict in-order test."""
    uv = np.array([[1.0, 1.0], [30.0, 2.0], [5.0, 25.0]])
    depth = np.array([3.0, 3.5, 4.0])
    inv_depth, face_index = rasterize(uv, depth, np.array([[0, 1, 2], [0, 1, 2]]), (32, 32))
    assert set(np.unique(face_index)) == {-1, 0} and (inv_depth > 0).sum() > 100
    faces = np.array([[0, 1, 2], [2, 1, 0], [0, 1, 2]])  # the same plane computed in another order: rounding decides
    np.testing.assert_array_equal(rasterize(uv, depth, faces, (32, 32))[1],
                                  loop_rasterize(uv, depth, faces, (32, 32))[1])


def test_image_scale_renders_the_same_scene_smaller():
    full = synthesize_image("car", 2, image_size=(400, 300))
    half = synthesize_image("car", 2, image_size=(400, 300), image_scale=0.5)
    assert half.image.shape == (150, 200, 3)
    assert len(half.annotations) == len(full.annotations)
    for a, b in zip(full.annotations, half.annotations):
        assert (a["azimuth"], a["elevation"], a["theta"], a["viewport"]) == (b["azimuth"], b["elevation"],
                                                                              b["theta"], b["viewport"])
        assert b["distance"] == pytest.approx(2 * a["distance"])
        assert (int(b["width"]), int(b["height"])) == (200, 150)
        assert b["px"] == pytest.approx((a["px"] + 0.5) / 2 - 0.5)
        # the same object: its box scales with the image, to within the pixels of the edges
        np.testing.assert_allclose(b["bbox"], (a["bbox"] + 0.5) / 2 - 0.5, atol=1.5)
    assert synthesize_image("car", 2, image_scale=1.0).image.tobytes() == synthesize_image("car", 2).image.tobytes()


@pytest.mark.parametrize("bad", [0, -0.5, 1.5, True, "0.5"])
def test_image_scale_out_of_range_is_refused(bad):
    with pytest.raises(ImageNet3DError, match="image_scale"):
        check_image_scale(bad)


def test_cli_image_scale_release_is_byte_identical_and_matches_its_projection(tmp_path):
    """A half-resolution release: same bytes whatever the processes, the scale recorded, and every silhouette the
    projection of the written OFF with the written pose (the release's own check, at this scale)."""
    import json

    from modeling.cli import main
    from modeling.geometry import project_points
    from modeling.synthetic.meshes import read_off
    from tests.synthetic.test_generator import POSE_KEYS, _annotations, _release_files, _supersampled_fill

    folders = []
    for num_proc in (1, 2):
        out = tmp_path / f"p{num_proc}"
        assert main(["synthesize", str(out), "--categories", "car", "chair", "--images-per-category", "4",
                     "--image-scale", "0.5", "--num-proc", str(num_proc), "--no-progress"]) == 0
        folders.append(_release_files(out))
    assert folders[0] == folders[1]
    root = tmp_path / "p1"
    assert json.loads((root / "synthetic.json").read_text())["image_scale"] == 0.5
    checked = 0
    for category in ("car", "chair"):
        for index in range(4):
            sample = synthesize_image(category, index, image_scale=0.5)
            assert max(sample.image.shape[:2]) <= 251
            written = _annotations(root / "annotations" / category / f"{sample.image_id}.npz")
            for obj, full in zip(written, sample.full_masks):
                if "azimuth" not in obj or obj["distance"] <= 0:
                    continue
                vertices, faces = read_off(root / "CAD" / category / f"{obj['cad_index']:02d}.off")
                uv, _ = project_points(vertices, *(obj[k] for k in POSE_KEYS), obj["viewport"])
                fill = _supersampled_fill(uv, faces, (int(obj["width"]), int(obj["height"])))
                iou = (fill & full).sum() / (fill | full).sum()
                assert iou >= 0.9, (category, index, iou)
                checked += 1
    assert checked >= 6
    assert main(["synthesize", str(tmp_path / "bad"), "--categories", "car", "--image-scale", "2",
                 "--no-progress"]) == 2

"""modeling/visualization.py: a wireframe drawn at the ground-truth pose lands on the synthetic object's silhouette
(full images and the build's upscaled crops, and a wrong pose does not), axes land where the pose projects them,
prediction and ground truth in their two colours, several objects, the mesh loaders, and examples.png's choice."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from modeling.evaluation.plots import pick_examples
from modeling.geometry import OBJECT_AXES, project_points
from modeling.synthetic.generator import DEFAULT_CATEGORIES, synthesize_image
from modeling.synthetic.meshes import build_mesh
from modeling.utils.errors import ImageNet3DError
from modeling.visualization import (
    AXIS_COLORS,
    AXIS_LENGTH,
    PREDICTION_COLOR,
    REFERENCE_COLOR,
    draw_poses,
    load_cad_meshes,
    pose_label,
    synthetic_meshes,
)

POSE_KEYS = ("azimuth", "elevation", "theta", "distance", "px", "py")
BARE = {"labels": False, "legend": False, "boxes": False, "front_arrow": False}
"""Only the geometry: no text, box or arrow that would leave the silhouette."""


def _drawn(before: Image.Image, after: Image.Image) -> np.ndarray:
    """Pixels the drawing changed visibly (H, W) bool."""
    a, b = np.asarray(before.convert("RGB"), np.int16), np.asarray(after, np.int16)
    return np.abs(a - b).max(axis=-1) > 40


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    padded = np.pad(mask, radius)
    out = np.zeros_like(mask)
    h, w = mask.shape
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            out |= padded[dy:dy + h, dx:dx + w]
    return out


def _box_iou(mask: np.ndarray, box: tuple[float, float, float, float]) -> float:
    ys, xs = np.nonzero(mask)
    drawn = (xs.min(), ys.min(), xs.max(), ys.max())
    inter = (max(0, min(drawn[2], box[2]) - max(drawn[0], box[0]))
             * max(0, min(drawn[3], box[3]) - max(drawn[1], box[1])))
    union = ((drawn[2] - drawn[0]) * (drawn[3] - drawn[1]) + (box[2] - box[0]) * (box[3] - box[1]) - inter)
    return inter / union


SAMPLES = [("car", 1), ("chair", 3), ("aeroplane", 2), ("laptop", 0), ("teapot", 4), ("bench", 2)]


def _silhouette_scores(shift: dict | None = None) -> list[tuple[float, float]]:
    """(share of drawn pixels on the dilated full silhouette, IoU of their box with the silhouette's) per object."""
    meshes = synthetic_meshes()
    scores = []
    for category, index in SAMPLES:
        sample = synthesize_image(category, index, seed=0, quirk_rate=0.0)
        image = Image.fromarray(sample.image)
        for annotation, full in zip(sample.annotations, sample.full_masks):
            obj = {**annotation, "category": category}
            if shift:
                obj.update({k: obj[k] + v for k, v in shift.items()})
            drawn = _drawn(image, draw_poses(image, [obj], meshes=meshes, min_size=1, **BARE))
            ys, xs = np.nonzero(full)
            on = (drawn & _dilate(full, 2)).sum() / max(drawn.sum(), 1)
            scores.append((float(on), _box_iou(drawn, (xs.min(), ys.min(), xs.max(), ys.max()))))
    return scores


def test_the_wireframe_at_the_ground_truth_pose_lands_on_the_silhouette():
    """The synthetic renderer drew each object with its annotated pose: the wireframe must cover its silhouette."""
    scores = _silhouette_scores()
    assert len(scores) >= 8
    for on, iou in scores:
        assert on >= 0.97 and iou >= 0.9, scores


@pytest.mark.parametrize("shift", [{"azimuth": math.pi / 2}, {"px": 30.0}, {"distance": -2.0}],
                         ids=["azimuth+90", "px+30", "nearer"])
def test_a_wrong_pose_leaves_the_silhouette(shift):
    """The check above can fail: a quarter turn, a shifted centre or a nearer object each miss it."""
    scores = _silhouette_scores(shift)
    assert sum(on < 0.97 or iou < 0.9 for on, iou in scores) >= len(scores) // 2, scores


def test_the_wireframe_lands_on_the_upscaled_crops_of_the_build(small_dataset):
    """The build's 32-pixel crops (px, py, distance and box in the crop), drawn 8 times larger: on the box."""
    from modeling.data.loading import load_pose_split

    rows = load_pose_split(small_dataset, "validation")
    names = rows.features["category"].names
    meshes = synthetic_meshes()
    checked = 0
    for row in rows:
        x1, y1, x2, y2 = row["bbox_original"]
        if row["object_status"] != "status_good" or min(x1, y1) <= 0 or x2 >= row["width_original"] - 1 or \
                y2 >= row["height_original"] - 1:  # a truncated object's wireframe leaves its (visible) box
            continue
        obj = {**{k: row[k] for k in POSE_KEYS}, "viewport": row["viewport"], "cad_index": row["cad_index"],
               "category": names[row["category"]]}
        out = draw_poses(row["image"], [obj], meshes=meshes, **BARE)
        assert out.size == (8 * row["image"].width, 8 * row["image"].height)
        drawn = _drawn(row["image"].resize(out.size, Image.Resampling.BICUBIC), out)
        x1, y1, x2, y2 = (8 * (v + 0.5) - 0.5 for v in row["bbox"])
        box = (max(x1 - 8, 0), max(y1 - 8, 0), min(x2 + 8, out.width - 1), min(y2 + 8, out.height - 1))
        ys, xs = np.nonzero(drawn)
        inside = (xs >= box[0]) & (xs <= box[2]) & (ys >= box[1]) & (ys <= box[3])
        assert inside.mean() >= 0.95, (row["object_id"], inside.mean())
        checked += 1
    assert checked >= 5


def _blank(size: tuple[int, int] = (320, 300)) -> Image.Image:
    return Image.new("RGB", size, (128, 128, 128))


POSE = {"azimuth": math.radians(30), "elevation": math.radians(20), "theta": math.radians(10), "distance": 8.0,
        "px": 160.0, "py": 150.0}


def _axis_point(pose: dict, axis: str, along: float) -> tuple[int, int]:
    """The pixel ``along`` of the way from the projected origin to the projected axis tip."""
    points = np.array([[0.0, 0.0, 0.0], AXIS_LENGTH * np.array(OBJECT_AXES[axis])])
    uv, _ = project_points(points, *(pose[k] for k in POSE_KEYS))
    x, y = uv[0] + along * (uv[1] - uv[0])
    return round(x), round(y)


def _close(pixel: np.ndarray, color: tuple[int, int, int], tolerance: int = 12) -> bool:
    return bool(np.abs(pixel.astype(int) - np.array(color)).max() <= tolerance)


def _near(image: np.ndarray, xy: tuple[int, int], color: tuple[int, int, int]) -> bool:
    """Whether a pixel of ``color`` lies within two pixels of ``xy`` (Pillow draws a 2-pixel line up to 1.5 pixels
    off the exact one)."""
    x, y = xy
    return any(_close(p, color) for p in image[y - 2:y + 3, x - 2:x + 3].reshape(-1, 3))


def test_axes_are_drawn_where_the_pose_projects_them():
    image = _blank()
    out = np.asarray(draw_poses(image, [POSE], labels=False))
    for axis, color in AXIS_COLORS.items():
        assert _near(out, _axis_point(POSE, axis, 0.6), color), axis
    turned = {**POSE, "azimuth": POSE["azimuth"] + math.pi / 2}
    moved = np.asarray(draw_poses(image, [turned], labels=False))
    assert not _near(moved, _axis_point(POSE, "front", 0.6), AXIS_COLORS["front"])  # the front axis turned away
    assert (out[5:40, 5:40] == 128).all() and (out[-40:, -40:] == 128).all()  # nothing drawn far from the object


def test_axes_are_labelled_front_up_right():
    image, far = _blank(), {**POSE, "distance": 12.0}  # every tip well inside the image
    plain = _drawn(image, draw_poses(image, [far], labels=False))
    labelled = _drawn(image, draw_poses(image, [far]))
    for axis in OBJECT_AXES:
        x, y = _axis_point(far, axis, 1.2)  # the name sits past the tip
        assert labelled[y - 6:y + 7, x - 12:x + 13].sum() > plain[y - 6:y + 7, x - 12:x + 13].sum(), axis


def test_prediction_and_ground_truth_in_two_colours_with_a_legend():
    truth = {**POSE, "category": "car", "box": [100, 90, 220, 210]}
    guess = {**POSE, "azimuth": POSE["azimuth"] + math.radians(70), "category": "car"}
    out = np.asarray(draw_poses(_blank(), [guess], [truth], labels=False))
    for pose, color in ((truth, REFERENCE_COLOR), (guess, PREDICTION_COLOR)):
        assert _near(out, _axis_point(pose, "front", 0.6), color), color
        assert sum(_close(p, color) for p in out.reshape(-1, 3)) > 100
    no_legend = np.asarray(draw_poses(_blank(), [guess], [truth], labels=False, legend=False))
    corner = (slice(4, 30), slice(4, 60))
    assert (no_legend[corner] == 128).all() and (out[corner] != 128).any()  # the legend is top left


def test_several_objects_each_drawn_and_labelled():
    image = _blank((480, 300))
    left = {**POSE, "px": 110.0, "category": "car", "cad_index": 2, "box": [60, 100, 170, 200]}
    right = {**POSE, "px": 360.0, "azimuth": 2.0, "category": "chair", "box": [300, 100, 420, 200]}
    meshes = {("car", 2): (build_mesh("car", 2).vertices, build_mesh("car", 2).faces),
              "chair": (build_mesh("chair", 1).vertices, build_mesh("chair", 1).faces)}
    drawn = _drawn(image, draw_poses(image, [left, right], meshes=meshes))
    assert drawn[:, :240].sum() > 500 and drawn[:, 240:].sum() > 500
    label_rows = drawn[60:100]  # both labels above their boxes
    assert label_rows[:, 60:170].sum() > 100 and label_rows[:, 300:420].sum() > 100


def test_predicted_objects_draw_as_predict_returns_them():
    """predict's objects (tag, confidence, no box, no viewport); one without a pose; one placed by its box only."""
    image = _blank()
    objects = [
        {"tag": "CAR1", "category": "car", **POSE, "confidence": {"azimuth": 0.9, "elevation": 0.8, "theta": 0.7}},
        {"tag": "CAR2", "category": None, **{k: math.nan for k in ("azimuth", "elevation", "theta")},
         "distance": 8.0, "px": 60.0, "py": 60.0},
        {"category": "cup", "azimuth": 1.0, "elevation": 0.2, "theta": 0.0, "box": [200, 200, 300, 290]},
    ]
    drawn = _drawn(image, draw_poses(image, objects))
    assert drawn[150:300, 200:320].sum() > 100  # the box-placed object
    with pytest.raises(ImageNet3DError, match=r"objects\[0\]: no finite positive distance and no box"):
        draw_poses(image, [{**POSE, "distance": 0.0}])
    with pytest.raises(ImageNet3DError, match=r"references\[0\]: box must be four finite numbers"):
        draw_poses(image, [POSE], [{**POSE, "box": [1, 2, 3]}])
    with pytest.raises(ImageNet3DError, match="PIL image"):
        draw_poses(np.zeros((4, 4, 3)), [POSE])


def test_small_images_are_scaled_up_and_large_ones_kept():
    assert draw_poses(Image.new("L", (32, 24)), []).size == (352, 264)  # × 11: the short side reaches 256
    assert draw_poses(_blank(), []).size == (320, 300)
    assert draw_poses(Image.new("RGB", (32, 24)), [], min_size=1).mode == "RGB"


def test_pose_label_reads_degrees():
    obj = {"category": "car", "azimuth": math.radians(45), "elevation": math.radians(-10), "theta": 2 * math.pi}
    assert pose_label(obj) == "car  az 45° el −10° θ 0°"
    assert pose_label({"tag": "CUP1", "azimuth": math.nan, "elevation": 0, "theta": 0}) == "CUP1  no pose"


def test_cad_meshes_from_the_release_its_zip_and_a_build(synthetic_release, tmp_path):
    from modeling.data.build import build

    expected = synthetic_meshes(["car", "chair"])
    built = build(synthetic_release, tmp_path / "cad_only", configs=["cad"], progress=False)
    for source in (synthetic_release, synthetic_release / "imagenet3d_v1.zip", tmp_path / "cad_only"):
        meshes = load_cad_meshes(source, ["car", "chair"])
        assert sorted(meshes) == sorted(expected), source
        for key, (vertices, faces) in expected.items():
            assert np.allclose(meshes[key][0], vertices, atol=1e-6) and (meshes[key][1] == faces).all()
    assert len(load_cad_meshes(synthetic_release)) == len(synthetic_meshes(DEFAULT_CATEGORIES))
    assert built is not None


def test_cad_meshes_errors(small_dataset, tmp_path):
    with pytest.raises(ImageNet3DError, match="no 'cad' config.*, or pass the release folder instead$"):
        load_cad_meshes(small_dataset)
    with pytest.raises(ImageNet3DError, match="no such file or folder"):
        load_cad_meshes(tmp_path / "nothing")
    (tmp_path / "CAD" / "car").mkdir(parents=True)
    (tmp_path / "annotations").mkdir()
    (tmp_path / "CAD" / "car" / "01.off").write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n")
    with pytest.raises(ImageNet3DError, match=r"01\.off.*truncated"):
        load_cad_meshes(tmp_path)
    with pytest.raises(ImageNet3DError, match="no synthetic mesh for sundial"):
        synthetic_meshes(["sundial"])


def test_examples_pick_the_best_the_median_and_the_worst():
    errors = np.array([0.5, 0.1, np.nan, 0.3, 0.2, 2.0, 0.4, 0.6, 0.7, 1.0])
    picked = pick_examples(errors)
    assert picked == [("best", [1, 4, 3]), ("median", [0, 7, 8]), ("worst", [9, 5, 2])]  # NaN: the worst (π)
    few = pick_examples(np.array([0.3, 0.1, 0.2, 0.4]))
    assert few == [("best", [1]), ("median", [0]), ("worst", [3])]
    assert pick_examples(np.array([0.3, 0.1])) == [("best", [1]), ("median", [0])]  # each object once


def test_examples_png_draws_the_chosen_objects_on_their_crops(small_dataset, tmp_path, monkeypatch):
    """write_examples: each tile is the object's crop with its ground truth (box, distance, px, py, viewport from the
    row) and the prediction's angles at the same place; the mesh of the `cad` config when the build has one."""
    import modeling.data.loading
    import modeling.visualization
    from modeling.data.loading import load_pose_split
    from modeling.evaluation.metrics import pose_error
    from modeling.evaluation.plots import EXAMPLES_FILE, write_examples

    rows = load_pose_split(small_dataset, "validation")
    names = rows.features["category"].names
    references = [{"id": r["object_id"], "category": names[r["category"]], "azimuth": r["azimuth"],
                   "elevation": r["elevation"], "theta": r["theta"]} for r in rows]
    offsets = np.linspace(0.0, 2.5, len(references))[::-1]  # the last object is predicted best
    predictions = [{**ref, "azimuth": ref["azimuth"] + offset} for ref, offset in zip(references, offsets)]
    predictions[0] = {**predictions[0], "azimuth": math.nan, "category": None}  # no pose: the worst
    errors = pose_error(np.array([[p[k] for k in ("azimuth", "elevation", "theta")] for p in predictions]),
                        np.array([[r[k] for k in ("azimuth", "elevation", "theta")] for r in references]))
    calls = []
    real = modeling.visualization.draw_poses

    def spy(image, objects, references=None, meshes=None, **options):
        calls.append((image.size, objects, references, meshes))
        return real(image, objects, references, meshes, **options)

    monkeypatch.setattr(modeling.visualization, "draw_poses", spy)
    configs = modeling.data.loading.built_configs
    monkeypatch.setattr(modeling.data.loading, "built_configs", lambda folder: {**configs(folder), "cad": ["train"]})
    monkeypatch.setattr(modeling.visualization, "load_cad_meshes", lambda folder, categories: synthetic_meshes())
    path = write_examples(tmp_path, small_dataset, "validation", predictions, references, errors, "test")
    assert path == tmp_path / EXAMPLES_FILE and path.read_bytes()[:4] == b"\x89PNG"
    n = len(references)
    chosen = [c[2][0]["azimuth"] for c in calls]
    assert len(calls) == 9
    assert chosen[:3] == [references[i]["azimuth"] for i in (n - 1, n - 2, n - 3)]  # best first
    assert chosen[-3:] == [references[i]["azimuth"] for i in (2, 1, 0)]  # worst last
    for size, (guess,), (truth,), meshes in calls:
        row = rows[[r["object_id"] for r in rows].index(next(r["id"] for r in references
                                                               if r["azimuth"] == truth["azimuth"]))]
        assert size == row["image"].size and truth["box"] == row["bbox"] and meshes is not None
        for key in ("distance", "px", "py", "viewport", "cad_index"):
            assert guess[key] == truth[key] == row[key], key
    assert math.isnan(calls[-1][1][0]["azimuth"])  # the no-pose prediction is drawn last (worst), as no pose


@pytest.mark.parametrize("axis, azimuth, elevation", [("front", 0.0, 0.0), ("right", math.pi / 2, 0.0),
                                                      ("up", 0.0, math.pi / 2)])
def test_the_named_axes_face_the_camera_that_looks_at_them(axis, azimuth, elevation):
    """geometry.OBJECT_AXES: azimuth 0 looks at the front, azimuth 90° at the right, elevation 90° from above."""
    tip = np.array([OBJECT_AXES[axis]])
    _, depth = project_points(np.vstack([np.zeros((1, 3)), tip]), azimuth, elevation, 0.0, 5.0, 0.0, 0.0)
    assert depth[1] == pytest.approx(depth[0] - 1.0)  # the tip is one unit nearer than the origin


def test_right_is_on_the_image_right_in_the_front_view_and_up_is_up():
    tips = np.array([[0.0, 0.0, 0.0], OBJECT_AXES["right"], OBJECT_AXES["up"]])
    uv, _ = project_points(tips, 0.0, 0.0, 0.0, 5.0, 100.0, 100.0)
    assert uv[1, 0] > uv[0, 0] + 100 and abs(uv[1, 1] - uv[0, 1]) < 1e-6  # right: x grows
    assert uv[2, 1] < uv[0, 1] - 100 and abs(uv[2, 0] - uv[0, 0]) < 1e-6  # up: y shrinks (pixel rows go down)

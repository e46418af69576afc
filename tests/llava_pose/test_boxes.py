"""`predict` with boxes: each box is cut into the crop the model was trained on, so moving the box moves the answer;
several boxes, clipped boxes, the baseline, and model folders from `train` loaded from anywhere."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from modeling.box_crop import box_crop, box_crop_geometry
from modeling.cli import main
from modeling.evaluation.metrics import pose_error
from modeling.geometry import ANGLE_NAMES
from modeling.llava_pose.inference import load_model, load_predictor, predict
from modeling.utils.errors import ImageNet3DError
from tests.helpers.llava_pose import random_image

OBJECT_KEYS = {"tag", "category", *ANGLE_NAMES, "distance", "px", "py", "confidence", "box"}


def angles(obj):
    return np.array([obj[name] for name in ANGLE_NAMES], dtype=float)


def run_cli(capsys, *args):
    code = main(["predict", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_two_boxes_on_two_objects_give_the_two_objects_poses(two_objects, box_model_dir):
    """The model learnt the two objects from their official crops; from the whole image, each box gives its own
    object's category and pose (Δ < π/6), and the two answers differ as the two poses do."""
    image, objects, _ = two_objects
    model, processor = load_model(box_model_dir)
    result = predict(model, processor, [image], task="joint", boxes=[[obj["box"] for obj in objects]],
                     max_new_tokens=16)[0]
    assert len(result["objects"]) == 2 and len(result["text"].splitlines()) == 2
    for found, truth in zip(result["objects"], objects):
        assert set(found) == OBJECT_KEYS
        assert found["category"] == truth["category"], result["text"]
        assert pose_error(angles(found), angles(truth)) < math.pi / 6
        assert found["box"] == truth["box"]
        x1, y1, x2, y2 = truth["box"]
        assert x1 <= found["px"] <= x2 and y1 <= found["py"] <= y2  # the centre, back in the image's pixels
        assert found["distance"] == box_crop_geometry(truth["box"], (image.height, image.width)).distance
        assert truth["distance"] / 2 < found["distance"] < truth["distance"] * 2  # the box's estimate
    first, second = result["objects"]
    assert pose_error(angles(first), angles(second)) > math.pi / 3
    # The box, not the prompt alone, selects the object: the two crops the model sees are those of the two objects.
    crops = [np.asarray(box_crop(image, obj["box"])[0].resize((64, 64)), dtype=float) for obj in objects]
    assert np.abs(crops[0] - crops[1]).mean() > 10


@pytest.mark.parametrize("which", ["llava_pose", "baseline"])
def test_boxes_of_one_category_are_tagged_in_box_order(which, two_objects, box_model_dir, tiny_baseline):
    """Each box is answered from its own crop, where LLaVA-pose writes CATEGORY1; in the image's list the k-th box
    of a category is CATEGORYk, as a caption tags it and as the baseline does: three boxes, the first object's twice."""
    image, objects, _ = two_objects
    model, processor = load_predictor(box_model_dir if which == "llava_pose" else tiny_baseline)
    boxes = [objects[0]["box"], objects[1]["box"], objects[0]["box"]]
    found = predict(model, processor, [image], task="joint", boxes=[boxes], max_new_tokens=16)[0]["objects"]
    categories = [obj["category"] for obj in found]
    assert None not in categories and categories[0] == categories[2]
    expected = [f"{c.upper()}{categories[: k + 1].count(c)}" for k, c in enumerate(categories)]
    assert [obj["tag"] for obj in found] == expected and expected[2].endswith(("2", "3"))


def test_cli_takes_several_boxes_and_clips_with_a_note(two_objects, box_model_dir, capsys):
    image, objects, path = two_objects
    boxes = [obj["box"] for obj in objects]
    code, out, err = run_cli(capsys, "--model", box_model_dir, path, "--json", "--max-new-tokens", "16",
                             *(arg for box in boxes for arg in ("--box", ",".join(f"{v:g}" for v in box))))
    assert code == 0, err
    exact = json.loads(out)
    assert [obj["box"] for obj in exact] == boxes and all(set(obj) == OBJECT_KEYS for obj in exact)
    # A box reaching past the image's right and bottom edges: clipped, with a note, and answered as its clipped box.
    x1, y1 = boxes[0][:2]
    reaching, inside = [x1, y1, image.width + 30, image.height + 9], [x1, y1, image.width, image.height]
    answers = []
    for box in (reaching, inside):
        code, out, err = run_cli(capsys, "--model", box_model_dir, path, "--json", "--max-new-tokens", "16",
                                 "--box", ",".join(f"{v:g}" for v in box))
        assert code == 0, err
        answers.append((json.loads(out), err))
    (clipped, note), (plain, no_note) = answers
    assert "note: --box" in note and "reaches past the image" in note and "clipped to" in note
    assert "note:" not in no_note
    assert clipped == plain and clipped[0]["box"] == inside


def test_a_box_wholly_outside_or_empty_is_an_error(box_model_dir):
    model, processor = load_model(box_model_dir)
    image = random_image(0, (40, 60))
    with pytest.raises(ImageNet3DError, match=r"boxes\[0\]\[1\]: box .* lies outside the image \(60x40 pixels\)"):
        predict(model, processor, [image], task="joint", boxes=[[[0, 0, 10, 10], [70, 0, 90, 10]]])
    with pytest.raises(ImageNet3DError, match=r"boxes\[0\]\[0\]: need x1 < x2 and y1 < y2"):
        predict(model, processor, [image], task="joint", boxes=[[[10, 0, 10, 10]]])
    with pytest.warns(UserWarning, match=r"boxes\[0\]\[0\] \(-5, 0, 10, 10\) reaches past the image"):
        out = predict(model, processor, [image], task="joint", boxes=[[[-5, 0, 10, 10]]], max_new_tokens=2)
    assert out[0]["objects"][0]["box"] == [0, 0, 10, 10]


def test_the_baseline_predicts_in_the_same_format(tiny_baseline, two_objects, capsys):
    """A classification baseline folder works with predict: one object per box (or the whole image), same keys; no
    centre of its own (px, py: the box's centre) and the box's distance."""
    image, objects, path = two_objects
    model, processor = load_predictor(tiny_baseline)
    result = predict(model, processor, [image, image], task="joint",
                     boxes=[[obj["box"] for obj in objects], [objects[0]["box"]]])
    assert [len(r["objects"]) for r in result] == [2, 1] and result[0]["text"] == ""
    for found, truth in zip(result[0]["objects"], objects):
        assert set(found) == OBJECT_KEYS and found["box"] == truth["box"]
        x1, y1, x2, y2 = truth["box"]
        assert (found["px"], found["py"]) == pytest.approx(((x1 + x2) / 2, (y1 + y2) / 2))
        assert all(0 <= found[name] < 2 * math.pi for name in ANGLE_NAMES)
        assert found["tag"].startswith(found["category"].upper()) and set(found["confidence"]) == set(ANGLE_NAMES)
    whole = predict(model, processor, [image])[0]["objects"]
    assert len(whole) == 1 and whole[0]["box"] == [0, 0, image.width, image.height]
    code, out, err = run_cli(capsys, "--model", tiny_baseline, path, "--box", "1,2,30,40", "--json")
    assert code == 0, err
    assert [set(obj) for obj in json.loads(out)] == [OBJECT_KEYS]
    code, out, err = run_cli(capsys, "--model", tiny_baseline, path)
    assert code == 0 and "conf a/e/θ" in out, err

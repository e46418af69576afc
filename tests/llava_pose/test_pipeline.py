"""`pipeline("object-pose-estimation", model=DIR, trust_remote_code=True)`: the same poses as `predict`, batched,
clear errors, and loaded from a saved folder in a fresh process, offline, from the files next to the weights."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import pytest
from transformers import pipeline

from modeling.geometry import ANGLE_NAMES
from modeling.llava_pose.inference import load_model, predict
from modeling.pipeline_llava_pose import TASK, with_degrees

OBJECT_KEYS = {"tag", "category", *ANGLE_NAMES, "distance", "px", "py", "confidence", "box", "degrees"}


def same_objects(got, want):
    """Equal objects; px, py and the confidences to float rounding (one batch pads its prompts, another not)."""
    assert len(got) == len(want)
    for a, b in zip(got, want):
        exact = [k for k in a if k not in ("px", "py", "confidence")]
        assert {k: a[k] for k in exact} == {k: b[k] for k in exact}
        assert (a["px"], a["py"]) == pytest.approx((b["px"], b["py"]), abs=1e-3)
        assert a["confidence"] == pytest.approx(b["confidence"], abs=1e-4)


@pytest.fixture(scope="module")
def pipe(box_model_dir):
    return pipeline(TASK, model=str(box_model_dir), trust_remote_code=True, device="cpu")


def test_the_pipeline_gives_the_poses_of_predict(pipe, box_model_dir, two_objects):
    image, objects, path = two_objects
    boxes = [obj["box"] for obj in objects]
    model, processor = load_model(box_model_dir)
    want = predict(model, processor, [image], task="joint", boxes=[boxes], max_new_tokens=16)[0]
    got = pipe(str(path), boxes=boxes, max_new_tokens=16, return_text=True)
    assert got["text"] == want["text"]
    assert [set(obj) for obj in got["objects"]] == [OBJECT_KEYS] * 2
    same_objects(got["objects"], [with_degrees(obj) for obj in want["objects"]])
    assert [obj["category"] for obj in got["objects"]] == [obj["category"] for obj in objects]  # real answers
    degrees = got["objects"][0]["degrees"]
    assert degrees["azimuth"] == pytest.approx(math.degrees(got["objects"][0]["azimuth"]))
    assert -180 < degrees["elevation"] <= 180 and -180 < degrees["theta"] <= 180
    # No box: the caption of the whole image, as predict's describe task.
    want = predict(model, processor, [image], task="describe", max_new_tokens=12)[0]
    got = pipe(image, max_new_tokens=12, return_text=True)
    assert got["text"] == want["text"]
    same_objects(got["objects"], [with_degrees(obj) for obj in want["objects"]])


def test_the_pipeline_tags_the_boxes_of_one_category_in_order(pipe, two_objects):
    """Two boxes on one object: two objects of its category, tagged CATEGORY1 and CATEGORY2 as predict tags them."""
    image, objects, path = two_objects
    found = pipe(str(path), boxes=[objects[0]["box"]] * 2, max_new_tokens=16)
    tag = objects[0]["category"].upper()
    assert [obj["tag"] for obj in found] == [f"{tag}1", f"{tag}2"]


def test_a_list_of_images_is_batched(pipe, two_objects):
    image, objects, path = two_objects
    boxes = [obj["box"] for obj in objects]
    one_by_one = [pipe(image, boxes=boxes, max_new_tokens=16), pipe(path.as_posix(), boxes=boxes[1], max_new_tokens=16),
                  pipe(image, max_new_tokens=16)]
    for batch_size in (1, 3):
        together = pipe([image, str(path), image], boxes=[boxes, [boxes[1]], None], max_new_tokens=16,
                        batch_size=batch_size)
        assert len(together) == 3
        for got, want in zip(together, one_by_one):
            same_objects(got, want)


@pytest.mark.parametrize("case, message", [
    ("missing file", "image 'nope/photo.jpg': cannot read an image from it"),
    ("not an image", "cannot read an image from it"),
    ("box outside", r"boxes\[1\]: box \[900, 0, 950, 10\] lies outside the image"),
    ("empty box", r"boxes\[0\]: need x1 < x2 and y1 < y2"),
    ("boxes per image", "boxes: expected one list of boxes"),
    ("second image", r"images\[1\] 'nope.png': cannot read an image from it"),
])
def test_bad_input_is_one_clear_value_error(pipe, two_objects, tmp_path, case, message):
    image, objects, path = two_objects
    call = {"missing file": lambda: pipe("nope/photo.jpg"),
            "box outside": lambda: pipe(image, boxes=[objects[0]["box"], [900, 0, 950, 10]]),
            "empty box": lambda: pipe(image, boxes=[[5, 0, 5, 10]]),
            "boxes per image": lambda: pipe([image, image], boxes=[[0, 0, 5, 5]]),
            "second image": lambda: pipe([image, "nope.png"])}
    if case == "not an image":
        (tmp_path / "text.jpg").write_text("not an image")
        call[case] = lambda: pipe(str(tmp_path / "text.jpg"))
    with pytest.raises(ValueError, match=message):
        call[case]()


FRESH = textwrap.dedent("""
    import json, sys
    from transformers import pipeline
    folder, image, boxes = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    pipe = pipeline("object-pose-estimation", model=folder, trust_remote_code=True, device="cpu")
    assert type(pipe).__module__.startswith("transformers_modules"), type(pipe).__module__
    assert "modeling" not in sys.modules  # this project's package was not importable
    print(json.dumps(pipe(image, boxes=boxes, max_new_tokens=16)))
""")


def test_a_fresh_process_runs_the_saved_pipeline_offline(pipe, box_model_dir, two_objects, tmp_path):
    """No PYTHONPATH, another working directory, HF_HUB_OFFLINE: only the files next to the weights."""
    image, objects, path = two_objects
    boxes = [obj["box"] for obj in objects]
    script = tmp_path / "fresh.py"
    script.write_text(FRESH)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "modules"))
    out = subprocess.run([sys.executable, str(script), str(box_model_dir), str(path), json.dumps(boxes)],
                         check=True, cwd=tmp_path, env=env, timeout=300, capture_output=True, text=True).stdout
    same_objects(json.loads(out), json.loads(json.dumps(pipe(str(path), boxes=boxes, max_new_tokens=16))))


def test_the_pipeline_mirrors_at_test_time_as_predict_does(pipe, box_model_dir, two_objects):
    """`test_time_flip=True`: the poses of `predict(..., test_time_flip=True)`, other than the plain ones; an image
    without boxes (a caption) refuses it with a clear error."""
    image, objects, path = two_objects
    boxes = [obj["box"] for obj in objects]
    model, processor = load_model(box_model_dir)
    want = predict(model, processor, [image], task="joint", boxes=[boxes], max_new_tokens=16, test_time_flip=True)[0]
    got = pipe(str(path), boxes=boxes, max_new_tokens=16, test_time_flip=True)
    same_objects(got, [with_degrees(obj) for obj in want["objects"]])
    plain = pipe(str(path), boxes=boxes, max_new_tokens=16)
    assert [obj["confidence"] for obj in plain] != [obj["confidence"] for obj in got]
    with pytest.raises(ValueError, match="test_time_flip: for boxes"):
        pipe(image, max_new_tokens=4, test_time_flip=True)
    with pytest.raises(ValueError, match=r"images\[1\] has none"):  # before any image is generated
        pipe([image, image], boxes=[boxes, None], max_new_tokens=4, test_time_flip=True)
    with pytest.raises(ValueError, match="test_time_flip: expected True or False, got 'no'"):
        pipe(str(path), boxes=boxes, test_time_flip="no")

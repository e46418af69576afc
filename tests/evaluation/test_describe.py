"""The describe task: caption tags parsed, matched to the annotated objects by category and order, scored; and
`imagenet3d evaluate --task describe` end to end on the tiny model."""

from __future__ import annotations

import json
import math

import pytest

from modeling import cli
from modeling.data.captions import CaptionObject, template_caption
from modeling.evaluation.describe import (
    format_describe_table,
    match_objects,
    parse_caption_tags,
    reference_objects,
    score_describe,
)
from modeling.evaluation.evaluate import evaluate
from modeling.utils.errors import ImageNet3DError
from tests.helpers.evaluation import build_small
from tests.helpers.llava_pose import tiny_model_dir


def test_a_template_caption_is_well_formed():
    objects = [CaptionObject(0, "bicycle", 0.1, 0.2, 0.0, 6.0, 250.0, 80.0), CaptionObject(1, "bicycle", 3.0, 0.1, 0.0,
                                                                                            9.0, 20.0, 80.0)]
    text, pose6d = template_caption("n1_1", objects, 320)
    tags, dangling = parse_caption_tags(text)
    assert [t["tag"] for t in tags] == [e["tag"] for e in pose6d] == ["BICYCLE1", "BICYCLE2"]
    assert all(t["well_formed"] and t["category"] == "bicycle" for t in tags) and dangling == 0
    # Left to right: BICYCLE1 is the object at px 20 (list index 1).
    assert pose6d[0]["object_index"] == 1


@pytest.mark.parametrize("text, problems, dangling", [
    ("A hand barrow HAND_BARROW2 with <pose6D> is here.", [None], 0),
    ("teapot an aeroplane AEROPLANE1 with <pose6D>. teapot TEAPOT an aeroplane AEROPLANE1 with <pose6D>.",
     [None, "duplicate"], 1),
    ("bench BENCH. BED. is a bench BENCH1 with <pose6D>.", [None], 2),
    ("<pose6D>. A car with <pose6D>.", ["no tag", "no tag"], 0),
    ("A unicorn UNICORN1 with <pose6D>, a car CAR0 with <pose6D>, CAR1 with<pose6D>", ["unknown category",
                                                                                      "bad index", None], 0),
    ("BED1 bed BED1. BED1.", [], 3),
])
def test_malformed_and_duplicated_tags_are_counted(text, problems, dangling):
    tags, found = parse_caption_tags(text)
    assert [t["problem"] for t in tags] == problems
    assert [t["well_formed"] for t in tags] == [p is None for p in problems]
    assert found == dangling


def _refs(*specs, image="a"):
    return [{"object_id": f"{image}{i}", "tag": f"{c.upper()}{k}", "category": c, "instance": k, "azimuth": 0.5,
             "elevation": 0.1, "theta": 0.0} for i, (c, k) in enumerate(specs)]


def _pred(category, instance, well_formed=True, azimuth=0.5):
    return {"tag": f"{category.upper()}{instance}", "category": category, "instance": instance,
            "well_formed": well_formed, "problem": None if well_formed else "duplicate", "azimuth": azimuth,
            "elevation": 0.1, "theta": 0.0}


def test_matching_by_category_and_tag_order():
    refs = _refs(("car", 1), ("car", 2), ("bus", 1))
    # Numbered 2, 3: still the first and second car; a malformed one and a bicycle match nothing.
    preds = [_pred("car", 3), _pred("car", 2), _pred("car", 1, well_formed=False), _pred("bicycle", 1)]
    assert match_objects(preds, refs) == [(0, 1), (1, 0)]
    assert match_objects([], refs) == [] and match_objects(preds, []) == []


def test_precision_recall_and_pose_of_hand_made_captions():
    references = [{"id": "a", "objects": _refs(("car", 1), ("car", 2))},
                  {"id": "b", "objects": _refs(("bus", 1), image="b")}]
    predictions = [
        {"id": "a", "text": "", "dangling": 1, "objects": [_pred("car", 1), _pred("car", 1, well_formed=False)]},
        {"id": "b", "text": "", "dangling": 0, "objects": [_pred("bus", 1, azimuth=0.5 + math.pi)]},
    ]
    metrics = score_describe(predictions, references)
    assert metrics["objects"] == {"predicted": 3, "annotated": 3, "matched": 2, "precision": pytest.approx(2 / 3),
                                  "recall": pytest.approx(2 / 3)}
    assert metrics["tags"]["malformed"] == 2 and metrics["tags"]["well_formed_fraction"] == pytest.approx(2 / 4)
    assert metrics["tags"]["problems"] == {"duplicate": 1, "dangling": 1}
    # Matched: the car exact, the bus flipped by π -> half of the matched within π/6; the unmatched car counts π.
    assert metrics["pose_matched"]["overall"]["acc_pi6"] == pytest.approx(50.0)
    assert metrics["pose_all_objects"]["overall"]["acc_pi6"] == pytest.approx(100 / 3)
    assert "| 2 | 3 | 3 | 2 | 66.7 | 66.7 | 50.0 | 2 (dangling 1, duplicate 1) |" in format_describe_table(metrics)
    with pytest.raises(ImageNet3DError, match="same images"):
        score_describe(predictions[::-1], references)


def test_reference_objects_are_tagged_left_to_right():
    row = {"objects": [
        {"index": 0, "object_id": "x_00", "passes_filter": True, "class": "car", "azimuth": 1.0, "elevation": 0.0,
         "theta": 0.0, "distance": 5.0, "px": 300.0, "py": 10.0, "object_status": "status_good"},
        {"index": 1, "object_id": "x_01", "passes_filter": False, "class": "car", "azimuth": 2.0, "elevation": 0.0,
         "theta": 0.0, "distance": 5.0, "px": 1.0, "py": 10.0, "object_status": "status_bad"},
        {"index": 2, "object_id": "x_02", "passes_filter": True, "class": "car", "azimuth": 3.0, "elevation": 0.0,
         "theta": 0.0, "distance": 5.0, "px": 100.0, "py": 10.0, "object_status": "status_good"},
    ]}
    refs = reference_objects(row)
    assert [(r["object_id"], r["tag"], r["instance"]) for r in refs] == [("x_02", "CAR1", 1), ("x_00", "CAR2", 2)]


@pytest.fixture(scope="module")
def image_dataset(synthetic_release, tmp_path_factory):
    return build_small(synthetic_release, tmp_path_factory.mktemp("describe") / "ds", configs=("pose", "image"))


def test_evaluate_describe_end_to_end(image_dataset, tmp_path, capsys):
    model = tiny_model_dir()
    out = tmp_path / "describe"
    status = cli.main(["evaluate", "--task", "describe", "--model", str(model), "--data", str(image_dataset),
                       "--out", str(out), "--max-objects", "3", "--max-new-tokens", "12", "--batch-size", "2",
                       "--no-progress"])
    assert status == 0
    metrics = json.loads((out / "metrics.json").read_text())
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    references = [json.loads(line) for line in (out / "references.jsonl").read_text().splitlines()]
    assert metrics["images"] == len(predictions) == len(references) == 3
    assert metrics["objects"]["annotated"] == sum(len(r["objects"]) for r in references) > 0
    assert metrics["objects"]["predicted"] == sum(len(p["objects"]) for p in predictions)
    assert all(isinstance(p["text"], str) for p in predictions)
    assert "precision %" in capsys.readouterr().out
    assert json.loads((out / "run.json").read_text())["task"] == "describe"
    with pytest.raises(ImageNet3DError, match="describe task takes"):
        evaluate(model, image_dataset, "describe", tmp_path / "bad", split="train", progress=False)

"""Where the error goes (`modeling.evaluation.error_kinds`): each kind of miss on poses built to have it, the counts
agree with the official metric object by object, the chance level of a symmetric category, and the scorer's CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from modeling import cli
from modeling.evaluation.error_kinds import (
    CHANCE_ACC_PI6,
    ERROR_KINDS,
    error_breakdown,
    error_kinds,
    error_kinds_section,
)
from modeling.evaluation.metrics import pose_error
from modeling.evaluation.scoring import score_records

GT = np.array([1.0, 0.3, 0.1])
CASES = {  # prediction -> its kind, the category right unless said
    "correct": (GT + [0.2, 0.0, 0.0], True),
    "no_pose": (np.array([np.nan, 0.3, 0.1]), True),
    "wrong_category": (GT, False),
    "azimuth_flip": (GT + [np.radians(170), 0.0, 0.0], True),
    "azimuth_off": (GT + [np.radians(-90), 0.0, 0.0], True),
    "elevation_or_theta": (GT + [0.1, np.radians(50), 0.0], True),
}


def test_each_kind_on_a_pose_built_to_have_it():
    pred = np.stack([pose for pose, _ in CASES.values()])
    gt = np.tile(GT, (len(CASES), 1))
    class_correct = np.array([right for _, right in CASES.values()])
    kinds = error_kinds(pose_error(pred, gt), pred, gt, class_correct)
    assert [ERROR_KINDS[k] for k in kinds] == list(CASES)
    # Without a category (pose, open_vocab), the right pose of the wrong class is correct.
    kinds = error_kinds(pose_error(pred, gt), pred, gt, None)
    assert ERROR_KINDS[kinds[2]] == "correct"
    # An azimuth error across 0 / 2π is its short way round: 350° off is 10° off.
    wrapped = np.array([[GT[0] + np.radians(350), GT[1], GT[2]]])
    assert ERROR_KINDS[error_kinds(pose_error(wrapped, GT), wrapped, GT[None])[0]] == "correct"
    # A reference without a finite pose scores Δ = π as a prediction without one does: no pose, not "elevation".
    broken = np.array([[np.nan, 0.3, 0.1]])
    assert ERROR_KINDS[error_kinds(pose_error(GT[None], broken), GT[None], broken)[0]] == "no_pose"


@pytest.mark.parametrize("task", ["pose", "joint", "open_vocab"])
def test_the_counts_agree_with_the_official_metric(task):
    rng = np.random.default_rng(0)
    categories = ["car", "bottle", "chair", "bed"]
    references, predictions = [], []
    for i in range(400):
        gt = rng.uniform([0, -0.5, -0.3], [2 * np.pi, 0.5, 0.3])
        pred = gt + rng.normal(0, [1.0, 0.2, 0.2])
        category = categories[i % 4]
        references.append({"id": i, "category": category, **dict(zip(("azimuth", "elevation", "theta"), gt))})
        predictions.append({"id": i, "category": category if rng.random() < 0.9 else "sofa",
                            **dict(zip(("azimuth", "elevation", "theta"), pred))})
    predictions[5] = {**predictions[5], "azimuth": float("nan")}
    del predictions[7]  # a missing prediction: no pose
    result = score_records(predictions, references, task)
    breakdown = result["error_kinds"]
    assert breakdown["task_reads_category"] == (task == "joint")
    assert breakdown["overall"]["no_pose"] == 2
    assert (breakdown["overall"]["wrong_category"] > 0) == (task == "joint")
    blocks = [(breakdown["overall"], result["overall"])]
    if task == "open_vocab":
        for name in ("known", "novel"):
            counts = {kind: sum(breakdown["categories"][c][kind] for c in breakdown["categories"]
                                if (c == "chair") == (name == "novel")) for kind in ("count", "correct")}
            blocks.append((counts, result[name]))
    for counts, official in blocks:
        assert counts["count"] == official["count"]
        assert 100 * counts["correct"] / counts["count"] == pytest.approx(official["acc_pi6"])
    for counts in breakdown["categories"].values():
        assert sum(counts[kind] for kind in ERROR_KINDS) == counts["count"] == 100


def test_a_symmetric_category_is_at_chance_with_misses_four_to_one():
    """The module's claim: a uniform azimuth (elevation and theta exact) gives 1/6 within π/6, then 4 : 1 off : flip."""
    rng = np.random.default_rng(1)
    gt = np.column_stack([rng.uniform(0, 2 * np.pi, 60000), np.full(60000, 0.2), np.zeros(60000)])
    pred = gt.copy()
    pred[:, 0] = rng.uniform(0, 2 * np.pi, len(gt))
    counts = error_breakdown(pose_error(pred, gt), pred, gt, ["bottle"] * len(gt))["overall"]
    assert counts["correct"] / counts["count"] == pytest.approx(CHANCE_ACC_PI6, abs=0.01)
    assert counts["azimuth_off"] / counts["azimuth_flip"] == pytest.approx(4.0, rel=0.05)
    assert counts["elevation_or_theta"] == counts["no_pose"] == counts["wrong_category"] == 0


def test_score_prints_where_the_error_goes(tmp_path, capsys):
    references = [{"id": i, "category": c, "azimuth": 1.0, "elevation": 0.2, "theta": 0.0}
                  for i, c in enumerate(["car", "car", "chair"])]
    predictions = [{"id": 0, "category": "car", "azimuth": 1.0, "elevation": 0.2, "theta": 0.0},
                   {"id": 1, "category": "car", "azimuth": 1.0 + np.pi, "elevation": 0.2, "theta": 0.0},
                   {"id": 2, "category": "car", "azimuth": 1.0, "elevation": 0.2, "theta": 0.0}]
    for name, records in (("p.jsonl", predictions), ("r.jsonl", references)):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in records))
    args = ["score", "--predictions", str(tmp_path / "p.jsonl"), "--references", str(tmp_path / "r.jsonl"),
            "--task", "joint"]
    assert cli.main(args) == 0
    assert "Where the error goes" not in capsys.readouterr().out
    assert cli.main([*args, "--error-kinds"]) == 0
    out = capsys.readouterr().out
    assert "| car | 2 | 50.0 | 0 | 0 | 1 | 0 | 0 |" in out
    assert "| chair (novel) | 1 | 0.0 | 0 | 1 | 0 | 0 | 0 |" in out
    assert "| **all** | 3 | 33.3 | 0 | 1 | 1 | 0 | 0 |" in out
    assert cli.main([*args, "--json"]) == 0
    breakdown = json.loads(capsys.readouterr().out)["error_kinds"]
    assert breakdown["categories"]["chair"] == {"count": 1, **dict.fromkeys(ERROR_KINDS, 0), "wrong_category": 1}
    assert error_kinds_section(breakdown).startswith("### Where the error goes")
    (tmp_path / "p2.jsonl").write_text("".join(json.dumps({**r, "azimuth": r["azimuth"] + 1.0}) + "\n"
                                               for r in predictions))
    assert cli.main([*args, "--compare", str(tmp_path / "p2.jsonl"), "--error-kinds"]) == 0
    out = capsys.readouterr().out
    assert out.index("### Where the error goes: A") < out.index("### Where the error goes: B") < out.index("A − B")
    assert "| **all** | 3 | 0.0 | 0 | 1 | 0 | 2 | 0 |" in out.split("### Where the error goes: B")[1]


def test_the_demo_report_sets_the_symmetric_category_apart():
    from modeling.demo.pipeline import error_kinds_lines

    def breakdown(bottle_misses: int, car_misses: int) -> dict:
        categories = {"bottle": {"count": 10, "correct": 10 - bottle_misses, "azimuth_off": bottle_misses},
                      "car": {"count": 20, "correct": 20 - car_misses, "azimuth_flip": car_misses}}
        for counts in categories.values():
            for kind in ERROR_KINDS:
                counts.setdefault(kind, 0)
        overall = {kind: sum(c[kind] for c in categories.values()) for kind in ("count", *ERROR_KINDS)}
        return {"task_reads_category": True, "overall": overall, "categories": categories}

    results = {"llava_pose": {"joint": {"error_kinds": breakdown(8, 2)}},
               "baseline": {"joint": {"error_kinds": breakdown(9, 5)}}}
    lines = error_kinds_lines(results)
    assert len(lines) == 2  # no object status in these breakdowns
    for key, good, barely in (("llava_pose", 22, 2), ("baseline", 19, 0)):
        results[key]["joint"]["error_kinds"]["object_status"] = {"status_good": {"count": 25, "correct": good},
                                                                 "status_barely": {"count": 5, "correct": barely}}
    assert error_kinds_lines(results)[2] == ("- by object status (score): good 88.0 / 76.0 (25 objects); "
                                             "barely 40.0 / 0.0 (5 objects)")
    assert lines[0] == ("Where the joint task's misses go (LLaVA-pose / baseline, objects): azimuth flip (>150°) "
                        "2 / 5; azimuth 30-150° 8 / 9")
    assert lines[1] == ("- bottle (rotationally symmetric: 16.7 % Acc@π/6 by chance): 8 / 9 of these misses; "
                        "the other categories' score: 90.0 / 75.0")
    assert error_kinds_lines({"llava_pose": {"joint": {}}, "baseline": {"joint": {}}}) == []  # an older results.json


def test_the_references_object_status_splits_the_counts():
    references = [{"id": i, "category": "car", "azimuth": 1.0, "elevation": 0.2, "theta": 0.0,
                   "object_status": status} for i, status in enumerate(
                       ["status_barely", "status_good", "status_good", "status_partially"])]
    predictions = [{**r, "azimuth": r["azimuth"] + (np.pi if r["object_status"] != "status_good" else 0.0)}
                   for r in references]
    statuses = score_records(predictions, references, "joint")["error_kinds"]["object_status"]
    assert list(statuses) == ["status_good", "status_partially", "status_barely"]  # most visible first
    assert statuses["status_good"]["correct"] == 2 and statuses["status_barely"]["azimuth_flip"] == 1
    # Without the key (the scorer's own format) there is no status block; a missing value is "unknown".
    assert "object_status" not in score_records(predictions, [{k: v for k, v in r.items() if k != "object_status"}
                                                              for r in references], "joint")["error_kinds"]
    references[0]["object_status"] = None
    assert list(score_records(predictions, references, "pose")["error_kinds"]["object_status"])[-1] == "unknown"


def test_bad_object_status_values_are_named_not_tracebacks(tmp_path):
    from modeling.evaluation.scoring import score_files
    from modeling.utils.errors import ImageNet3DError

    pose = {"category": "car", "azimuth": 1.0, "elevation": 0.2, "theta": 0.0}
    lines = [{"id": 0, **pose, "object_status": "status_good"}, {"id": 1, **pose},
             {"id": 2, **pose, "object_status": 3}]
    (tmp_path / "r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    with pytest.raises(ImageNet3DError, match=r"r\.jsonl:3: field 'object_status' must be a string or null, got 3"):
        score_files(tmp_path / "p.jsonl", tmp_path / "r.jsonl", "pose")
    lines[2]["object_status"] = "Good"
    (tmp_path / "r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    result = score_files(tmp_path / "p.jsonl", tmp_path / "r.jsonl", "pose")
    assert list(result["error_kinds"]["object_status"]) == ["status_good", "Good", "unknown"]
    assert any("1 object_status value(s) are not ImageNet3D's" in w and "'Good'" in w for w in result["warnings"])


def test_open_vocab_breakdown_has_known_and_novel_subtotals_and_a_status_table():
    references = [{"id": i, "category": c, "azimuth": 1.0, "elevation": 0.2, "theta": 0.0, "object_status": st}
                  for i, (c, st) in enumerate([("car", "status_good"), ("car", "status_barely"),
                                               ("chair", "status_good")])]
    predictions = [{**references[0]}, {**references[1], "azimuth": 1.0 + np.pi}, {**references[2], "azimuth": 2.0}]
    table = error_kinds_section(score_records(predictions, references, "open_vocab")["error_kinds"])
    assert "| **known** | 2 | 50.0 | 0 | 1 | 0 | 0 |" in table and "| **novel** | 1 | 0.0 | 0 | 0 | 1 | 0 |" in table
    assert "| object_status | objects |" in table and "| status_barely | 1 | 0.0 | 0 | 1 | 0 | 0 |" in table
    only_known = error_kinds_section(score_records(predictions[:2], references[:2], "pose")["error_kinds"])
    assert "**known**" not in only_known  # a subtotal equal to "all" says nothing

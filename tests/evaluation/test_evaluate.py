"""``imagenet3d evaluate``: every file written, metrics.json recomputed by the scorer from the files, the three tasks
and their object lists, LLaVA-pose end to end (unparsable answers counted), clear errors, the comparison table."""

from __future__ import annotations

import json
import math

import datasets
import numpy as np
import pytest

from dataset_card import KNOWN_CATEGORIES, META_CLASS_ABBREVIATIONS
from modeling import cli
from modeling.evaluation.error_kinds import error_kinds_section
from modeling.evaluation.evaluate import OUTPUT_FILES, evaluate, evaluation_rows, model_title
from modeling.evaluation.plots import EXAMPLES_FILE, PLOT_FILES
from modeling.evaluation.scoring import format_comparison, format_metrics_table, score_files
from modeling.utils.errors import ImageNet3DError
from tests.helpers.evaluation import build_small
from tests.helpers.llava_pose import tiny_model_dir


@pytest.fixture(scope="module")
def llava_dir():
    """The tiny random LLaVA-pose (built once per session)."""
    return tiny_model_dir()


def test_the_plots_name_a_merged_model_by_its_training_folder(tmp_path):
    """`train --merge` writes `OUT/merged`: the demo's plots said "merged · joint"; they say "llava_pose/merged"."""
    assert model_title(tmp_path / "llava_pose" / "merged") == "llava_pose/merged"
    assert model_title(tmp_path / "run" / "checkpoint-50") == "run/checkpoint-50"
    assert model_title(tmp_path / "models" / "baseline") == "baseline"


def _check_files(out, task, metrics):
    for name in (*OUTPUT_FILES, *PLOT_FILES, EXAMPLES_FILE):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert json.loads((out / "metrics.json").read_text()) == metrics
    # The scorer recomputes exactly the same JSON from the two files.
    assert score_files(out / "predictions.jsonl", out / "references.jsonl", task) == metrics
    table = format_metrics_table(metrics, title=f"{task} (n={metrics['overall']['count']})")
    assert table in (out / "table.md").read_text()
    assert error_kinds_section(metrics["error_kinds"]) in (out / "table.md").read_text()
    statuses = metrics["error_kinds"]["object_status"]  # evaluate's references carry each object's status
    assert sum(c["count"] for c in statuses.values()) == metrics["overall"]["count"] and "unknown" not in statuses
    assert (out / "meta_classes.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("task", ["joint", "pose", "open_vocab"])
def test_baseline_writes_every_file_and_the_scorer_agrees(tiny_baseline, small_dataset, tmp_path, task):
    out = tmp_path / task
    metrics = evaluate(tiny_baseline, small_dataset, task, out, batch_size=7, progress=False)
    _check_files(out, task, metrics)
    references = [json.loads(line) for line in (out / "references.jsonl").read_text().splitlines()]
    pose_validation = datasets.load_dataset(str(small_dataset), "pose", split="validation")
    assert sorted(r["id"] for r in references) == sorted(pose_validation["object_id"])
    assert metrics["missing_predictions"] == 0 and metrics["overall"]["count"] == len(references)
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert all(0 <= p["azimuth"] < 2 * math.pi and p["category"] for p in predictions)
    if task == "open_vocab":
        known = sum(r["category"] in KNOWN_CATEGORIES for r in references)
        assert metrics["known"]["count"] == known and metrics["novel"]["count"] == len(references) - known > 0
        # Known first, then novel, as the open_vocab splits list them.
        assert [r["category"] in KNOWN_CATEGORIES for r in references] == [True] * known + [False] * (len(references)
                                                                                                       - known)
    run = json.loads((out / "run.json").read_text())
    assert run["model_type"] == "imagenet3d_pose_classifier" and run["objects"] == len(references)


def test_joint_is_the_3d_aware_error(tiny_baseline, small_dataset, tmp_path):
    joint = evaluate(tiny_baseline, small_dataset, "joint", tmp_path / "j", progress=False)
    pose = evaluate(tiny_baseline, small_dataset, "pose", tmp_path / "p", progress=False)
    predictions = [json.loads(line) for line in (tmp_path / "j" / "predictions.jsonl").read_text().splitlines()]
    references = [json.loads(line) for line in (tmp_path / "j" / "references.jsonl").read_text().splitlines()]
    wrong = sum(p["category"] != r["category"] for p, r in zip(predictions, references))
    assert wrong > 0  # a random model: Δ' = Δ + π for these
    assert joint["error_kinds"]["overall"]["wrong_category"] == wrong  # every pose is finite here
    assert pose["error_kinds"]["overall"]["wrong_category"] == 0  # the pose task does not read the class
    assert joint["overall"]["mean_error_deg"] == pytest.approx(pose["overall"]["mean_error_deg"]
                                                               + 180.0 * wrong / len(references))


def test_object_selection(small_dataset):
    known = evaluation_rows(small_dataset, "joint", split="validation_known")
    names = known.features["category"].names
    assert {names[c] for c in known["category"]} <= set(KNOWN_CATEGORIES)
    assert len(known) == len(datasets.load_dataset(str(small_dataset), "open_vocab", split="validation_known"))
    assert set(known["bbox"][0]) and len(known["bbox"][0]) == 4
    everything = evaluation_rows(small_dataset, "pose")
    some = evaluation_rows(small_dataset, "pose", max_objects=5)
    assert len(some) == 5 and some["object_id"][0] == everything["object_id"][0]
    assert some["object_id"][-1] == everything["object_id"][-1]
    assert len(evaluation_rows(small_dataset, "pose", split="train")) > len(everything)


def test_llava_pose_end_to_end_counts_unparsable_answers(llava_dir, small_dataset, tmp_path):
    out = tmp_path / "llava"
    metrics = evaluate(llava_dir, small_dataset, "joint", out, batch_size=3, max_objects=5, progress=False)
    _check_files(out, "joint", metrics)
    run = json.loads((out / "run.json").read_text())
    predictions = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert run["model_type"] == "llava_pose" and run["objects"] == len(predictions) == 5
    assert run["no_pose"] == sum(not math.isfinite(p["azimuth"]) for p in predictions)
    assert run["no_category"] == sum(p["category"] is None for p in predictions)
    assert all(isinstance(p["text"], str) for p in predictions)
    assert f"without a <pose6D> (error π): {run['no_pose']}" in (out / "table.md").read_text()


def test_a_lora_adapter_folder_from_train_is_evaluated(llava_dir, small_dataset, tmp_path, monkeypatch):
    from modeling.llava_pose.training import train

    monkeypatch.chdir(tmp_path)  # relative paths, as a user types them
    train(small_dataset, llava_dir, "stage2", stage=2, max_steps=1, merge=False, caption_ratio=0.0, batch_size=2,
          logging_steps=1, eval_steps=0, save_steps=0, max_eval_samples=2, seed=0, progress=False)
    adapter = tmp_path / "stage2"
    assert (adapter / "adapter_config.json").is_file() and not (adapter / "config.json").exists()
    metrics = evaluate("stage2", small_dataset, "joint", tmp_path / "eval", max_objects=3, progress=False)
    assert metrics["overall"]["count"] == 3
    assert json.loads((tmp_path / "eval" / "run.json").read_text())["model_type"] == "llava_pose"


def test_llava_pose_answers_become_predictions(llava_dir, small_dataset, tmp_path, monkeypatch):
    """The first <pose6D> object of an answer is the prediction; no object: NaN pose, no class (error π + π)."""
    rows = evaluation_rows(small_dataset, "joint", max_objects=3)
    names = rows.features["category"].names
    truth = [(names[r["category"]], r["azimuth"], r["elevation"], r["theta"]) for r in rows]
    prompts_seen = []

    def fake_predict(model, processor, images, task, prompts, max_new_tokens, test_time_flip=False):
        prompts_seen.extend(prompts)
        results = []
        for category, azimuth, elevation, theta in truth[len(prompts_seen) - len(images):len(prompts_seen)]:
            obj = {"tag": "X1", "category": category, "azimuth": azimuth, "elevation": elevation, "theta": theta,
                   "confidence": {"azimuth": 1.0, "elevation": 1.0, "theta": 1.0}}
            results.append({"text": "It is ...", "objects": [obj, {**obj, "category": None}]})
        if len(prompts_seen) == len(truth):  # the last object: an answer without a <pose6D>
            results[-1] = {"text": "It is a.", "objects": []}
        return results

    monkeypatch.setattr("modeling.llava_pose.inference.predict", fake_predict)
    metrics = evaluate(llava_dir, small_dataset, "joint", tmp_path / "fake", batch_size=2, max_objects=3,
                       progress=False)
    assert len(prompts_seen) == 3 and all("Name the object in the box [" in p for p in prompts_seen)
    run = json.loads((tmp_path / "fake" / "run.json").read_text())
    assert run["no_pose"] == run["no_category"] == 1
    # Two perfect answers (error 0) and one missing (Δ' = π + π).
    assert metrics["overall"]["acc_pi18"] == pytest.approx(200 / 3)
    assert metrics["overall"]["mean_error_deg"] == pytest.approx(360 / 3)


def test_an_answer_without_a_pose_scores_pi(llava_dir, small_dataset, tmp_path):
    # max_new_tokens=1 cuts every answer before its <pose6D>: all NaN, all error π, all counted.
    metrics = evaluate(llava_dir, small_dataset, "pose", tmp_path / "cut", max_objects=3, max_new_tokens=1,
                       progress=False)
    run = json.loads((tmp_path / "cut" / "run.json").read_text())
    assert run["no_pose"] == run["no_category"] == 3
    assert metrics["overall"]["median_error_deg"] == pytest.approx(180.0)
    assert score_files(tmp_path / "cut" / "predictions.jsonl", tmp_path / "cut" / "references.jsonl") == metrics


def test_bad_input_is_a_clear_error(tiny_baseline, small_dataset, synthetic_release, tmp_path, capsys):
    other = tmp_path / "bert"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ImageNet3DError, match=r"config.json: model_type is 'bert'"):
        evaluate(other, small_dataset, "joint", tmp_path / "o")
    with pytest.raises(ImageNet3DError, match="no config.json"):
        evaluate(tmp_path, small_dataset, "joint", tmp_path / "o")
    with pytest.raises(ImageNet3DError, match="not a built ImageNet3D dataset"):
        evaluate(tiny_baseline, synthetic_release, "joint", tmp_path / "o")  # a release, not a build
    # Every task reads the `pose` config (open_vocab's splits are its known / novel rows, with their boxes).
    open_vocab_only = build_small(synthetic_release, tmp_path / "open_vocab_only", configs=("open_vocab",))
    with pytest.raises(ImageNet3DError, match="no 'pose' config"):
        evaluate(tiny_baseline, open_vocab_only, "open_vocab", tmp_path / "o")
    with pytest.raises(ImageNet3DError, match="no split 'test'"):
        evaluate(tiny_baseline, small_dataset, "pose", tmp_path / "o", split="test")
    with pytest.raises(ImageNet3DError, match="open_vocab always"):
        evaluate(tiny_baseline, small_dataset, "open_vocab", tmp_path / "o", split="train")
    capsys.readouterr()
    code = cli.main(["evaluate", "--model", str(other), "--data", str(small_dataset), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and str(other / "config.json") in err
    assert not (tmp_path / "o").exists()


def test_cli_writes_the_table(tiny_baseline, small_dataset, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", "--help"])
    assert exit_info.value.code == 0 and "--max-objects" in capsys.readouterr().out
    code = cli.main(["evaluate", "--model", str(tiny_baseline), "--data", str(small_dataset), "--task", "open_vocab",
                     "--out", str(tmp_path / "cli"), "--no-progress", "--batch-size", "16"])
    out = capsys.readouterr().out
    assert code == 0 and "known Acc@π/6" in out and "novel Acc@π/6" in out
    assert (tmp_path / "cli" / "metrics.json").is_file()


def test_comparison_table(tiny_baseline, small_dataset, tmp_path):
    joint = evaluate(tiny_baseline, small_dataset, "joint", None, progress=False)
    open_vocab = evaluate(tiny_baseline, small_dataset, "open_vocab", None, progress=False)
    table = format_comparison({"baseline": joint, "other": joint}, title="joint").splitlines()
    assert table[0].startswith("| joint | Avg |") and all(a in table[0] for a in META_CLASS_ABBREVIATIONS.values())
    assert table[2].startswith(f"| baseline | {joint['overall']['acc_pi6']:.1f} |")
    assert table[2].endswith(f"| {joint['overall']['count']} |") and len(table) == 4
    rows = format_comparison({"baseline": open_vocab}, metric="median_error_deg").splitlines()[2:]
    assert [r.split(" | ")[0] for r in rows] == ["| baseline known", "| baseline novel"]
    assert rows[1].split(" | ")[1] == f"{open_vocab['novel']['median_error_deg']:.1f}"
    with pytest.raises(ImageNet3DError, match="metric"):
        format_comparison({"baseline": joint}, metric="f1")
    assert np.isfinite(joint["overall"]["acc_pi6"])


def test_test_time_flip_is_recorded_and_refused_for_describe(tiny_baseline, llava_dir, small_dataset, tmp_path,
                                                             capsys):
    """--test-time-flip changes the predictions (the mirror's half), is written to run.json, and is refused for the
    describe task, whose captions' objects move with the mirror."""
    code = cli.main(["evaluate", "--model", str(tiny_baseline), "--data", str(small_dataset), "--task", "pose",
                     "--out", str(tmp_path / "flip"), "--no-progress", "--test-time-flip"])
    assert code == 0 and json.loads((tmp_path / "flip" / "run.json").read_text())["test_time_flip"] is True
    evaluate(tiny_baseline, small_dataset, "pose", tmp_path / "plain", progress=False)
    assert json.loads((tmp_path / "plain" / "run.json").read_text())["test_time_flip"] is False
    read = [(tmp_path / name / "predictions.jsonl").read_text() for name in ("flip", "plain")]
    assert read[0] != read[1]
    assert "test-time mirroring" in (tmp_path / "flip" / "table.md").read_text()
    assert "test-time mirroring" not in (tmp_path / "plain" / "table.md").read_text()
    capsys.readouterr()
    assert cli.main(["evaluate", "--model", str(llava_dir), "--data", str(small_dataset), "--task", "describe",
                     "--out", str(tmp_path / "d"), "--no-progress", "--test-time-flip"]) == 2
    assert "--test-time-flip" in capsys.readouterr().err
    with pytest.raises(ImageNet3DError, match="test_time_flip: expected True or False"):
        evaluate(tiny_baseline, small_dataset, "pose", None, progress=False, test_time_flip="no")


def test_test_time_flip_reaches_llava_poses_predict(llava_dir, small_dataset, monkeypatch):
    """evaluate's LLaVA-pose path hands test_time_flip to predict (and leaves it off by default)."""
    from modeling.llava_pose import inference

    seen = []
    real = inference.predict

    def recording_predict(*args, test_time_flip=False, **kwargs):
        seen.append(test_time_flip)
        return real(*args, test_time_flip=test_time_flip, **kwargs)

    monkeypatch.setattr("modeling.llava_pose.inference.predict", recording_predict)
    evaluate(llava_dir, small_dataset, "joint", None, max_objects=2, progress=False, test_time_flip=True)
    evaluate(llava_dir, small_dataset, "joint", None, max_objects=2, progress=False)
    assert seen == [True, False]

"""The README's main job, in its small plan: every stage runs and results.json is consistent."""

import json

import pytest

from modeling import cli
from modeling.demo.pipeline import report, stage_seconds
from modeling.evaluation.scoring import score_files


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    assert cli.main(["demo", "--out", str(out), "--plan", "small", "--num-proc", "1", "--no-progress"]) == 0
    return out, json.loads((out / "results.json").read_text())


def test_every_stage_is_timed_and_the_models_are_written(demo):
    out, results = demo
    assert set(results["stages"]) == {
        "synthesize", "build", "train_baseline", "init_llava_pose", "train_llava_pose_stage1",
        "train_llava_pose_stage2", "evaluate_llava_pose_joint", "evaluate_llava_pose_open_vocab",
        "evaluate_baseline_joint", "evaluate_baseline_open_vocab", "evaluate_llava_pose_describe"}
    seconds = stage_seconds(results)
    assert all(value > 0 for value in seconds.values())
    assert results["total_seconds"] == pytest.approx(sum(seconds.values()), abs=0.05)
    stages, plan = results["stages"], results["plan"]
    assert stages["synthesize"]["items"] == results["release"]["images"] == stages["build"]["items"]
    assert stages["train_baseline"]["items"] == plan["baseline_steps"] * plan["batch_size"]
    assert stages["train_llava_pose_stage1"]["items"] == plan["stage1_steps"] * plan["batch_size"]
    assert stages["evaluate_baseline_joint"]["items"] == results["baseline"]["joint"]["overall"]["count"]
    assert stages["evaluate_baseline_joint"]["unit"] == "objects" and stages["init_llava_pose"]["items"] is None
    for stage in stages.values():
        if stage["items"]:
            assert stage["items_per_s"] == pytest.approx(stage["items"] / stage["seconds"], rel=0.05)
    assert "images/s" in report(results)
    # Both models' pose tasks with test-time mirroring (the plans' default), recorded where a reader looks.
    assert plan["test_time_flip"] is True and "(test-time mirroring)" in report(results)
    for task in ("joint", "open_vocab"):
        for model in ("baseline", "llava_pose"):
            assert json.loads((out / "eval" / f"{model}_{task}" / "run.json").read_text())["test_time_flip"] is True
            assert "test-time mirroring" in (out / "eval" / f"{model}_{task}" / "table.md").read_text()
    assert (out / "models" / "llava_pose" / "merged" / "config.json").is_file()
    assert (out / "models" / "baseline" / "config.json").is_file()


def test_stage_seconds_reads_both_layouts():
    assert stage_seconds({"stages": {"build": 8.8}}) == {"build": 8.8}
    assert stage_seconds({"stages": {"build": {"seconds": 8.8, "items": 3, "unit": "images",
                                               "items_per_s": 0.34}}}) == {"build": 8.8}


def test_the_trainers_get_the_small_plans_numbers(demo):
    out, _ = demo
    models = out / "models"
    baseline = json.loads((models / "baseline" / "training.json").read_text())["options"]
    assert baseline == {"size": "small", "image_size": 32, "known_only": True, "epochs": 30.0, "max_steps": 3,
                        "learning_rate": 1e-3, "batch_size": 4, "weight_decay": 0.05, "warmup_ratio": 0.05,
                        "hflip": 0.5, "augment": True, "whole_image_ratio": 0.25, "seed": 0, "logging_steps": 10,
                        "save_steps": 0, "save_total_limit": None, "resume": None}
    expected = {
        "llava_pose_stage1": {"stage": 1, "known_only": True, "freeze_vision_tower": True, "max_steps": 4,
                              "batch_size": 4, "learning_rate": 1e-3, "caption_ratio": 0.0, "merge": False},
        "llava_pose": {"stage": 2, "known_only": True, "freeze_vision_tower": False, "max_steps": 3,
                       "batch_size": 4, "learning_rate": 2e-4, "caption_ratio": 0.25, "merge": True},
    }
    common = {"epochs": 3.0, "weight_decay": 0.0, "warmup_ratio": 0.03, "eval_steps": 0, "save_steps": 0,
              "lora_rank": 16, "lora_alpha": 32.0, "hflip": True, "augment": True, "seed": 0}
    for folder, numbers in expected.items():
        options = json.loads((models / folder / "training_summary.json").read_text())["options"]
        assert {name: options[name] for name in {**numbers, **common}} == {**numbers, **common}, folder


@pytest.mark.parametrize("model", ["llava_pose", "baseline"])
@pytest.mark.parametrize("task", ["joint", "open_vocab"])
def test_results_are_the_scorers_json_of_the_written_predictions(demo, model, task):
    out, results = demo
    folder = out / "eval" / f"{model}_{task}"
    for name in ("predictions.jsonl", "references.jsonl", "metrics.json", "table.md", "meta_classes.png",
                 "error_histogram.png", "azimuth_error_polar.png"):
        assert (folder / name).is_file(), name
    rescored = score_files(folder / "predictions.jsonl", folder / "references.jsonl", task)
    assert results[model][task] == json.loads(json.dumps(rescored))
    assert results[model][task]["overall"]["acc_pi6"] is not None
    if task == "open_vocab":
        assert results[model][task]["known"]["count"] > 0 and results[model][task]["novel"]["count"] > 0
    else:  # joint is evaluated on the known categories' validation split only
        from dataset_card import KNOWN_CATEGORIES
        refs = [json.loads(line) for line in (folder / "references.jsonl").read_text().splitlines()]
        assert refs and all(r["category"] in KNOWN_CATEGORIES for r in refs)


@pytest.mark.parametrize("task", ["joint", "open_vocab"])
def test_llava_pose_and_the_baseline_are_compared_object_by_object(demo, task):
    import numpy as np

    out, results = demo
    paired = results["paired"][task]
    assert set(paired) == ({"overall", "known", "novel"} if task == "open_vocab" else {"overall"})
    overall = paired["overall"]
    assert overall["count"] == results["baseline"][task]["overall"]["count"]
    assert overall["accuracy_a"] == pytest.approx(results["llava_pose"][task]["overall"]["acc_pi6"])
    assert overall["accuracy_b"] == pytest.approx(results["baseline"][task]["overall"]["acc_pi6"])
    assert overall["difference"] == pytest.approx(overall["accuracy_a"] - overall["accuracy_b"])
    assert np.isclose(overall["difference"] * overall["count"] / 100, overall["a_only"] - overall["b_only"])
    assert "LLaVA-pose − baseline: " in report(results)
    assert "Where the joint task's misses go (LLaVA-pose / baseline, objects)" in report(results)


def test_the_describe_task_is_in_the_results(demo):
    out, results = demo
    describe = results["llava_pose"]["describe"]
    assert describe == json.loads((out / "eval" / "llava_pose_describe" / "metrics.json").read_text())
    assert describe["images"] == 4 and describe["objects"]["annotated"] > 0
    for name in ("predictions.jsonl", "references.jsonl", "table.md", "run.json"):
        assert (out / "eval" / "llava_pose_describe" / name).is_file(), name
    from modeling.demo.pipeline import report
    assert "object precision" in report(results) and "malformed" in report(results)


def test_a_foreign_output_folder_is_refused(tmp_path, capsys):
    (tmp_path / "precious.txt").write_text("keep me")
    assert cli.main(["demo", "--out", str(tmp_path), "--plan", "small", "--no-progress"]) == 2
    assert "not an earlier demo output" in capsys.readouterr().err
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_no_test_time_flip_evaluates_single_crop(monkeypatch, tmp_path, capsys):
    """`--no-test-time-flip` hands run_demo the plan with mirroring off (the rest of the plan unchanged)."""
    import dataclasses

    from modeling.demo import pipeline

    seen = []
    monkeypatch.setattr("modeling.cli.demo.run_demo", lambda out, plan, **kwargs: seen.append(plan) or {})
    monkeypatch.setattr("modeling.cli.demo.report", lambda results: "")
    assert cli.main(["demo", "--out", str(tmp_path), "--plan", "small", "--no-test-time-flip", "--no-progress"]) == 0
    assert seen == [dataclasses.replace(pipeline.PLANS["small"], test_time_flip=False)]
    assert cli.main(["demo", "--out", str(tmp_path), "--plan", "small", "--no-progress"]) == 0
    assert seen[-1] == "small"

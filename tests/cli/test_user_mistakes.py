"""Mistakes users make on the command line: each is one line naming the thing, exit status 2, and nothing written
where it would mix with or overwrite something else."""

from __future__ import annotations

from pathlib import Path

import pytest

from modeling.cli import build_parser, main
from tests.helpers.llava_pose import random_image, tiny_model_dir


def run(capsys, *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    err = capsys.readouterr().err
    return status, err


def test_an_option_prefix_is_not_another_option():
    # --lr is learning_rate's alias in both trainers, never a prefix of --lr-scheduler.
    for command in ("train", "train-baseline"):
        argv = [command, "--data", "d", "--output", "o", "--lr", "0.001"] + (["--model", "m"] if command == "train"
                                                                               else [])
        assert build_parser(argv).parse_args(argv).learning_rate == 0.001
    argv = ["train", "--data", "d", "--model", "m", "--output", "o", "--lr-sched", "cosine"]
    with pytest.raises(SystemExit) as exit_info:
        build_parser(argv).parse_args(argv)
    assert exit_info.value.code == 2


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_a_path_error_is_one_line_without_errno(capsys, tmp_path, kind):
    predictions = tmp_path / "nope.jsonl" if kind == "missing" else tmp_path
    references = tmp_path / "r.jsonl"
    references.write_text('{"id": "a", "category": "car", "azimuth": 0, "elevation": 0, "theta": 0}\n')
    status, err = run(capsys, "score", "--predictions", str(predictions), "--references", str(references))
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert str(predictions) in err and "[Errno" not in err and "Traceback" not in err


def test_a_lora_adapter_folder_points_to_the_merged_model(capsys, tmp_path, small_dataset):
    adapter = tmp_path / "stage2"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    image = tmp_path / "photo.png"
    random_image(0).save(image)
    for argv in (["evaluate", "--model", str(adapter), "--data", str(small_dataset), "--out", str(tmp_path / "e")],
                 ["predict", "--model", str(adapter), str(image)]):
        status, err = run(capsys, *argv)
        assert status == 2 and "LoRA adapter" in err and "merged" in err, err


def test_a_folder_of_models_or_a_dataset_given_as_the_model_says_what_it_holds(capsys, tmp_path, small_dataset,
                                                                               tiny_baseline):
    """`--model demo_output/models` (the folder above the models) names the model folders inside; `--model` given a
    built dataset says so; a baseline asked to describe says it writes no caption."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "baseline").symlink_to(tiny_baseline, target_is_directory=True)
    (models / "llava_pose").mkdir()
    (models / "llava_pose" / "adapter_config.json").write_text("{}")
    (models / "notes").mkdir()
    image = tmp_path / "photo.png"
    random_image(0).save(image)
    status, err = run(capsys, "predict", "--model", str(models), str(image))
    assert status == 2 and "it holds model folders: baseline, llava_pose: give one of them" in err, err
    status, err = run(capsys, "predict", "--model", str(small_dataset), str(image))
    assert status == 2 and "it holds a built dataset (build_report.json)" in err, err
    status, err = run(capsys, "predict", "--model", str(tiny_baseline), str(image), "--task", "describe")
    assert status == 0 and "the classification baseline writes no caption" in err, err


def test_trainers_refuse_to_overwrite_another_kind_of_folder(capsys, tmp_path, small_dataset, tiny_baseline):
    llava = tiny_model_dir()
    config_before = (llava / "config.json").read_bytes()
    status, err = run(capsys, "train-baseline", "--data", str(small_dataset), "--output", str(llava),
                      "--max-steps", "1", "--no-progress")
    assert status == 2 and "another model" in err and (llava / "config.json").read_bytes() == config_before
    status, err = run(capsys, "train", "--data", str(small_dataset), "--model", str(llava), "--output",
                      str(tiny_baseline), "--stage", "1", "--max-steps", "1", "--no-progress")
    assert status == 2 and "another model" in err
    status, err = run(capsys, "train", "--data", str(small_dataset), "--model", str(llava), "--output",
                      str(small_dataset), "--stage", "1", "--max-steps", "1", "--no-progress")
    assert status == 2 and "a built dataset" in err


def test_evaluate_refuses_an_out_folder_that_is_something_else(capsys, tmp_path, small_dataset):
    before = sorted(p.name for p in Path(small_dataset).iterdir())
    status, err = run(capsys, "evaluate", "--model", str(tiny_model_dir()), "--data", str(small_dataset),
                      "--out", str(small_dataset), "--max-objects", "2", "--no-progress")
    assert status == 2 and "a built dataset" in err
    assert sorted(p.name for p in Path(small_dataset).iterdir()) == before
    afile = tmp_path / "a_file"
    afile.write_text("x")
    status, err = run(capsys, "evaluate", "--model", str(tiny_model_dir()), "--data", str(small_dataset),
                      "--out", str(afile), "--max-objects", "2", "--no-progress")
    assert status == 2 and "not a folder" in err and afile.read_text() == "x"


@pytest.mark.parametrize("device", ["gpu", "cuda:7"])
def test_a_device_this_machine_lacks_is_a_usage_error(device):
    argv = ["evaluate", "--model", "m", "--data", "d", "--device", device]
    with pytest.raises(SystemExit) as exit_info:
        build_parser(argv).parse_args(argv)
    assert exit_info.value.code == 2


@pytest.mark.parametrize("option, value", [("--crop-size", "0"), ("--num-proc", "0"), ("--jpeg-quality", "99")])
def test_build_names_the_option_that_is_out_of_range(capsys, tmp_path, option, value):
    status, err = run(capsys, "build", str(tmp_path), str(tmp_path / "out"), option, value)
    assert status == 2 and f"{option}: must be" in err and f"got {value}" in err, err


def test_init_model_base_must_be_a_stock_llava_folder(capsys, tmp_path):
    status, err = run(capsys, "init-model", str(tmp_path / "out"), "--base", str(tiny_model_dir()))
    assert status == 2 and "'llava_pose'" in err and "stock LLaVA" in err, err


@pytest.mark.parametrize("option, value", [("--images-per-category", "0"), ("--novel-images-per-category", "-3"),
                                           ("--num-proc", "0"), ("--quirk-rate", "2"), ("--image-scale", "0")])
def test_synthesize_names_the_flag_out_of_range(capsys, tmp_path, option, value):
    status, err = run(capsys, "synthesize", str(tmp_path / "out"), option, value, "--no-progress")
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"imagenet3d synthesize: error: {option}: ") and value.lstrip("-") in err, err
    assert not (tmp_path / "out").exists()

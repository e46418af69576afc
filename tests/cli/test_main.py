"""The `imagenet3d` command as users meet it: --no-progress silences every bar, a closed pipe ends quietly,
tables of angles say their units."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modeling.cli import COMMANDS, build_parser
from modeling.llava_pose.inference import format_objects_table
from tests.helpers.llava_pose import tiny_model_dir

# Marks a tqdm bar leaves in stderr: a percentage bar or a rate.
BAR_MARKS = ("%|", "it/s]", "s/it]", "Loading weights", "Generating ")


def _imagenet3d(*args: str, stdout=subprocess.PIPE) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
    env.pop("HF_DATASETS_DISABLE_PROGRESS_BARS", None)
    return subprocess.Popen([sys.executable, "-m", "modeling.cli", *args], stdout=stdout,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_no_progress_silences_the_libraries_bars_too(small_dataset: Path, tmp_path: Path) -> None:
    args = ["evaluate", "--model", str(tiny_model_dir()), "--data", str(small_dataset), "--task", "joint",
            "--max-objects", "4", "--out", str(tmp_path / "eval")]
    noisy = _imagenet3d(*args)
    _, noisy_err = noisy.communicate(timeout=300)
    assert noisy.returncode == 0, noisy_err
    assert any(mark in noisy_err for mark in BAR_MARKS), "without --no-progress the bars show (the check can fail)"

    quiet = _imagenet3d(*args[:-1], str(tmp_path / "eval_quiet"), "--no-progress")
    _, quiet_err = quiet.communicate(timeout=300)
    assert quiet.returncode == 0, quiet_err
    shown = [mark for mark in BAR_MARKS if mark in quiet_err]
    assert not shown, f"--no-progress still shows bars ({shown}):\n{quiet_err}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_takes_no_progress(command: str) -> None:
    argv = [command, "dataset", "DIR", "--repo-id", "a/b"] if command == "publish" else [command]
    parser = build_parser(argv)
    subparser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    assert "--no-progress" in subparser.format_help(), command


def test_predict_with_no_progress_shows_no_bar(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (40, 30), (90, 120, 30)).save(tmp_path / "photo.png")
    args = ["predict", "--model", str(tiny_model_dir()), str(tmp_path / "photo.png"), "--box", "2,2,30,20",
            "--max-new-tokens", "4"]
    noisy = _imagenet3d(*args)
    _, noisy_err = noisy.communicate(timeout=300)
    assert noisy.returncode == 0, noisy_err
    assert any(mark in noisy_err for mark in BAR_MARKS), "without --no-progress the bars show (the check can fail)"
    quiet = _imagenet3d(*args, "--no-progress")
    _, quiet_err = quiet.communicate(timeout=300)
    assert quiet.returncode == 0, quiet_err
    assert not [mark for mark in BAR_MARKS if mark in quiet_err], quiet_err


def test_output_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    records = [{"id": f"o{i}", "category": "car", "azimuth": 0.1 * i, "elevation": 0.2, "theta": 0.0}
               for i in range(50)]
    for name in ("p.jsonl", "r.jsonl"):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    process = _imagenet3d("score", "--predictions", str(tmp_path / "p.jsonl"),
                          "--references", str(tmp_path / "r.jsonl"), "--json")
    process.stdout.close()  # the reader is gone before anything is written, as `| head -c 0` would do
    stderr = process.stderr.read()
    process.wait(timeout=120)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert process.returncode == 1


def test_objects_table_states_units_and_signed_elevation_and_theta() -> None:
    obj = {"tag": "CAR1", "category": "car", "azimuth": math.radians(49.5), "elevation": math.radians(355.5),
           "theta": math.radians(184.5), "distance": 4.0, "px": 32.0, "py": 30.0,
           "confidence": {"azimuth": 0.9, "elevation": 0.8, "theta": 0.7}}
    table = format_objects_table([obj])
    header, _, row, note = table.splitlines()
    assert "azim (°)" in header and "elev (°)" in header and "θ (°)" in header
    assert row.split()[2:5] == ["49.5", "-4.5", "-175.5"]
    assert "CAD units" in note and "pixels" in note


def test_every_command_leaves_the_process_group_it_ran_in(tmp_path: Path) -> None:
    """A command run in a launch's process group leaves it before returning, even when it fails: gloo's group alive
    at interpreter exit can abort the process (SIGABRT) after the work is done (modeling.utils.process_group)."""
    import torch.distributed

    from modeling.cli import main

    torch.distributed.init_process_group("gloo", store=torch.distributed.HashStore(), rank=0, world_size=1)
    try:
        assert torch.distributed.is_initialized()
        assert main(["score", "--predictions", str(tmp_path / "missing.jsonl"),
                     "--references", str(tmp_path / "missing.jsonl")]) == 2
        assert not torch.distributed.is_initialized()
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()

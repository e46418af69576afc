"""`imagenet3d train` on 2 CPU processes (DDP, gloo, `accelerate launch`; see tests/helpers/multiprocess.py).

Two processes with batch b follow one process with batch 2b: the same examples (per-item draws, the same data
order), the same per-token and per-pose weighting of the loss (PoseTrainer weighs each process's share), so the same
loss curve and the same weights up to float rounding. LoRA dropout is 0 here: dropout draws are per process. Stage 1
runs with --freeze-vision-tower: a training BatchNorm tower normalises each process's batch on its own (see the
README). Also: `--resume` across a change of process count, the main process alone writing, and no hang when a
process's batches never hold a <pose6D>.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from modeling.data import build as build_module
from modeling.llava_pose.training import SUMMARY_FILE, train
from tests.helpers.llava_pose import tiny_model_dir
from tests.helpers.multiprocess import launch

LOSS_RTOL = 1e-5
"""Logged training losses, 2 processes against 1: measured up to 1e-7 (relative)."""
EVAL_LOSS_RTOL = 1e-6
"""Evaluation loss, 2 processes against 1. The Trainer's eval loss is the sample-weighted mean of per-batch mean
losses; with the training batch as the eval batch, 2 processes averaged four batches of 2 rows where 1 process
averaged two batches of 4 (up to 1.2e-4 apart on the 22-category synthetic release). Both runs now take the same
eval batch (``eval_batch_size`` 2), so that the processes' batches are the one process's batches: measured equal
(a relative difference of 0, at all 8 evaluations of the two tests). 1e-6 leaves room for float32 rounding of the
gathered losses' sum in another order (a few ulps), not for a different grouping."""
WEIGHT_ATOL = 5e-4
"""Final weights, 2 processes against 1: measured up to 6.5e-5 (the adapter, lr 5e-3, 6 steps), 3.4e-6 (stage 1).
AdamW turns float noise in a near-zero gradient into a step of up to the learning rate, hence more than rounding."""
OPTIONS = {"max_steps": 6, "save_steps": 3, "eval_steps": 3, "logging_steps": 1, "max_eval_samples": 8,
           "eval_batch_size": 2, "lora_dropout": 0.0, "seed": 0}
STAGE2 = {**OPTIONS, "stage": 2, "learning_rate": 5e-3, "caption_ratio": 0.3}
STAGE1 = {**OPTIONS, "stage": 1, "learning_rate": 3e-3, "freeze_vision_tower": True}


@pytest.fixture(scope="module")
def data_dir(synthetic_release, tmp_path_factory):
    """The pose and captions configs (captions: several <pose6D> per answer, so processes hold unequal counts)."""
    out = tmp_path_factory.mktemp("multiprocess_data") / "imagenet3d"
    build_module.build(synthetic_release, out, configs=["pose", "captions"], crop_size=32, progress=False)
    return out


def flags(options: dict) -> list[str]:
    """Keyword options of train() as the command's flags."""
    out = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        out += [flag] if value is True else [flag, str(value)]
    return out


def train_two(data_dir, output, options, batch_size, *extra):
    """`imagenet3d train` with 2 processes of batch `batch_size`."""
    return launch(["train", "--data", data_dir, "--model", tiny_model_dir(), "--output", output, "--batch-size",
                   batch_size, "--no-progress", *flags(options), *extra])


def summary(output):
    return json.loads((output / SUMMARY_FILE).read_text())


def curve(output):
    return [entry["loss"] for entry in summary(output)["log_history"] if "loss" in entry]


def evaluations(output):
    return [{k: v for k, v in entry.items() if k.startswith("eval_") and "runtime" not in k and "per_second" not in k}
            for entry in summary(output)["log_history"] if "eval_loss" in entry]


def assert_same_weights(got, want, file):
    got, want = load_file(got / file), load_file(want / file)
    assert got.keys() == want.keys()
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=0, atol=WEIGHT_ATOL, msg=key)


def assert_follows(two, one, file):
    np.testing.assert_allclose(curve(two), curve(one), rtol=LOSS_RTOL)
    for got, want in zip(evaluations(two), evaluations(one), strict=True):
        np.testing.assert_allclose(got.pop("eval_loss"), want.pop("eval_loss"), rtol=EVAL_LOSS_RTOL)
        assert got == want  # the accuracies: every validation row counted once, as in one process
    assert_same_weights(two, one, file)


def test_stage2_lora_on_two_processes_follows_one_with_twice_the_batch_and_resumes_across_counts(data_dir, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    train(data_dir, tiny_model_dir(), one, batch_size=4, progress=False, **STAGE2)
    output = train_two(data_dir, two, STAGE2, 2)
    assert output.count("model to evaluate:") == 1  # the main process reports
    assert summary(two)["processes"] == 2 and summary(one)["processes"] == 1
    # Each checkpoint written once, with each process's random state beside it; the same files as one process's.
    for step in (3, 6):
        files = {p.name for p in (two / f"checkpoint-{step}").iterdir()}
        assert {"rng_state_0.pth", "rng_state_1.pth", "adapter_model.safetensors", "optimizer.pt"} <= files
        assert files - {"rng_state_0.pth", "rng_state_1.pth"} == \
            {p.name for p in (one / f"checkpoint-{step}").iterdir()} - {"rng_state.pth"}
    assert {p.name for p in two.iterdir()} == {p.name for p in one.iterdir()}
    assert_follows(two, one, "adapter_model.safetensors")

    # --resume across a change of process count: 1 -> 2 and 2 -> 1, each ending where the uninterrupted run did.
    up, down = tmp_path / "up", tmp_path / "down"
    shutil.copytree(one / "checkpoint-3", up / "checkpoint-3")
    train_two(data_dir, up, STAGE2, 2, "--resume")
    assert_follows(up, one, "adapter_model.safetensors")
    shutil.copytree(two / "checkpoint-3", down / "checkpoint-3")
    train(data_dir, tiny_model_dir(), down, batch_size=4, resume=True, progress=False, **STAGE2)
    assert_follows(down, two, "adapter_model.safetensors")
    start = load_file(up / "checkpoint-3" / "adapter_model.safetensors")
    assert any(not torch.equal(value, load_file(up / "adapter_model.safetensors")[key]) for key, value in start.items())


def test_stage1_on_two_processes_follows_one_with_twice_the_batch(data_dir, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    train(data_dir, tiny_model_dir(), one, batch_size=4, progress=False, **STAGE1)
    train_two(data_dir, two, STAGE1, 2)
    assert summary(two)["processes"] == 2
    assert_follows(two, one, "model.safetensors")


def test_a_process_without_any_pose_neither_hangs_nor_drifts(tmp_path):
    # Process 1's batches hold no <pose6D>: the pose head must still take part in DDP's gradient reduction (it
    # stays in the graph with zero gradients), with find_unused_parameters off and on. Without that it hangs.
    out = tmp_path / "no_pose.json"
    launch([tiny_model_dir(), out], module="tests.helpers.ddp_no_pose")
    results = json.loads(out.read_text())
    assert set(results) == {f"stage{s}_find_unused_{f}" for s in (1, 2) for f in (False, True)}
    for name, (first, second) in results.items():
        assert (first["process"], second["process"], first["processes"]) == (0, 1, 2), name
        assert min(first["poses_seen"]) > 0 and second["poses_seen"] == [0, 0, 0], name
        assert first["finite"] and second["finite"], name
        assert first["head_moved"] != 0, name  # the head trained on process 0's poses...
        assert first["weights"] == second["weights"] and first["losses"] == second["losses"], name  # ...everywhere

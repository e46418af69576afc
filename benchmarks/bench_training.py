"""Training the tiny LLaVA-pose: samples/s and peak memory, LoRA against full fine-tuning, 2 processes against 1.

Every run is ``imagenet3d train`` as a user runs it (a fresh process; ``accelerate launch`` with two CPU
processes over gloo for the 2-process run, as ``tests/helpers/multiprocess.py`` launches them), one thread per
process (``OMP_NUM_THREADS=1``), on the built crops of a small synthetic release. samples/s is what the Trainer
reports: optimizer steps × batch size × processes / its ``train_runtime`` (model loading and data preparation are
not in it); peak memory is the RSS of the process tree (launcher and processes), sampled.

* ``training_lora_vs_full``: stage 2 (LoRA on the language model, the path of a real checkpoint) against stage 1
  (every parameter), 1 process;
* ``training_processes``: stage 2 with 2 processes (batch b each) against 1 process (batch b). Not in ``--quick``
  (starting two processes takes longer than the quick run may).

``--quick`` trains 2 steps by calling :func:`modeling.llava_pose.training.train` in the suite's process (a fresh
``imagenet3d train`` process spends seconds importing torch, transformers and peft; quick figures say nothing).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from benchmarks import data
from benchmarks.measure import Measured, python_command, run_command, run_in_child
from benchmarks.suite import Benchmark, entry

BATCH = 8
ENV = {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "CUDA_VISIBLE_DEVICES": ""}


def prepare(quick: bool, work: Path) -> tuple[Path, Path]:
    """A built dataset (pose + captions, 32-pixel crops) and the tiny random LLaVA-pose; their folders."""
    from modeling.data.build import build
    from modeling.llava_pose.init_model import build_tiny_model

    if "train_data" in data.PRODUCED:
        return data.PRODUCED["train_data"], data.PRODUCED["tiny_model"]
    release = data.quick_release() if quick else data.release(20, (64, 48), quick=True)
    built = work / "dataset"
    build(release, built, configs=["pose", "captions"], crop_size=32, progress=False)
    model = build_tiny_model(work / "tiny", size="tiny", seed=0)
    data.PRODUCED.update(train_data=built, tiny_model=Path(model))
    return built, Path(model)


def train(dataset: Path, model: Path, out: Path, stage: int, steps: int, processes: int = 1,
          fresh: bool = True) -> tuple[float, Measured]:
    """One ``imagenet3d train`` run; (samples/s by the Trainer's clock, the measured command).

    ``fresh=False`` (``--quick``, one process only) calls ``train()`` in this process instead of the command.
    """
    if not fresh:
        from modeling.llava_pose.training import train as train_here

        call = functools.partial(train_here, stage=stage, max_steps=steps, batch_size=BATCH, eval_steps=0,
                                 save_steps=0, logging_steps=steps, progress=False)
        measured = run_in_child(call, dataset, model, out, fresh=False)
        return _samples_per_second(out), measured
    args = ["-m", "modeling.cli", "train", "--data", str(dataset), "--model", str(model), "--output", str(out),
            "--stage", str(stage), "--max-steps", str(steps), "--batch-size", str(BATCH), "--eval-steps", "0",
            "--save-steps", "0", "--logging-steps", str(steps), "--no-progress"]
    env = dict(ENV)
    if processes > 1:
        args = ["-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", "0", *args]
        env["ACCELERATE_USE_CPU"] = "1"
    measured = run_command(python_command(*args), env=env)
    return _samples_per_second(out), measured


def _samples_per_second(out: Path) -> float:
    summary = json.loads((out / "training_summary.json").read_text())
    samples = summary["global_step"] * BATCH * summary["processes"]
    return samples / summary["train_runtime_s"]


def run(quick: bool, work: Path) -> list[dict]:
    """The entries of this module's docstring."""
    dataset, model = prepare(quick, work)
    steps = 2 if quick else 30
    lora, lora_run = train(dataset, model, work / "lora", 2, steps, fresh=not quick)
    full, full_run = train(dataset, model, work / "full", 1, steps, fresh=not quick)
    entries = [entry("training_lora_vs_full", lora, full, "samples/s", "tiny LLaVA-pose, LoRA (stage 2), 1 proc",
                     "full fine-tuning (stage 1), 1 proc", steps=steps, batch_size=BATCH,
                     peak_rss_mb=lora_run.peak_rss_mb, baseline_peak_rss_mb=full_run.peak_rss_mb,
                     wall_s=lora_run.seconds, baseline_wall_s=full_run.seconds)]
    if not quick:
        two, two_run = train(dataset, model, work / "lora2", 2, steps, processes=2)
        entries.append(entry("training_processes", two, lora, "samples/s", "LoRA, 2 processes (accelerate, gloo)",
                             "1 process", steps=steps, batch_size_per_process=BATCH,
                             peak_rss_mb=two_run.peak_rss_mb, baseline_peak_rss_mb=lora_run.peak_rss_mb,
                             wall_s=two_run.seconds, baseline_wall_s=lora_run.seconds))
    return entries


BENCHMARK = Benchmark("training", run, "tiny LLaVA-pose: LoRA vs full fine-tuning, 2 processes vs 1")

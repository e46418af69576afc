"""Run a module under ``accelerate launch`` with several CPU processes (DDP over gloo), from a test.

accelerate 1.15's ``accelerate launch --cpu --num_processes 2`` starts ONE process (its simple launcher; several
CPU processes need ``mpirun`` and a hostfile: huggingface/accelerate#2741). ``--multi_gpu --num_processes 2`` starts
two through torchrun on any machine; with ``ACCELERATE_USE_CPU=1`` (and no visible GPU) they join as CPU processes
with gloo. That is what the tests run; each test also checks that two processes did take part.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 600
"""Far above a normal run (tens of seconds on 2 busy cores): reaching it means a hang, which is what it catches."""


def launch(args: Sequence[object], processes: int = 2, module: str = "modeling.cli",
           timeout: float = TIMEOUT_S) -> str:
    """Run ``python -m MODULE ARGS`` in ``processes`` CPU processes; returns the output (stdout and stderr).

    Offline, one thread per process, datasets' cache where the test session keeps it. A non-zero exit or a run past
    ``timeout`` (a hang: the whole process group is killed) fails the test with the end of the output.
    """
    import datasets

    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", "0", "-m", module, *(str(a) for a in args)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "ACCELERATE_USE_CPU": "1",
           "CUDA_VISIBLE_DEVICES": "", "TOKENIZERS_PARALLELISM": "false",
           "HF_DATASETS_CACHE": str(datasets.config.HF_DATASETS_CACHE), "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the launcher and the processes it started
        output, _ = process.communicate()
        pytest.fail(f"{processes} processes of {module} {' '.join(map(str, args))} still ran after {timeout} s "
                    f"(a hang):\n{output[-4000:]}")
    if process.returncode:
        pytest.fail(f"{processes} processes of {module} exited with {process.returncode}:\n{output[-6000:]}")
    return output

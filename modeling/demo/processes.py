"""Run one stage of the demo in several local processes: DDP over gloo on CPU, one GPU each on CUDA.

On the 2-core machines the demo is measured on, two processes of one thread each train its models faster than one
process with two threads (README, "Where the demo's time went"): intra-op threads split these small tensors badly,
and each process also prepares its own share of the batch (decode, mirror, jitter), which one process does alone
between its steps. The processes are started by torch's elastic launcher (what ``torchrun`` and ``accelerate
launch --multi_gpu`` run); accelerate's ``PartialState`` in each process, and so the Trainer, reads the process group
from the environment it sets (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ...), with ``ACCELERATE_USE_CPU=1`` on CPU,
exactly as under ``ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes N``.
"""

from __future__ import annotations

import os
import tempfile
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modeling.utils.errors import ImageNet3DError


def training_processes(requested: int) -> int:
    """How many processes a training stage runs in: `requested` (at least 1) on CPU; on CUDA at most one per GPU,
    as two processes cannot share one device under DDP."""
    import torch

    requested = max(1, int(requested))
    if torch.cuda.is_available():
        return min(requested, torch.cuda.device_count())
    return requested


def run_in_processes(function: Callable[..., Any], num_processes: int, *args: Any, **kwargs: Any) -> Any:
    """Call ``function(*args, **kwargs)`` in `num_processes` local processes of one process group and return what the
    main process (rank 0) returned; with one process, call it here.

    `function` and its arguments must be picklable (a module-level function; paths, numbers, dataclasses): each
    process is a fresh interpreter (spawn). On CPU each process gets ``cores // num_processes`` intra-op threads
    (at least 1). Every process leaves the process group before it returns (``utils.process_group.end_processes``'s
    reason: gloo can abort at interpreter exit otherwise).

    Raises:
        ImageNet3DError: a process raised one (its message, unchanged), or a process failed otherwise (its rank
            and the traceback it printed).
    """
    if num_processes <= 1:
        return function(*args, **kwargs)
    import torch
    from accelerate.utils import patch_environment
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    env: dict[str, Any] = {}
    if not torch.cuda.is_available():
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        env = {"ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": max(1, cores // num_processes)}
    with tempfile.TemporaryDirectory(prefix="imagenet3d_processes_") as scratch:
        config = LaunchConfig(
            min_nodes=1, max_nodes=1, nproc_per_node=num_processes, run_id=f"imagenet3d-{uuid.uuid4().hex[:8]}",
            rdzv_backend="c10d", rdzv_endpoint="127.0.0.1:0", max_restarts=0, start_method="spawn",
            logs_specs=DefaultLogsSpecs(log_dir=str(Path(scratch) / "logs")))
        try:
            with patch_environment(**env):
                results = elastic_launch(config, _process)(function, args, kwargs, scratch)
        except ChildFailedError as failure:
            raise _failure(scratch, failure) from None
    return results[0]


def _process(function: Callable[..., Any], args: tuple, kwargs: dict, scratch: str) -> Any:
    """One process of `run_in_processes`: the call, its error written where the launching process reads it (an
    exception must still end this process with a failure, so that the launcher stops the others instead of leaving
    them waiting in a collective), and the process group left."""
    from modeling.utils.process_group import end_processes

    try:
        return function(*args, **kwargs)
    except BaseException as error:
        kind = "ImageNet3DError" if isinstance(error, ImageNet3DError) else "other"
        text = str(error) if kind == "ImageNet3DError" else traceback.format_exc()
        Path(scratch, f"error_{os.environ.get('RANK', '0')}.txt").write_text(f"{kind}\n{text}", encoding="utf-8")
        raise
    finally:
        end_processes()


def _failure(scratch: str, failure: Exception) -> ImageNet3DError:
    """The error `run_in_processes` raises for a failed launch: a process's own ImageNet3DError, else the first error
    written (the others are usually the broken collective of the processes left waiting), else the launcher's."""
    reports = []
    for path in Path(scratch).glob("error_*.txt"):
        kind, _, text = path.read_text(encoding="utf-8").partition("\n")
        rank = path.stem.removeprefix("error_")
        reports.append((kind != "ImageNet3DError", path.stat().st_mtime_ns, rank, kind, text))
    if not reports:
        return ImageNet3DError(f"a process of the launch failed: {failure}")
    _, _, rank, kind, text = min(reports)
    return ImageNet3DError(text if kind == "ImageNet3DError" else f"process {rank} failed:\n{text}")

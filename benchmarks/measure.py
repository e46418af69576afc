"""How the suite measures: wall time and the peak memory (RSS) of a process and everything it starts.

Peak memory is sampled (every :data:`SAMPLE_S` seconds) as the summed resident set of a process tree: the
benchmarked process and its workers (``--num-proc``, DataLoader workers, ``accelerate launch``'s processes), so a
build with two workers counts the three processes at once. Work that must be measured alone runs in a fresh
child process (:func:`run_in_child`, :func:`run_command`), so that nothing the suite itself holds is counted.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

SAMPLE_S = 0.02
"""Seconds between two samples of the process tree's resident memory."""
REPO = Path(__file__).resolve().parents[1]


@dataclass
class Measured:
    """One timed run: ``seconds`` of wall time, ``peak_rss_mb`` (MiB, summed over the process tree), its result."""

    seconds: float
    peak_rss_mb: float
    result: Any = None


class TreeMemory:
    """Samples the summed RSS of a process and its descendants in a thread; ``peak_mb`` once stopped (MiB)."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        try:
            processes = [self.process, *self.process.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                continue
        self.peak = max(self.peak, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(SAMPLE_S)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        """The highest summed RSS seen, in MiB."""
        return self.peak / 2**20


def _child(function: Callable[..., Any], args: tuple, queue: Any) -> None:
    try:
        start = time.perf_counter()
        result = function(*args)
        queue.put(("ok", time.perf_counter() - start, result))
    except BaseException as err:  # noqa: BLE001 - reported to the parent, which raises it
        queue.put(("error", 0.0, f"{type(err).__name__}: {err}"))


def run_in_child(function: Callable[..., Any], *args: Any, fresh: bool = True) -> Measured:
    """Run ``function(*args)`` in a fresh (spawned) process; its wall time, the tree's peak RSS and its result.

    ``function`` must be importable (module level) and its result picklable. The time is taken inside the child
    around the call (the child's own start-up is not counted; processes the function starts are). Raises
    RuntimeError with the child's error when it fails. ``fresh=False`` (``--quick``) calls it in this process
    instead, the peak RSS then being this process tree's: a spawned child costs seconds of imports, and quick
    figures say nothing anyway.
    """
    if not fresh:
        with TreeMemory(os.getpid()) as memory:
            start = time.perf_counter()
            result = function(*args)
            seconds = time.perf_counter() - start
        return Measured(seconds, memory.peak_mb, result)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(function, args, queue))
    process.start()
    with TreeMemory(process.pid) as memory:
        status, seconds, result = queue.get()
        process.join()
    if status != "ok":
        raise RuntimeError(f"{getattr(function, '__name__', function)} failed in its process: {result}")
    return Measured(seconds, memory.peak_mb, result)


def run_command(command: Sequence[str], env: dict[str, str] | None = None, cwd: Path = REPO,
                timeout: float = 3600) -> Measured:
    """Run a command; its wall time (start-up included), the tree's peak RSS and its output (``result``).

    Raises RuntimeError with the end of the output when it exits non-zero.
    """
    environment = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", **(env or {})}
    start = time.perf_counter()
    process = subprocess.Popen(list(command), cwd=cwd, env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    with TreeMemory(process.pid) as memory:
        output, _ = process.communicate(timeout=timeout)
    seconds = time.perf_counter() - start
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}:\n{output[-3000:]}")
    return Measured(seconds, memory.peak_mb, output)


def python_command(*args: str) -> list[str]:
    """``python ARGS`` with the interpreter running the suite."""
    return [sys.executable, *args]


def best_of(repeats: int, function: Callable[[], float]) -> float:
    """The smallest of ``repeats`` timings returned by ``function`` (seconds): the least disturbed by other load."""
    return min(function() for _ in range(max(1, repeats)))

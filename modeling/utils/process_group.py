"""Leaving the process group of a multi-process launch (``accelerate launch``, torchrun, the demo's stages)."""

from __future__ import annotations

import sys


def end_processes() -> None:
    """Leave the launch's process group, if this process joined one (no-op otherwise).

    Every command, and every process the demo starts, calls it before it returns: a process that exits with gloo's
    group still alive can abort at interpreter shutdown ("terminate called without an active exception", SIGABRT;
    gloo's worker threads still hold tensors while Python is torn down: pytorch/pytorch#179291), which fails the
    whole launch after the work is done.
    """
    distributed = sys.modules.get("torch.distributed")  # not imported: no group, and no torch import to pay for
    if distributed is not None and distributed.is_available() and distributed.is_initialized():
        distributed.destroy_process_group()

"""Which process of a multi-process launch (``accelerate launch``, torchrun) this is: the commands print their
summaries from the main process only, as the libraries write their files from it only; and leaving the launch's
process group before a command returns."""

from __future__ import annotations

import sys


def is_main_process() -> bool:
    """True in a single process and in the main process of a launch (accelerate's ``PartialState``, which the
    Trainer or the command's library function has set up by the time a command prints)."""
    from accelerate import PartialState

    return PartialState().is_main_process


def end_processes() -> None:
    """Leave the launch's process group, if this process joined one (no-op otherwise).

    Every command calls it before it returns: a process that exits with gloo's group still alive can abort at
    interpreter shutdown ("terminate called without an active exception", SIGABRT; gloo's worker threads still hold
    tensors while Python is torn down: pytorch/pytorch#179291), which fails the whole launch after the work is done.
    """
    distributed = sys.modules.get("torch.distributed")  # not imported: no group, and no torch import to pay for
    if distributed is not None and distributed.is_available() and distributed.is_initialized():
        distributed.destroy_process_group()

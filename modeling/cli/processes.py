"""Which process of a multi-process launch (``accelerate launch``, torchrun) this is: the commands print their
summaries from the main process only, as the libraries write their files from it only."""

from __future__ import annotations


def is_main_process() -> bool:
    """True in a single process and in the main process of a launch (accelerate's ``PartialState``, which the
    Trainer or the command's library function has set up by the time a command prints)."""
    from accelerate import PartialState

    return PartialState().is_main_process

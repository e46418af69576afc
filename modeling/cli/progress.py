"""One switch for every progress bar a command shows: ours (tqdm, through each function's ``progress``
argument) and the libraries' (datasets' "Generating ...", transformers' "Loading weights", huggingface_hub's
downloads), which ``--no-progress`` must silence too."""

from __future__ import annotations

import argparse
import os
import sys


def add_no_progress_option(parser: argparse.ArgumentParser, default: object = False) -> None:
    """``--no-progress`` (``args.no_progress``), which every ``imagenet3d`` command takes: ``main`` silences the
    libraries' bars with it, and each command passes ``progress=not args.no_progress`` to what it runs.

    A command with subcommands (``publish dataset``) gives them the option too, with ``default=argparse.SUPPRESS``:
    a subcommand's default would otherwise overwrite ``publish --no-progress dataset``'s value."""
    parser.add_argument("--no-progress", action="store_true", default=default, help="hide every progress bar")


def disable_library_progress_bars() -> None:
    """Silence the progress bars of huggingface_hub, datasets and transformers, in this process and its children.

    A library not yet imported reads the environment variables when it is (transformers takes huggingface_hub's
    setting at import); one already imported is switched off through its own API. Our own bars are off through
    each function's ``progress=False``.
    """
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    if "datasets" in sys.modules:
        import datasets

        datasets.disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging

        logging.disable_progress_bar()

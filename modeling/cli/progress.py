"""One switch for every progress bar a command shows: ours (tqdm, through each function's ``progress``
argument) and the libraries' (datasets' "Generating ...", transformers' "Loading weights", huggingface_hub's
downloads), which ``--no-progress`` must silence too."""

from __future__ import annotations

import os
import sys


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

"""The ``imagenet3d`` command.

This package is the only place that parses arguments: each subcommand is one module here
(``modeling/cli/<command>.py``) that defines ``add_arguments(parser)`` and ``run(args) -> int`` and calls the
library. Only the module of the command being run is imported, so ``imagenet3d --help`` stays fast even though
training imports torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from modeling.cli.progress import add_no_progress_option, disable_library_progress_bars
from modeling.utils.errors import ImageNet3DError
from modeling.utils.process_group import end_processes

# name -> (module, one-line help). The order is the order of `imagenet3d --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "synthesize": ("modeling.cli.synthesize", "write a synthetic release in the official ImageNet3D v1 layout"),
    "build": ("modeling.cli.build", "build the Hugging Face dataset (Parquet + card) from the official release"),
    "score": ("modeling.cli.score", "score a predictions file against references with the official metric"),
    "init-model": ("modeling.cli.init_model",
                   "build the tiny LLaVA-pose, or convert a stock LLaVA checkpoint (--base)"),
    "train": ("modeling.cli.train",
              "fine-tune LLaVA-pose on a built dataset: stage 1 (full, tiny base) or 2 (LoRA)"),
    "predict": ("modeling.cli.predict", "objects and their 6D poses in an image, with LLaVA-pose or the baseline"),
    "train-baseline": ("modeling.cli.train_baseline",
                       "train the classification baseline (backbone + category head + 3x40 pose bins)"),
    "evaluate": ("modeling.cli.evaluate", "evaluate a LLaVA-pose or baseline folder on a built dataset "
                                        "(predictions, metrics, table, plots)"),
    "probe": ("modeling.cli.probe",
              "Task 1: linear probing of a frozen Hugging Face vision backbone (official grid)"),
    "demo": ("modeling.cli.demo",
             "run the end-to-end demo on the built-in synthetic data (the README's main job)"),
    "publish": ("modeling.cli.publish",
                "publish a built dataset, a model folder or a Space to the Hugging Face Hub (--dry-run: offline)"),
    "space": ("modeling.cli.space", "serve the Space (Gradio) locally: a photo in, its objects' 3D poses drawn"),
}


def _command_in(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; only the subcommand named in ``argv`` gets its arguments (and its import)."""
    # allow_abbrev=False: a prefix such as --lr must not silently mean --lr-scheduler.
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="imagenet3d",
        description="ImageNet3D the Hugging Face way: synthesize or build the dataset, train and evaluate "
                    "LLaVA-pose, score predictions with the official metric.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = _command_in(argv)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".",
                                    allow_abbrev=False)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            add_no_progress_option(sub)
            sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``imagenet3d`` on ``argv`` (default: ``sys.argv[1:]``); returns the exit status.

    Bad input (:class:`~modeling.utils.errors.ImageNet3DError`, missing files) is one line on stderr and status 2;
    Ctrl-C is status 130; output piped into a reader that stops early (``| head``) ends quietly with status 1,
    as Python's documentation recommends for EPIPE. ``--no-progress`` silences the libraries' bars too.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    if args.no_progress:
        disable_library_progress_bars()
    try:
        status = int(args._run(args) or 0)
        sys.stdout.flush()  # here, so that a closed pipe is caught below rather than at interpreter exit
        return status
    except BrokenPipeError:
        # The reader is gone: point stdout at devnull so that the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except ImageNet3DError as err:
        print(f"imagenet3d {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a path that is missing, a file where a folder belongs, no network for the Hub, ...
        print(f"imagenet3d {args.command}: error: {describe_os_error(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"imagenet3d {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        end_processes()


def describe_os_error(err: OSError) -> str:
    """One line for an OSError: ``PATH: reason`` (no ``[Errno N]``) when it names a file, else its message."""
    if err.filename is not None and err.strerror:
        target = f" -> {err.filename2}" if err.filename2 is not None else ""
        return f"{err.filename}{target}: {err.strerror}"
    return str(err).splitlines()[0] if str(err) else type(err).__name__

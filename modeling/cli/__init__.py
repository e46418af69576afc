"""The ``imagenet3d`` command.

Each subcommand lives in the module that implements it, which defines ``add_arguments(parser)``
and ``run(args) -> int``. Only the module of the command being run is imported, so
``imagenet3d --help`` stays fast even though training imports torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from modeling.utils.errors import ImageNet3DError

# name -> (module, one-line help). The order is the order of `imagenet3d --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "synthesize": ("modeling.synthetic.generator", "write a synthetic release in the official ImageNet3D v1 layout"),
    "build": ("modeling.data.build", "build the Hugging Face dataset (Parquet + card) from the official release"),
    "score": ("modeling.evaluation.scoring", "score a predictions file against references with the official metric"),
    "init-model": ("modeling.llava_pose.init_model",
                   "build the tiny LLaVA-pose, or convert a stock LLaVA checkpoint (--base)"),
    "train": ("modeling.cli.train",
              "fine-tune LLaVA-pose on a built dataset: stage 1 (full, tiny base) or 2 (LoRA)"),
    "predict": ("modeling.llava_pose.inference", "objects and their 6D poses in an image, with a LLaVA-pose model"),
    "train-baseline": ("modeling.cli.train_baseline",
                       "train the classification baseline (backbone + category head + 3x40 pose bins)"),
    "evaluate": ("modeling.evaluation.evaluate", "evaluate a LLaVA-pose or baseline folder on a built dataset "
                                        "(predictions, metrics, table, plots)"),
    "probe": ("modeling.probing.probe",
              "Task 1: linear probing of a frozen Hugging Face vision backbone (official grid)"),
    "demo": ("modeling.demo.pipeline",
             "run the end-to-end demo on the built-in synthetic data (the README's main job)"),
}


def _command_in(argv: Sequence[str]) -> str | None:
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; only the subcommand named in ``argv`` gets its arguments (and its import)."""
    parser = argparse.ArgumentParser(
        prog="imagenet3d",
        description="ImageNet3D the Hugging Face way: synthesize or build the dataset, train and evaluate "
                    "LLaVA-pose, score predictions with the official metric.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = _command_in(argv)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (ImageNet3DError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError) as err:
        print(f"imagenet3d {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"imagenet3d {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

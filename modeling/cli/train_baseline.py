"""``imagenet3d train-baseline``: train the classification baseline (backbone + category head + 3x40 pose bins).

Its options are the fields of ``BaselineTrainingArguments`` (``modeling/baseline/training_arguments.py``), with the
folders (``--data``, ``--output``, ``--backbone``) and ``--no-progress`` added here. ``--lr`` is the old spelling of
``--learning-rate`` and still works.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from modeling.baseline.training import train_baseline
from modeling.baseline.training_arguments import BaselineTrainingArguments
from modeling.cli.options import add_dataclass_arguments, dataclass_from_args
from modeling.cli.processes import is_main_process

ALIASES = {"learning_rate": ["--lr"]}
"""Old spellings of options, still accepted."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``imagenet3d train-baseline``: the folders, then one per training argument."""
    parser.add_argument("--data", required=True, type=Path, metavar="DATASET_DIR",
                        help="dataset folder written by `imagenet3d build` (pose / open_vocab configs)")
    parser.add_argument("--output", required=True, type=Path, metavar="DIR",
                        help="folder for the trained model, its image processor and training.json")
    parser.add_argument("--backbone", metavar="NAME_OR_DIR",
                        help="start from a baseline folder (continue), or wrap this vision backbone (local folder or "
                             "Hub name, e.g. facebook/dinov2-small: needs the Hub) with new heads; default: a new "
                             "random ResNet of --size")
    add_dataclass_arguments(parser, BaselineTrainingArguments, aliases=ALIASES)


def run(args: argparse.Namespace) -> int:
    """Train, then print what was trained and how to evaluate it (from the main process only, under
    ``accelerate launch``)."""
    options = dataclass_from_args(BaselineTrainingArguments, args)
    summary = train_baseline(args.data, args.backbone, args.output, options, progress=not args.no_progress)
    if not is_main_process():  # several processes: the main one reports
        return 0
    which = "known categories only" if options.known_only else "all categories"
    whole = summary.get("whole_images") or {}
    also = (f" and {whole['items']:,} whole-image items (category only, drawn from {whole['images']:,} images)"
            if whole.get("items") else "")
    print(f"trained the baseline on {summary['train_rows']} objects of {len(summary['train_categories'])} categories "
          f"({which}){also} for {summary['steps']} steps in {summary['train_seconds']} s; "
          f"train loss {summary['train_loss']:.3f}")
    print(f"saved to {args.output}; evaluate with `imagenet3d evaluate --model {args.output} --data {args.data} "
          f"--task joint`")
    return 0

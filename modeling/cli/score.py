"""``imagenet3d score``: the command line of :mod:`modeling.evaluation.scoring`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from modeling.evaluation.metrics import SCORING_TASKS
from modeling.evaluation.scoring import format_metrics_table, score_files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``imagenet3d score``."""
    parser.add_argument("--predictions", required=True, type=Path, metavar="P.jsonl",
                        help="predictions: id, azimuth, elevation, theta (radians) [, category for joint]")
    parser.add_argument("--references", required=True, type=Path, metavar="R.jsonl",
                        help="ground truth: id, category, azimuth, elevation, theta (radians)")
    parser.add_argument("--task", choices=SCORING_TASKS, default="pose",
                        help="pose: pose error; open_vocab: also known/novel blocks; joint: 3D-aware error "
                             "(wrong class adds π). Default: pose")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")


def run(args: argparse.Namespace) -> int:
    """Score the files and print the table (or one JSON object with --json); missing predictions and the
    result's warnings go to stderr. Returns the exit status.
    """
    result = score_files(args.predictions, args.references, args.task)
    if result["missing_predictions"]:
        print(f"warning: {result['missing_predictions']} reference id(s) have no prediction in {args.predictions}"
              f" and count as error π (first: {', '.join(result['missing_ids'][:5])})", file=sys.stderr)
    for warning in result["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
    else:
        print(format_metrics_table(result, title=f"{args.task} (n={result['overall']['count']})"))
    return 0

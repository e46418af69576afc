"""``imagenet3d score``: the command line of :mod:`modeling.evaluation.scoring`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from modeling.evaluation.comparison import compare_files, format_paired_blocks
from modeling.evaluation.error_kinds import error_kinds_section
from modeling.evaluation.metrics import SCORING_TASKS
from modeling.evaluation.scoring import format_metrics_table, score_files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``imagenet3d score``."""
    parser.add_argument("--predictions", required=True, type=Path, metavar="P.jsonl",
                        help="predictions: id, azimuth, elevation, theta (radians) [, category for joint]")
    parser.add_argument("--references", required=True, type=Path, metavar="R.jsonl",
                        help="ground truth: id, category, azimuth, elevation, theta (radians) [, object_status for "
                             "--error-kinds' rows per status]")
    parser.add_argument("--task", choices=SCORING_TASKS, default="pose",
                        help="pose: pose error; open_vocab: also known/novel blocks; joint: 3D-aware error "
                             "(wrong class adds π). Default: pose")
    parser.add_argument("--compare", type=Path, metavar="P2.jsonl",
                        help="a second model's predictions of the same references: both are scored, and the "
                             "difference of Acc@π/6 (3D-aware for joint) of A (--predictions) − B (--compare) is "
                             "reported object by object, with a 95 %% paired bootstrap interval and McNemar's exact "
                             "test; open_vocab: for known, novel and both pooled")
    parser.add_argument("--error-kinds", action="store_true",
                        help="after the table (each table with --compare), where the error goes: each category's "
                             "objects that miss Acc@π/6, by kind (no pose, wrong category, azimuth flip, azimuth "
                             "30-150°, elevation / theta), and per object_status when the references have one; "
                             "--json always holds them under 'error_kinds'")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")


def run(args: argparse.Namespace) -> int:
    """Score the files and print the table (or one JSON object with --json); missing predictions and the
    result's warnings go to stderr. Returns the exit status.
    """
    if args.compare is not None:
        return _run_compare(args)
    result = score_files(args.predictions, args.references, args.task)
    _warn(result, args.predictions)
    if args.json:
        print(json.dumps(result))
    else:
        print(format_metrics_table(result, title=f"{args.task} (n={result['overall']['count']})"))
        if args.error_kinds:
            print("\n" + error_kinds_section(result["error_kinds"]), end="")
    return 0


def _warn(result: dict, predictions: Path) -> None:
    if result["missing_predictions"]:
        print(f"warning: {result['missing_predictions']} reference id(s) have no prediction in {predictions}"
              f" and count as error π (first: {', '.join(result['missing_ids'][:5])})", file=sys.stderr)
    for warning in result["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)


def _run_compare(args: argparse.Namespace) -> int:
    """``--compare``: both tables, then the paired difference per block (``{"a", "b", "paired"}`` with --json)."""
    result = compare_files(args.predictions, args.compare, args.references, args.task)
    _warn(result["a"], args.predictions)
    _warn(result["b"], args.compare)
    if args.json:
        print(json.dumps(result))
        return 0
    for key, path in (("a", args.predictions), ("b", args.compare)):
        title = f"{key.upper()} = {path} — {args.task} (n={result[key]['overall']['count']})"
        print(format_metrics_table(result[key], title=title))
        print()
        if args.error_kinds:
            print(error_kinds_section(result[key]["error_kinds"], f"Where the error goes: {key.upper()}"))
    print("\n".join(format_paired_blocks(result["paired"], args.task)))
    return 0

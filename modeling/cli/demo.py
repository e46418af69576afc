"""``imagenet3d demo``: the command line of :mod:`modeling.demo.pipeline`."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from modeling.demo.pipeline import PLANS, report, run_demo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``imagenet3d demo``."""
    parser.add_argument("--out", type=Path, default=Path("demo_output"),
                        help="folder for everything the demo writes (default: ./demo_output)")
    parser.add_argument("--plan", choices=sorted(PLANS), default="full",
                        help="full: the main job (9 min measured on an idle 2-core Intel Xeon, 2026-12-02; machines "
                             "of a kind differ up to ~2x); small: a smoke run")
    parser.add_argument("--seed", type=int, default=0, help="random seed of every stage (default: 0)")
    parser.add_argument("--no-test-time-flip", action="store_true",
                        help="evaluate single-crop (the paper's protocol) instead of averaging each crop's pose with "
                             "its mirror image's (the plans' default, both models)")
    parser.add_argument("--num-proc", type=int, default=2,
                        help="processes for synthesis, build and training (training: DDP, the batch split between "
                             "them; on CUDA at most one per GPU) (default: 2)")


def run(args: argparse.Namespace) -> int:
    """Run the demo into --out and print both models' tables and the stage times. Returns the exit status."""
    plan = dataclasses.replace(PLANS[args.plan], test_time_flip=False) if args.no_test_time_flip else args.plan
    results = run_demo(args.out, plan, seed=args.seed, num_proc=args.num_proc, progress=not args.no_progress)
    print(report(results))
    print(f"\nresults: {args.out / 'results.json'}; plots: {args.out / 'eval'}; models: {args.out / 'models'}")
    return 0

"""``imagenet3d demo``: the README's main job, on the built-in synthetic data.

Today it synthesizes the default release and prints its summary; the training issue extends it to
the full pipeline (build → train → evaluate).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from .synthetic import generate_release, summarize_release


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("demo_output"),
                        help="folder for everything the demo writes (default: ./demo_output)")
    parser.add_argument("--images-per-category", type=int, default=40,
                        help="images per category in the synthetic release (default: 40)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def run(args: argparse.Namespace) -> int:
    stages: dict[str, float] = {}
    start = time.perf_counter()
    release = generate_release(args.out / "release", images_per_category=args.images_per_category, seed=args.seed)
    stages["synthesize"] = round(time.perf_counter() - start, 2)
    summary = summarize_release(release)
    print(json.dumps(summary, indent=2))
    results = {"release": str(release), "summary": summary, "stages": stages}
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"synthesized {release} in {stages['synthesize']} s; results in {args.out / 'results.json'}")
    return 0

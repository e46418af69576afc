"""``imagenet3d probe``: the command line of :mod:`modeling.probing.probe` and :mod:`modeling.probing.compare`."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

from modeling.cli.options import torch_device
from modeling.evaluation.scoring import format_metrics_table
from modeling.probing.backbones import TINY_BACKBONES
from modeling.probing.features import LAYER_SETS
from modeling.probing.heads import OFFICIAL_LEARNING_RATES
from modeling.probing.probe import FEATURE_DTYPES, SELECTION_NOTE, default_out, probe
from modeling.utils.errors import ImageNet3DError

DEFAULT_RESULTS = Path("probe_output") / "results.jsonl"
DEFAULT_CACHE = Path("probe_output") / "feature_cache"


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``imagenet3d probe``."""
    parser.add_argument("--backbone", metavar="NAME_OR_DIR",
                        help="a vision backbone: a Hub id such as facebook/dinov2-base, facebook/vit-mae-base or "
                             "openai/clip-vit-base-patch16 (CLIP, SigLIP: the vision model), a local "
                             "save_pretrained folder (model + image processor), a baseline folder (its backbone), "
                             "or a built-in tiny random backbone for an offline smoke test "
                             f"({', '.join(TINY_BACKBONES)})")
    parser.add_argument("--data", type=Path, metavar="DATASET_DIR",
                        help="a dataset folder written by `imagenet3d build` (its 'probe' config, else its 'pose' "
                             "config)")
    parser.add_argument("--out", type=Path, help="output folder (default: probe_output/<backbone name>); with "
                                                 "--compare, the charts' folder (default: the results file's)")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, metavar="FILE",
                        help=f"append this run's line to this results file (default: {DEFAULT_RESULTS})")
    parser.add_argument("--compare", type=Path, metavar="RESULTS_JSONL",
                        help="instead of probing: print every run of a results file in the layout of the paper's "
                             "Table 1 and draw one bar chart per meta-class (compare_*.png)")
    parser.add_argument("--paper", action="store_true",
                        help="with --compare: also print the paper's Table 1 (Acc@π/6) as a separate reference table")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs of the heads (default: 5, the "
                                                             "official default)")
    parser.add_argument("--batch-size", type=int, default=128, help="training batch size (default: 128, official)")
    parser.add_argument("--layers", type=_csv, default=list(LAYER_SETS),
                        help="comma-separated layer sets among last, last4, uniform4 (default: all three); stages "
                             "of a convolutional backbone")
    parser.add_argument("--avgpool", choices=("both", "on", "off"), default="both",
                        help="concatenate the patch-token mean of the last layer: both (default, official), on, off")
    parser.add_argument("--learning-rates", type=float, nargs="+", default=list(OFFICIAL_LEARNING_RATES),
                        metavar="LR", help="the grid's learning rates (default: the official 13, 1e-5 ... 0.1)")
    parser.add_argument("--max-train", type=int, help="use a random subset of this many training objects")
    parser.add_argument("--max-val", type=int, help="use a random subset of this many validation objects")
    parser.add_argument("--no-hflip", action="store_true", help="no flip augmentation (official: flip on)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE,
                        help=f"feature cache: a second probe of the same backbone and data reads it instead of "
                             f"running the backbone (default: {DEFAULT_CACHE})")
    parser.add_argument("--no-cache", action="store_true", help="keep the features in a temporary folder only")
    parser.add_argument("--feature-dtype", choices=FEATURE_DTYPES, default="float32",
                        help="dtype of the stored features (default: float32; float16 halves the disk)")
    parser.add_argument("--extract-batch-size", type=int, default=32, help="images per backbone pass (default: 32)")
    parser.add_argument("--device", type=torch_device, help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def _compare(args: argparse.Namespace) -> int:
    from modeling.probing.compare import compare

    if args.backbone or args.data:
        raise ImageNet3DError("--compare reads a results file: give it without --backbone and --data")
    text, charts = compare(args.compare, args.out, args.paper)
    print(text)
    print(f"\ncharts ({len(charts)}, one per meta-class and Avg): {charts[0].parent}/compare_*.png")
    return 0


def run(args: argparse.Namespace) -> int:
    """Probe the backbone with the official grid and print the best head's table, or compare a results file.
    Returns the exit status."""
    if args.compare is not None:
        return _compare(args)
    if not args.backbone or not args.data:
        raise ImageNet3DError("--backbone and --data are required (or --compare RESULTS_JSONL)")
    avgpool = {"both": (False, True), "on": (True,), "off": (False,)}[args.avgpool]
    out = args.out or default_out(args.backbone)
    result = probe(args.backbone, args.data, out, epochs=args.epochs, batch_size=args.batch_size,
                   layer_sets=args.layers, avgpool=avgpool, learning_rates=args.learning_rates,
                   max_train=args.max_train, max_val=args.max_val, hflip=not args.no_hflip,
                   extract_batch_size=args.extract_batch_size, device=args.device, seed=args.seed,
                   progress=not args.no_progress, results=args.results,
                   cache_dir=None if args.no_cache else args.cache_dir, feature_dtype=args.feature_dtype,
                   log=partial(print, flush=True))
    info = result["probe"]
    best = info["best"]
    print(format_metrics_table(result, title=f"probe {best['variant']}, lr {best['learning_rate']:g}"))
    if info["smoke_test"]:
        print(f"{info['backbone']} is a tiny random backbone: this run checks the pipeline, its numbers are not a "
              "result")
    print(f"{SELECTION_NOTE}; outputs in {out}; results line appended to {info['results_file']}")
    return 0

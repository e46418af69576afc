"""``imagenet3d probe``: the command line of :mod:`modeling.probing.probe`."""

from __future__ import annotations

import argparse
from pathlib import Path

from modeling.cli.options import torch_device
from modeling.evaluation.scoring import format_metrics_table
from modeling.probing.features import LAYER_SETS
from modeling.probing.heads import OFFICIAL_LEARNING_RATES
from modeling.probing.probe import SELECTION_NOTE, default_out, probe


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``imagenet3d probe``."""
    parser.add_argument("--backbone", required=True, metavar="NAME_OR_DIR",
                        help="a Hugging Face vision backbone: a local save_pretrained folder (model + image "
                             "processor) or a Hub id such as facebook/dinov2-base, facebook/vit-mae-base or "
                             "openai/clip-vit-base-patch16 (for CLIP the vision model is used)")
    parser.add_argument("--data", required=True, type=Path, metavar="DATASET_DIR",
                        help="a dataset folder written by `imagenet3d build` (its 'probe' config is read)")
    parser.add_argument("--out", type=Path, help="output folder (default: probe_output/<backbone name>)")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs of the heads (default: 5, the "
                                                             "official default)")
    parser.add_argument("--batch-size", type=int, default=128, help="training batch size (default: 128, official)")
    parser.add_argument("--layers", type=_csv, default=list(LAYER_SETS),
                        help="comma-separated layer sets among last, last4, uniform4 (default: all three)")
    parser.add_argument("--avgpool", choices=("both", "on", "off"), default="both",
                        help="concatenate the patch-token mean of the last layer: both (default, official), on, off")
    parser.add_argument("--learning-rates", type=float, nargs="+", default=list(OFFICIAL_LEARNING_RATES),
                        metavar="LR", help="the grid's learning rates (default: the official 13, 1e-5 ... 0.1)")
    parser.add_argument("--max-train", type=int, help="use a random subset of this many training objects")
    parser.add_argument("--max-val", type=int, help="use a random subset of this many validation objects")
    parser.add_argument("--no-hflip", action="store_true", help="no flip augmentation (official: flip on)")
    parser.add_argument("--extract-batch-size", type=int, default=32, help="images per backbone pass (default: 32)")
    parser.add_argument("--device", type=torch_device, help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--no-progress", action="store_true", help="hide every progress bar")


def run(args: argparse.Namespace) -> int:
    """Probe the backbone with the official grid and print the best head's table. Returns the exit status."""
    avgpool = {"both": (False, True), "on": (True,), "off": (False,)}[args.avgpool]
    out = args.out or default_out(args.backbone)
    result = probe(args.backbone, args.data, out, args.epochs, args.batch_size, args.layers, avgpool,
                   args.learning_rates, args.max_train, args.max_val, not args.no_hflip, args.extract_batch_size,
                   args.device, args.seed, not args.no_progress)
    best = result["probe"]["best"]
    print(format_metrics_table(result, title=f"probe {best['variant']}, lr {best['learning_rate']:g}"))
    print(f"{SELECTION_NOTE}; outputs in {out}")
    return 0

"""``imagenet3d synthesize``: the command line of :mod:`modeling.synthetic.generator`."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from modeling.synthetic.generator import (
    DEFAULT_CATEGORIES,
    DEFAULT_IMAGES_PER_CATEGORY,
    DEFAULT_QUIRK_RATE,
    ZIP_NAME,
    generate_release,
    known_novel_counts,
    summarize_release,
)
from modeling.utils.errors import ImageNet3DError


def _image_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 500x375, got {text!r}") from None
    if not (16 <= width <= 4096 and 16 <= height <= 4096):
        raise argparse.ArgumentTypeError(f"image size must be between 16 and 4096 pixels per side, got {text!r}")
    return width, height


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``imagenet3d synthesize``."""
    parser.description = (
        "Render a synthetic ImageNet3D release (procedural CAD models, official camera model) into OUT "
        "with the official v1 layout: images/, annotations/, lists/, CAD/. Same arguments, same bytes.")
    parser.add_argument("out", metavar="OUT", type=Path, help="output folder (created; an earlier synthetic "
                        "release there is replaced, any other non-empty folder is refused)")
    parser.add_argument("--categories", nargs="+", metavar="CATEGORY", default=list(DEFAULT_CATEGORIES),
                        help=f"categories to render (default: all {len(DEFAULT_CATEGORIES)}: "
                             f"{', '.join(DEFAULT_CATEGORIES)})")
    parser.add_argument("--images-per-category", type=int, default=DEFAULT_IMAGES_PER_CATEGORY, metavar="N",
                        help="images per category, about 80%% train and 20%% val (default: %(default)s)")
    parser.add_argument("--novel-images-per-category", type=int, metavar="N",
                        help="images per novel category (not among the 63 known ones), which Task 2 only evaluates "
                             "on (default: --images-per-category)")
    parser.add_argument("--image-size", type=_image_size, default=None, metavar="WxH",
                        help="fixed image size such as 500x375 (default: random ImageNet-like sizes)")
    parser.add_argument("--image-scale", type=float, default=1.0, metavar="S",
                        help="render the same scenes at S (in (0, 1]) of their resolution, objects 1/S times "
                             "farther: S² of the pixels, for small crops (the demo uses 0.5) (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--quirk-rate", type=float, default=DEFAULT_QUIRK_RATE, metavar="P",
                        help="fraction of objects given a quirk of the real annotations: unwrapped angles, "
                             "pose keys missing, distance 0, status_bad; 0 disables (default: %(default)s)")
    parser.add_argument("--zip", action="store_true",
                        help=f"also write OUT/{ZIP_NAME} with members imagenet3d_v1/..., like the official download")
    parser.add_argument("--num-proc", type=int, default=min(4, os.cpu_count() or 1), metavar="N",
                        help="worker processes; the output does not depend on it (default: %(default)s)")


def _check_options(args: argparse.Namespace) -> None:
    """Options out of range, named by their flags (the generator's own errors name its parameters)."""
    whole = (("--num-proc", args.num_proc), ("--images-per-category", args.images_per_category),
             ("--novel-images-per-category", args.novel_images_per_category))
    for option, value in whole:
        if value is not None and value < 1:
            raise ImageNet3DError(f"{option}: expected a whole number of at least 1, got {value}")
    if not 0.0 <= args.quirk_rate <= 1.0:
        raise ImageNet3DError(f"--quirk-rate: expected a fraction in [0, 1], got {args.quirk_rate:g}")
    if not 0.0 < args.image_scale <= 1.0:
        raise ImageNet3DError(f"--image-scale: expected a number in (0, 1], got {args.image_scale:g}")


def run(args: argparse.Namespace) -> int:
    """Generate the release and print its summary."""
    _check_options(args)
    counts = args.images_per_category
    if args.novel_images_per_category is not None:
        counts = known_novel_counts(args.categories, args.images_per_category, args.novel_images_per_category)
    start = time.perf_counter()
    root = generate_release(args.out, args.categories, counts, args.image_size, args.seed,
                            args.zip, args.quirk_rate, progress=not args.no_progress, num_proc=args.num_proc,
                            image_scale=args.image_scale)
    elapsed = time.perf_counter() - start
    summary = summarize_release(root)
    print(f"wrote {root}: {summary['images']} images ({summary['images'] / elapsed:.1f} images/s), "
          f"{summary['objects']} objects, {len(summary['categories'])} categories")
    print(f"  splits: {summary['splits']}")
    print(f"  object_status: {summary['object_status']}")
    print(f"  dense: {summary['dense']}")
    print(f"  quirks injected: {summary.get('quirks_injected', {})}")
    if args.zip:
        print(f"  zip: {root / ZIP_NAME}")
    return 0

"""``imagenet3d build``: the command line of :mod:`modeling.data.build`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import imagenet3d
from modeling.data.build import HUB_FILE, HUB_REPO, REPORT_NAME, build, download_release
from modeling.data.card import summary_lines
from modeling.data.crop import DEFAULT_CROP_SIZE
from modeling.utils.errors import ImageNet3DError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``imagenet3d build``."""
    parser.description = ("Build the Hugging Face dataset (Parquet shards + dataset card) from the official "
                          "ImageNet3D release, a folder or imagenet3d_v1.zip; then load_dataset(OUT, config).")
    parser.add_argument("source", metavar="SOURCE", nargs="?", type=Path,
                        help="release folder or imagenet3d_v1.zip (omit with --hub)")
    parser.add_argument("out", metavar="OUT", nargs="?", type=Path, default=None,
                        help="output folder (default: ./imagenet3d, so that load_dataset('imagenet3d', 'pose') works "
                             "here); an earlier build there is replaced")
    parser.add_argument("--configs", nargs="+", choices=imagenet3d.CONFIG_NAMES, metavar="CONFIG",
                        help=f"configs to build (default: all: {', '.join(imagenet3d.CONFIG_NAMES)})")
    parser.add_argument("--crop-size", type=int, default=DEFAULT_CROP_SIZE, metavar="N",
                        help="side of the object-centric crops in pixels: the official 512 x 512 crop resampled to "
                             "N x N, the same content at a lower resolution (default: %(default)s, the official)")
    parser.add_argument("--jpeg-quality", type=int, default=75, metavar="Q",
                        help="JPEG quality of the crops (default: %(default)s, what the official script writes)")
    parser.add_argument("--num-proc", type=int, default=1, metavar="N",
                        help="processes building: N-1 spawned workers and this one; the output does not depend on it "
                             "(default: %(default)s)")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first bad input with an error naming the file and the field "
                             "(default: count it as a skip in build_report.json)")
    parser.add_argument("--captions", type=Path, metavar="FILE",
                        help="JSONL of {\"image_id\", \"caption\"} to import instead of template captions")
    parser.add_argument("--hub", action="store_true",
                        help=f"download {HUB_FILE} from {HUB_REPO} (gated: needs a token) and build from it")
    parser.add_argument("--token", default=None, help="Hugging Face token for --hub (default: the saved login)")


def run(args: argparse.Namespace) -> int:
    """Build, then print the summary."""
    if args.hub:
        if args.out is not None:
            raise ImageNet3DError("with --hub give only OUT (the release comes from the Hub)")
        args.out, args.source = args.source, download_release(args.token)
    if args.source is None:
        raise ImageNet3DError("SOURCE is required (a release folder or imagenet3d_v1.zip), or use --hub")
    out = args.out or Path("imagenet3d")
    start = time.perf_counter()
    summary = build(args.source, out, args.configs, args.crop_size, args.jpeg_quality, args.num_proc, args.strict,
                    args.captions, progress=not args.no_progress)
    elapsed = time.perf_counter() - start
    objects = sum(t.get("objects kept", 0) for t in summary["totals"].values())
    print(f"wrote {out}: {objects:,} objects in {elapsed:.1f} s ({objects / max(elapsed, 1e-9):,.1f} objects/s)")
    for config, splits in summary["rows"].items():
        print(f"  {config}: " + ", ".join(f"{split} {rows:,}" for split, rows in splits.items()))
    for line in summary_lines(summary):
        print(f"  {line[2:]}")
    if summary["skips"]:
        print(f"  first skips (all in {out / REPORT_NAME}):")
        for skip in summary["skips"][:5]:
            print(f"    {skip['file']}: {skip['field'] or '-'}: {skip['reason']}")
    return 0

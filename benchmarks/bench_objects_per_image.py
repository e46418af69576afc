"""Build time against the number of objects in one image: N and 10·N objects, side by side.

    python benchmarks/bench_objects_per_image.py [--objects 1000] [--ratio 10] [--configs image captions]

Real releases have images with hundreds of annotated objects; the per-image work of the build (official filter,
crops, template captions, rows) must grow linearly with them. Prints the build time of each release and the ratio
of the two times beside the ratio of the object counts: about ``--ratio`` is linear, about ``--ratio``² quadratic.
(Template captions were quadratic until issue 14: 3,000 objects took 3.1 s, then 0.1 s.)
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from modeling.data.build import build

CATEGORY = "chair"


def one_image_release(root: Path, num_objects: int, seed: int = 0) -> Path:
    """A release in the official layout: one 16 × 16 image of ``CATEGORY`` with ``num_objects`` valid objects."""
    for folder in (f"images/{CATEGORY}", f"annotations/{CATEGORY}", "lists"):
        (root / folder).mkdir(parents=True)
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 40)).save(buffer, format="JPEG")
    (root / f"images/{CATEGORY}/n1_1.JPEG").write_bytes(buffer.getvalue())
    rng = np.random.default_rng(seed)
    objects = np.empty(num_objects, dtype=object)
    objects[:] = [{"bbox": np.array([2.0, 2.0, 14.0, 14.0]), "class": CATEGORY, "azimuth": 1.0, "elevation": 0.2,
                   "theta": 6.0, "distance": float(rng.uniform(2, 8)), "px": float(rng.uniform(0, 16)),
                   "py": float(rng.uniform(0, 16)), "principal": np.array([8.0, 8.0]), "focal": 1.0,
                   "viewport": 2000, "height": np.uint16(16), "width": np.uint16(16), "cad_index": 1,
                   "object_status": "status_good", "dense": "dense_no", "ignore": np.int64(0)}
                  for _ in range(num_objects)]
    np.savez(root / f"annotations/{CATEGORY}/n1_1.npz", annotations=objects)
    for split in ("train", "val"):
        (root / f"lists/{CATEGORY}_imagenet_{split}.txt").write_text("n1_1\n")
    return root


def timed_build(source: Path, out: Path, configs: list[str]) -> float:
    """Seconds of one build of ``configs`` (16-pixel crops, no progress bar)."""
    start = time.perf_counter()
    build(source, out, configs=configs, crop_size=16, progress=False)
    return time.perf_counter() - start


def main() -> None:
    """Time the two builds and print them with their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000, help="objects in the smaller release (default: 1000)")
    parser.add_argument("--ratio", type=int, default=10, help="the larger release has this many times more")
    parser.add_argument("--configs", nargs="+", default=["image", "captions"], help="configs to build")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        counts = (args.objects, args.ratio * args.objects)
        times = [timed_build(one_image_release(root / f"rel{n}", n), root / f"out{n}", args.configs) for n in counts]
    for n, seconds in zip(counts, times):
        print(f"{n:>8,} objects: {seconds:6.2f} s ({n / seconds:,.0f} objects/s)")
    print(f"time ratio {times[1] / times[0]:.1f} for {args.ratio}x the objects (linear: ~{args.ratio}, "
          f"quadratic: ~{args.ratio ** 2})")


if __name__ == "__main__":
    main()

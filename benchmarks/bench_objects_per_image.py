"""Build time against the number of objects in one image: N and 10·N objects, side by side.

Real releases have images with hundreds of annotated objects; the per-image work of the build (official filter,
crops, template captions, rows) must grow linearly with them. The entry ``objects_per_image`` is the ratio of the
two build times beside the ratio of the object counts: about 1 is linear, about 10 quadratic. (Template captions
were quadratic until issue 14: 3,000 objects took 3.1 s, then 0.1 s.)
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.suite import Benchmark, entry

CATEGORY = "chair"
OBJECTS, RATIO = 1000, 10


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
    from modeling.data.build import build

    start = time.perf_counter()
    build(source, out, configs=configs, crop_size=16, progress=False)
    return time.perf_counter() - start


def run(quick: bool, work: Path) -> list[dict]:
    """The ``objects_per_image`` entry."""
    counts = (50, 50 * RATIO) if quick else (OBJECTS, OBJECTS * RATIO)
    times = [timed_build(one_image_release(work / f"rel{n}", n), work / f"out{n}", ["image", "captions"])
             for n in counts]
    return [entry("objects_per_image", times[1] / times[0], float(RATIO), "x",
                  f"build time ratio, {counts[1]:,} vs {counts[0]:,} objects in one image",
                  "the ratio of the object counts (linear growth)", higher_is_better=False, goal=1.5,
                  seconds=times[1], baseline_seconds=times[0])]


BENCHMARK = Benchmark("objects_per_image", run, "build time vs objects per image (linear, not quadratic)")

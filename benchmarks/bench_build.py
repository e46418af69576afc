"""The build: ``imagenet3d build`` against the official preprocessing, its memory as the release grows, its shards.

* ``build``: objects/s of ``build(..., configs=["pose"], crop_size=512, num_proc=2)`` against the official
  per-object pipeline (:func:`benchmarks.official.official_preprocess`, 512 × 512, 2 workers) on the same
  release; each is timed around the call in a fresh process (interpreter start-up and the caller's imports are
  not counted for either; worker start-up is), best of ``REPEATS``; ``--quick`` calls them in the suite's process;
* ``build_peak_memory``: the peak RSS of the two, summed over the process and its workers;
* ``build_num_proc``: objects/s with ``num_proc=2`` (a spawned worker and the calling process) against 1;
* ``build_memory_growth``: the peak RSS of the whole build (every config) of a release 4x larger against the
  smaller one (556 images per category, 128 × 96 pixels, and the first quarter of each list): flat is a ratio
  near 1;
* ``build_largest_shard``: the largest Parquet file of that build against the Hub's recommended size.

The ``build`` entry's ``details.profile_s`` is where the time goes: each pipeline in one process under cProfile
(ours: ``build`` with ``num_proc=1``; the official one: its per-(category, split) function called in turn, no
pool), seconds per phase (cumulative; cProfile's overhead included, so the sum exceeds the timed runs).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks import data
from benchmarks.measure import run_in_child
from benchmarks.suite import Benchmark, entry

REPEATS = 4
CROP = 512


def ours(source: str, out: str, configs: list[str] | None, crop_size: int, num_proc: int) -> dict[str, Any]:
    """Run :func:`modeling.data.build.build`; the objects it wrote (pose rows) and its largest file's bytes."""
    from modeling.data.build import build

    shutil.rmtree(out, ignore_errors=True)
    report = build(source, out, configs=configs, crop_size=crop_size, num_proc=num_proc, progress=False)
    sizes = [p.stat().st_size for p in Path(out).rglob("*.parquet")]
    return {"objects": report["rows"].get("pose", {}), "largest_file": max(sizes), "files": len(sizes)}


def official(source: str, out: str, size: int, workers: int) -> int:
    """Run :func:`benchmarks.official.official_preprocess` into a fresh ``out``; the objects it wrote."""
    from benchmarks.official import official_preprocess

    shutil.rmtree(out, ignore_errors=True)
    return official_preprocess(source, out, size, workers)


OURS_PHASES = {  # phase: (file, function) pairs whose cumulative time it is
    "read files": [("release.py", "read")], "parse npz": [("release.py", "load_annotations")],
    "image header check": [("release.py", "image_too_large")], "decode": [("rows.py", "decode_image")],
    "resample windows": [("crop.py", "crop_pixels")], "encode JPEG": [("rows.py", "_jpeg")],
    "write Parquet": [("shards.py", "add"), ("shards.py", "close")],
    "card and report (main process)": [("categories.py", "synthetic_categories_paragraph"),
                                       ("card.py", "describe_configs"), ("card.py", "render_card")],
}
OFFICIAL_PHASES = {
    "parse npz": [("release.py", "load_annotations")], "decode (per object)": [("Image.py", "open"),
                                                                                ("ImageFile.py", "load")],
    "resize whole image": [("~", "<resize>")], "pad": [("_arraypad_impl.py", "pad")],
    "encode JPEG": [("Image.py", "save")], "write npz": [("_npyio_impl.py", "savez")],
}


def _phases(stats: dict, phases: dict[str, list[tuple[str, str]]], total: float) -> dict[str, float]:
    seconds = {name: sum(value[3] for (file, _, function), value in stats.items()
                         for part, wanted in pairs if function == wanted and file.endswith(part))
               for name, pairs in phases.items()}
    return {"total": total, **seconds, "rest": total - sum(seconds.values())}


def profile_ours(source: str, out: str) -> dict[str, float]:
    """Seconds per phase of :func:`modeling.data.build.build` (pose, 512, one process) under cProfile."""
    import cProfile
    import pstats

    from modeling.data.build import build

    shutil.rmtree(out, ignore_errors=True)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(build, source, out, configs=["pose"], crop_size=CROP, num_proc=1, progress=False)
    total = time.perf_counter() - start
    shutil.rmtree(out, ignore_errors=True)
    return _phases(pstats.Stats(profiler).stats, OURS_PHASES, total)


def profile_official(source: str, out: str) -> dict[str, float]:
    """Seconds per phase of the official preprocessing (512) in one process under cProfile: each
    (category, split) of :func:`benchmarks.official.official_preprocess` in turn."""
    import cProfile
    import os
    import pstats

    from benchmarks.official import _unit

    shutil.rmtree(out, ignore_errors=True)
    tasks = [(source, out, category, split, CROP) for category in sorted(os.listdir(Path(source) / "images"))
             for split in ("train", "val")]
    profiler = cProfile.Profile()
    start = time.perf_counter()
    for task in tasks:
        profiler.runcall(_unit, task)
    total = time.perf_counter() - start
    shutil.rmtree(out, ignore_errors=True)
    return _phases(pstats.Stats(profiler).stats, OFFICIAL_PHASES, total)


def _pose_rows(result: dict) -> int:
    return sum(result["objects"].values()) if isinstance(result["objects"], dict) else int(result["objects"])


def run(quick: bool, work: Path) -> list[dict]:
    """The entries of this module's docstring."""
    release = data.quick_release() if quick else data.release(60)
    repeats = 1 if quick else REPEATS
    theirs_out, ours_out = work / "official", work / "ours"
    best: dict[str, Any] = {}
    for _ in range(repeats):  # interleaved, so that both see the same load
        for name, function, args in (("official", official, (str(release), str(theirs_out), CROP, 2)),
                                     ("ours", ours, (str(release), str(ours_out), ["pose"], CROP, 2)),
                                     ("ours_1", ours, (str(release), str(work / "ours1"), ["pose"], CROP, 1))):
            measured = run_in_child(function, *args, fresh=not quick)
            if name not in best or measured.seconds < best[name].seconds:
                best[name] = measured
    objects = best["official"].result
    built = _pose_rows(best["ours"].result)
    rate = {name: objects / m.seconds for name, m in best.items()}
    profile = {"ours": run_in_child(profile_ours, str(release), str(work / "profile_ours"), fresh=not quick).result,
               "official": run_in_child(profile_official, str(release), str(work / "profile_official"),
                                        fresh=not quick).result}
    data.PRODUCED.update(official_crops=theirs_out, ours_pose=ours_out, build_release=release)
    images = data.listed_images(release)
    entries = [
        entry("build", rate["ours"], rate["official"], "objects/s", "imagenet3d build --configs pose (2 proc)",
              "official preprocess (2 workers)", goal=1.5, objects=objects, objects_built=built, images=images,
              seconds=best["ours"].seconds, baseline_seconds=best["official"].seconds, crop=CROP,
              profile_s=profile),
        entry("build_peak_memory", best["ours"].peak_rss_mb, best["official"].peak_rss_mb, "MiB",
              "imagenet3d build peak RSS (process + workers)", "official preprocess peak RSS",
              higher_is_better=False),
        entry("build_num_proc", rate["ours"], rate["ours_1"], "objects/s", "build with --num-proc 2",
              "--num-proc 1", seconds=best["ours"].seconds, baseline_seconds=best["ours_1"].seconds),
    ]
    return entries + _growth(quick, work)


def _growth(quick: bool, work: Path) -> list[dict]:
    big = data.quick_release() if quick else data.release(556, (128, 96))
    small = data.subset(big, work / "quarter", 0.25)
    peaks, largest, counts = {}, 0, {}
    for name, source in (("small", small), ("big", big)):
        start = time.perf_counter()
        measured = run_in_child(ours, str(source), str(work / f"growth_{name}"), None, 128, 2, fresh=not quick)
        peaks[name] = measured.peak_rss_mb
        counts[name] = (data.listed_images(source), round(time.perf_counter() - start, 1))
        largest = max(largest, measured.result["largest_file"])
        shutil.rmtree(work / f"growth_{name}", ignore_errors=True)
    from modeling.data.shards import MAX_SHARD_BYTES

    return [
        entry("build_memory_growth", peaks["big"], peaks["small"], "MiB",
              f"peak RSS, full build of {counts['big'][0]:,} images (2 proc, 128 px crops)",
              f"of {counts['small'][0]:,} images", higher_is_better=False, goal=1.2,
              images=counts["big"][0], baseline_images=counts["small"][0], seconds=counts["big"][1],
              baseline_seconds=counts["small"][1]),
        entry("build_largest_shard", largest / 2**20, MAX_SHARD_BYTES / 2**20, "MiB",
              "largest Parquet file of that build", "the Hub's recommended size (datasets' MAX_SHARD_SIZE)",
              higher_is_better=False, goal=1.0),
    ]


BENCHMARK = Benchmark("build", run, "imagenet3d build vs the official preprocessing; memory as the release grows")

"""``imagenet3d build SOURCE [OUT]``: the official release → Parquet shards + dataset card.

OUT (default ``./imagenet3d``) then loads with ``load_dataset("imagenet3d", "pose")`` from the
folder the build ran in, or ``load_dataset(OUT, config)`` from anywhere, offline.

* **Shards.** ``data/pose/<split>/<category>-<known|novel>.parquet`` (crops and every field),
  ``data/image/<split>/<category>-<known|novel>.parquet`` (full images, objects, captions) and
  ``data/cad/cad.parquet``; every config is a column selection over one kind (``imagenet3d.py``),
  ``open_vocab`` selects categories by the ``-known``/``-novel`` suffix. Files sort in category order. A
  shard past the Hub's recommended Parquet size (500 MB) goes on in another file:
  ``<category>-00000-<group>.parquet``, ``<category>-00001-<group>.parquet``... (:mod:`modeling.data.shards`).
* **Flat memory.** Rows stream to disk in row groups of 100; workers (``--num-proc``) import no ``datasets``.
* **Deterministic.** Work is split into (category, split) units whose rows come in list order and
  whose files are written with fixed Parquet settings; reports are sorted and hold no time or
  absolute path. Same input, same bytes, whatever ``--num-proc`` (and a folder and its zip agree).
* **Atomic.** Everything is written into ``.<OUT>.partial`` beside OUT and swapped in by rename at the
  end; an interrupted build leaves OUT as it was, and the next build starts over.
* **Bad input** is counted in ``build_report.json`` (and printed), or raises with ``--strict``.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

import imagenet3d
from modeling.data.captions import read_captions_file
from modeling.data.card import describe_configs, release_source, render_card
from modeling.data.crop import DEFAULT_CROP_SIZE
from modeling.data.release import SPLITS, Release
from modeling.data.rows import (
    BuildOptions,
    BuildReport,
    cad_rows,
    listed_ids,
    release_categories,
    unlisted_images,
)
from modeling.data.shards import MAX_SHARD_BYTES, ShardSpec, ShardWriter, build_unit, indexed_unit
from modeling.data.shards import shard_path as shard_path  # noqa: PLC0414 - re-exported for callers of the build
from modeling.utils.errors import ImageNet3DError

REPORT_NAME = "build_report.json"
HUB_REPO, HUB_FILE = "ccvl/ImageNet3D", "imagenet3d_v1.zip"


def shard_specs() -> dict[str, ShardSpec]:
    """Each shard kind's :class:`~modeling.data.shards.ShardSpec`, from the features of ``imagenet3d.py``."""
    from datasets import ClassLabel

    return {kind: ShardSpec(features.arrow_schema,
                            {name: {label: i for i, label in enumerate(feature.names)}
                             for name, feature in features.items() if isinstance(feature, ClassLabel)})
            for kind, features in imagenet3d.SHARD_FEATURES.items()}


def _write_cad(release: Release, categories: list[str], out: Path, report: BuildReport, spec: ShardSpec) -> dict:
    # One file: the CAD models of the 189 categories are a few MB.
    writer = ShardWriter(out, lambda part: "data/cad/cad.parquet", spec, max_bytes=2**62)
    for category in categories:
        for row in cad_rows(release, category, report):
            writer.add(row)
    return writer.close()


def summarize(report: BuildReport, notes: list[str]) -> dict:
    """The build report as sorted JSON-able dicts (no time, no absolute path: builds compare bytewise)."""
    totals: dict[str, dict[str, int]] = {}
    for key, value in sorted(report.totals.items()):
        split, name = key.split("/", 1)
        totals.setdefault(split, {})[name] = value
    filtered: dict[str, dict[str, int]] = {}
    for key, value in sorted(report.filtered.items()):
        split, reason = key.split("/", 1)
        filtered.setdefault(split, {})[reason] = value
    flagged: dict[str, dict[str, int]] = {}
    for key, value in sorted(report.flagged.items()):
        split, flag = key.split("/", 1)
        flagged.setdefault(split, {})[flag] = value
    skips = sorted(report.skips, key=lambda s: (s["reason"], s["file"], s["field"] or "", s.get("detail", "")))
    return {
        "totals": totals, "filtered": filtered, "flagged": flagged,
        "skipped": dict(sorted(Counter(s["reason"] for s in skips).items())),
        "converted": dict(sorted(Counter(c["from"] for c in report.converted).items())),
        "notes": notes, "skips": skips,
        "flags": sorted(report.flags, key=lambda f: (f["flag"], f["file"], f["field"])),
        "conversions": sorted(report.converted, key=lambda c: c["file"]),
    }


# ---- the build -----------------------------------------------------------------------------------------------


def _prepare_out(out: Path) -> Path:
    """The empty staging folder beside OUT; restores OUT from an interrupted swap; refuses foreign folders."""
    staging, old = out.parent / f".{out.name}.partial", out.parent / f".{out.name}.old"
    if old.exists() and not out.exists():
        old.rename(out)  # a previous build died between its two renames: OUT goes back
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / REPORT_NAME).is_file())):
        raise ImageNet3DError(f"{out}: exists and is not an imagenet3d build (no {REPORT_NAME}); "
                              "choose another OUT or remove it")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def _swap_in(staging: Path, out: Path) -> None:
    old = out.parent / f".{out.name}.old"
    if out.exists():
        out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _run_units(tasks: list[tuple], sizes: list[int], num_proc: int, done) -> list[dict]:
    """:func:`build_unit` of every task, in task order; ``done(size)`` is called as each one finishes.

    With ``num_proc`` > 1, ``num_proc - 1`` worker processes are spawned (not forked: the parent holds pyarrow
    thread pools, which fork can deadlock) and this process builds units too, so that the seconds the workers
    spend starting (a fresh interpreter importing pyarrow, Pillow, numpy and the caller's main module) are not
    seconds of waiting. Units go out largest first, one at a time to whoever is free, so that no process is left
    with a big one at the end. The first error a unit raises is raised here, after the workers are stopped.
    """
    if num_proc <= 1 or len(tasks) <= 1:
        results = []
        for task, size in zip(tasks, sizes):
            results.append(build_unit(task))
            done(size)
        return results
    import multiprocessing
    import queue
    import threading

    pending = sorted(range(len(tasks)), key=lambda i: -sizes[i])
    lock, finished = threading.Lock(), queue.SimpleQueue()
    results: list = [None] * len(tasks)
    errors: list[BaseException] = []
    outstanding = [0]  # units handed to the workers and not yet collected here

    def take(to_worker: bool) -> int | None:
        with lock:
            if not pending or errors:
                return None
            outstanding[0] += to_worker
            return pending.pop(0)

    def collect(item: tuple) -> None:
        with lock:
            outstanding[0] -= 1
        if item[0] != "error":
            results[item[0]] = item[1]
            done(sizes[item[0]])

    workers = min(num_proc - 1, len(tasks) - 1)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        def submit() -> None:  # here, and in the pool's result thread (the callback of a finished unit)
            index = take(to_worker=True)
            if index is not None:
                pool.apply_async(indexed_unit, ((index, tasks[index]),), callback=on_result, error_callback=on_error)

        def on_result(item: tuple[int, dict]) -> None:
            finished.put(item)
            submit()

        def on_error(error: BaseException) -> None:
            errors.append(error)
            finished.put(("error", error))

        for _ in range(workers):
            submit()
        while True:
            while True:  # what the workers have finished meanwhile
                try:
                    collect(finished.get_nowait())
                except queue.Empty:
                    break
            if errors:
                raise errors[0]
            index = take(to_worker=False)
            if index is not None:  # this process builds a unit while the workers build theirs
                results[index] = build_unit(tasks[index])
                done(sizes[index])
                continue
            with lock:
                if not outstanding[0]:
                    break
            collect(finished.get())
    return results


def build(source: str | Path, out: str | Path = "imagenet3d", configs: list[str] | tuple[str, ...] | None = None,
          crop_size: int = DEFAULT_CROP_SIZE, jpeg_quality: int = 75, num_proc: int = 1, strict: bool = False,
          captions_file: str | Path | None = None, progress: bool = True) -> dict:
    """Build the dataset from a release folder or zip into ``out``; returns the build report (as written).

    Raises :class:`ImageNet3DError` for unusable input (and, with ``strict``, for the first bad input).
    With ``num_proc > 1``, ``num_proc - 1`` workers are spawned (not forked: pyarrow's threads make fork unsafe) and
    this process builds units too, so a script calling this must do so under ``if __name__ == "__main__":``.
    """
    configs = list(imagenet3d.CONFIG_NAMES if not configs else dict.fromkeys(configs))
    unknown = [c for c in configs if c not in imagenet3d.CONFIG_NAMES]
    if unknown:
        raise ImageNet3DError(f"unknown config(s) {unknown}; choose from {list(imagenet3d.CONFIG_NAMES)}")
    for option, value, ok, requirement in (("--crop-size", crop_size, crop_size >= 16, "at least 16"),
                                           ("--jpeg-quality", jpeg_quality, 1 <= jpeg_quality <= 95, "in 1..95"),
                                           ("--num-proc", num_proc, num_proc >= 1, "at least 1")):
        if not ok:
            raise ImageNet3DError(f"{option}: must be {requirement}, got {value}")
    kinds = {imagenet3d.CONFIG_SHARDS[c] for c in configs}
    if captions_file and "captions" not in configs:
        raise ImageNet3DError("--captions imports captions for the captions config, which --configs leaves out")
    captions = read_captions_file(captions_file) if captions_file and "image" in kinds else None
    options = BuildOptions(crop_size=crop_size, jpeg_quality=jpeg_quality, strict=strict, pose="pose" in kinds,
                           image="image" in kinds,
                           imported_captions=Path(captions_file).name if captions is not None else None)
    release = Release(source)
    report = BuildReport(strict=strict, where=release.where)
    categories = release_categories(release, report)
    notes = []
    if release.exists("synthetic.json"):  # our synthetic release: the card says which categories are known and why
        from modeling.synthetic.categories import MODELS, synthetic_categories_paragraph

        notes.append(synthetic_categories_paragraph([c for c in categories if c in MODELS]))
    units = [(category, split) for category in categories for split in SPLITS]
    listed = {unit: listed_ids(release, *unit) for unit in units}
    for category in categories:
        unlisted = unlisted_images(release, category)
        if unlisted:
            notes.append(f"{unlisted} image(s) of {category} are in no list file (outside both splits, not built)")
    if captions is not None:
        known_ids = {image_id for ids in listed.values() for image_id in ids}
        for image_id in sorted(set(captions) - known_ids):
            report.skip("caption for an image that no list names", Path(captions_file).name, "image_id", image_id)

    out = Path(out).absolute()
    staging = _prepare_out(out)
    try:
        files: dict[str, dict] = {}
        specs = shard_specs()
        if options.pose or options.image:
            tasks = [(str(release.source), c, s, options,
                      {i: captions[i] for i in listed[(c, s)] if i in captions} if captions is not None else None,
                      str(staging), specs, MAX_SHARD_BYTES) for c, s in units]
            bar = tqdm(total=sum(len(ids) for ids in listed.values()), desc="build", unit="img", disable=not progress)
            sizes = [len(listed[unit]) for unit in units]
            results = _run_units(tasks, sizes, num_proc, bar.update)
            bar.close()
            for result in results:  # unit order: the merged report does not depend on num_proc
                files.update(result["files"])
                report.merge(result["report"])
        if "cad" in kinds:
            files.update(_write_cad(release, categories, staging, report, specs["cad"]))
        summary = summarize(report, notes)
        yaml_configs, infos, counts = describe_configs(configs, files)
        for config in configs:
            if config not in counts:
                summary["notes"].append(f"config {config} has no rows and is not in the card")
        source = release_source(release)  # synthetic (the generator's marker) or official: the card says which
        summary = {"options": {**asdict(options), "configs": configs}, "rows": counts, "source": source, **summary}
        (staging / "README.md").write_text(render_card(options, yaml_configs, infos, counts, summary, source),
                                           encoding="utf-8")
        (staging / REPORT_NAME).write_text(json.dumps(summary, indent=1, sort_keys=False, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        release.close()
    return summary


# ---- the command ---------------------------------------------------------------------------------------------


def download_release(token: str | None = None) -> Path:
    """The official zip from the Hub (gated: accept the terms on the dataset page, then log in or pass a token)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(HUB_REPO, HUB_FILE, repo_type="dataset", token=token))
    except LocalEntryNotFoundError as err:
        raise ImageNet3DError(f"cannot download {HUB_REPO}/{HUB_FILE}: offline and not cached ({err})") from None
    except HfHubHTTPError as err:
        raise ImageNet3DError(f"cannot download {HUB_REPO}/{HUB_FILE} (gated: accept the terms at "
                              f"https://huggingface.co/datasets/{HUB_REPO} and log in): {err}") from None
    except Exception as err:  # network errors of the HTTP client (not all are OSError): one line, no traceback
        raise ImageNet3DError(f"cannot download {HUB_REPO}/{HUB_FILE}: {type(err).__name__}: {err}") from None

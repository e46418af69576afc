"""Reading the crops for training: the built dataset into torch batches, against the official-style reader.

Every loader reads the same crops (the 512-pixel crops of the ``build`` benchmark's release, train split) with a
``torch.utils.data.DataLoader`` of the same batch size and workers, timed over one pass (best of three), and each
delivers the same tensor: (B, 3, SIZE, SIZE) uint8 crops, SIZE = 256 being the official baseline's input (spec §5
Task 2; no model takes the 512² crops themselves):

* ours: ``load_dataset(OUT, "pose", split="train")``, the fields the per-item reader delivers selected (``FIELDS``:
  the crop, the three angles, the distance, the category), with ``cast_column("image", Image(decode=False))``,
  batches made by :class:`modeling.data.collate.ResizedCropCollator` (each JPEG decoded by libjpeg straight to 256²,
  its DCT scaled by 1/2: Pillow's ``draft``); with all 28 fields of the config in ``details.all_fields_crops_per_s``
  (each field is one more tensor a worker hands over through shared memory);
* the official-style per-item reader (:class:`benchmarks.official.OfficialCropDataset` with ``size``): per item,
  open the crop's JPEG, decode it in full, resize it to 256² (Pillow's bilinear, what torchvision's ``Resize`` does
  to a PIL image), make it a contiguous (3, 256, 256) tensor (torchvision's ``PILToTensor``), read its npz; torch's
  default collate;
* the bound: the crops' JPEG bytes, already in memory, decoded to 256² by the fastest path (the same ``draft``
  decode, :func:`modeling.data.collate.decode_crop`) and stacked: what any reader that delivers 256² crops must do.

Entries ``loader`` (ours against the per-item reader, goal ≥ 5x) and ``loader_decode_bound`` (ours against the
bound, goal: within 1.3x); ``loader_full_size`` and ``loader_full_size_decode_bound`` are the same three at the
crops' full 512² (``collate_crops`` on decoded rows, the per-item reader without resizing, a full decode of the bytes
in memory), no goal: there every reader must decode every pixel. ``details.profile_ms_per_crop`` of ``loader``:
where the time of ours and of the per-item reader goes, each step timed alone in one process over the same crops in
the same run (ms per crop), beside each loader's best pass and the seconds it waited for its first batch (the
DataLoader starting its workers) in ``pass_s`` and ``first_batch_s``; ``details.draft_mean_abs_difference``: the
mean absolute difference (0-255 levels) between ours and a full decode resized to 256², over the crops of the
profile.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

from benchmarks import data
from benchmarks.suite import Benchmark, entry

SIZE = 256
"""The side of the crops every loader delivers: the official baseline's input (spec §5 Task 2)."""
BATCH, WORKERS, PASSES = 32, 2, 3
FIELDS = ("image", "azimuth", "elevation", "theta", "distance", "category")
"""What the per-item reader delivers, and so what ours is asked for (``select_columns``)."""
PROFILE_CROPS, PROFILE_REPEATS = 320, 3
"""Crops the one-process profile times (the first of the split), and the repeats of each step (the least counts)."""


def _timed_pass(loader) -> tuple[float, int, tuple, float]:
    """One pass: seconds, crops, (crop shape, dtype), and the seconds to the first batch (workers' start-up)."""
    start, count, shape, first = time.perf_counter(), 0, None, None
    for batch in loader:
        first = first or time.perf_counter() - start
        count += len(batch["image"])
        shape = shape or (tuple(batch["image"].shape[1:]), batch["image"].dtype)
    return time.perf_counter() - start, count, shape, first


class _DecodeBatch:
    """Collate of the bound: JPEG bytes decoded (to ``size`` by ``draft``, or in full) and stacked."""

    def __init__(self, size: int | None) -> None:
        self.size = size

    def __call__(self, items: list[bytes]) -> dict:
        import numpy as np
        import torch

        from benchmarks.official import decode_jpeg
        from modeling.data.collate import decode_crop

        arrays = [decode_jpeg(b) if self.size is None else decode_crop(b, self.size) for b in items]
        return {"image": torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)}


def _crops_present(quick: bool, work: Path) -> tuple[Path, Path]:
    if "ours_pose" in data.PRODUCED and Path(data.PRODUCED["ours_pose"]).is_dir():
        return Path(data.PRODUCED["ours_pose"]), Path(data.PRODUCED["official_crops"])
    from benchmarks.bench_build import CROP, official, ours

    release = data.quick_release() if quick else data.release(60)
    ours(str(release), str(work / "ours"), ["pose"], CROP, 2)
    official(str(release), str(work / "official"), CROP, 2)
    return work / "ours", work / "official"


def _clock(function, repeats: int = PROFILE_REPEATS) -> tuple[float, object]:
    """The least of ``repeats`` timings of ``function()`` (seconds), and its result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def profile(undecoded, reader, count: int) -> tuple[dict, dict, float]:
    """Each step of ours and of the per-item reader timed alone, one process, on the first ``count`` crops.

    Returns ``(ours, official, mean_abs_difference)``: ms per crop of each step, and the mean absolute difference
    (levels) between ours and a full decode + bilinear resize to SIZE of the same crops. Torch runs one thread here,
    as in a DataLoader worker (two threads on a busy machine made a (3, 256, 256) copy take milliseconds).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _profile(undecoded, reader, count)
    finally:
        torch.set_num_threads(threads)


def _profile(undecoded, reader, count: int) -> tuple[dict, dict, float]:
    import numpy as np
    import torch
    from PIL import Image
    from torch.utils.data import default_collate

    from modeling.data.collate import ResizedCropCollator, open_reduced

    count = min(count, len(undecoded))
    batches = [list(range(start, min(start + BATCH, count))) for start in range(0, count, BATCH)]
    arrow, rows = _clock(lambda: [undecoded.__getitems__(b) for b in batches])  # what a DataLoader fetcher calls

    decode, pictures = _clock(lambda: [[open_reduced(row["image"]["bytes"], SIZE) for row in batch]
                                       for batch in rows])
    resize, pictures = _clock(lambda: [[p if p.size == (SIZE, SIZE) else p.resize((SIZE, SIZE), Image.BILINEAR)
                                        for p in batch] for batch in pictures])
    collator = ResizedCropCollator(SIZE)
    decoded_rows = [[{**row, "image": p} for row, p in zip(batch, ps)] for batch, ps in zip(rows, pictures)]
    collate, _ = _clock(lambda: [collator(batch) for batch in decoded_rows])
    ours = {"arrow_read": arrow, "decode": decode, "resize": resize, "collate": collate}

    paths = [reader.image_path(item) for item in range(count)]
    full_decode, full = _clock(lambda: [Image.open(path).convert("RGB") for path in paths])
    full_resize, resized = _clock(lambda: [p.resize((SIZE, SIZE), Image.BILINEAR) for p in full])
    npz_s, npz = _clock(lambda: [reader.annotation(item) for item in range(count)])
    to_tensor, tensors = _clock(lambda: [torch.from_numpy(np.array(p)).permute(2, 0, 1).contiguous() for p in resized])
    official_items = [{"image": t, **fields, "category": 0} for t, fields in zip(tensors, npz)]
    stack, _ = _clock(lambda: [default_collate(official_items[b[0]:b[-1] + 1]) for b in batches])
    official = {"open_and_decode": full_decode, "resize": full_resize, "to_tensor": to_tensor, "npz_read": npz_s,
                "collate": stack}

    ours_pixels = np.stack([np.asarray(p) for batch in pictures for p in batch]).astype(np.int16)
    by_full = np.stack([np.asarray(Image.open(io.BytesIO(row["image"]["bytes"])).convert("RGB")
                                   .resize((SIZE, SIZE), Image.BILINEAR)) for batch in rows for row in batch])
    by_full = by_full.astype(np.int16)
    per_crop = {name: {step: round(seconds / count * 1e3, 3) for step, seconds in steps.items()}
                for name, steps in (("ours", ours), ("official", official))}
    return per_crop["ours"], per_crop["official"], float(np.abs(ours_pixels - by_full).mean())


def run(quick: bool, work: Path) -> list[dict]:
    """The entries of this module's docstring."""
    import datasets
    import pyarrow.parquet as pq
    from datasets import load_dataset
    from torch.utils.data import DataLoader

    from benchmarks.official import OfficialCropDataset
    from modeling.data.collate import ResizedCropCollator, collate_crops

    ours_dir, official_dir = _crops_present(quick, work)
    everything = load_dataset(str(ours_dir), "pose", split="train")
    dataset = everything.select_columns(list(FIELDS))  # the fields the per-item reader delivers
    undecoded = dataset.cast_column("image", datasets.Image(decode=False))
    jpegs = [row["bytes"] for path in sorted((ours_dir / "data/pose/train").glob("*.parquet"))
             for row in pq.read_table(path, columns=["image"]).column("image").to_pylist()]

    def loader(items, collate=None):
        return DataLoader(items, batch_size=BATCH, num_workers=WORKERS, **({"collate_fn": collate} if collate else {}))

    loaders = {
        "ours": loader(undecoded, ResizedCropCollator(SIZE)),
        "ours_all_fields": loader(everything.cast_column("image", datasets.Image(decode=False)),
                                  ResizedCropCollator(SIZE)),
        "official": loader(OfficialCropDataset(official_dir, "train", size=SIZE)),
        "bound": loader(jpegs, _DecodeBatch(SIZE)),
        "ours_full": loader(dataset, collate_crops),
        "official_full": loader(OfficialCropDataset(official_dir, "train")),
        "bound_full": loader(jpegs, _DecodeBatch(None)),
    }
    best: dict[str, float] = {}
    counts: dict[str, int] = {}
    shapes: dict[str, tuple] = {}
    first: dict[str, float] = {}
    for _ in range(1 if quick else PASSES):  # interleaved, so that all see the same load
        for name, batches in loaders.items():
            seconds, counts[name], shapes[name], to_first = _timed_pass(batches)
            if seconds < best.get(name, float("inf")):
                best[name], first[name] = seconds, to_first
    for group in (("ours", "ours_all_fields", "official", "bound"), ("ours_full", "official_full", "bound_full")):
        if len({shapes[name] for name in group}) != 1 or len({counts[name] for name in group}) != 1:
            raise RuntimeError(f"the loaders deliver different crops: { {n: (counts[n], shapes[n]) for n in group} }")
    rate = {name: counts[name] / best[name] for name in best}
    ours_profile, official_profile, difference = profile(undecoded, OfficialCropDataset(official_dir, "train"),
                                                         32 if quick else PROFILE_CROPS)
    common = {"items": counts["ours"], "batch_size": BATCH, "workers": WORKERS}
    what = (f"load_dataset(OUT, 'pose'), the reader's 6 fields, + ResizedCropCollator({SIZE}), (B, 3, {SIZE}, {SIZE}) "
            "uint8")
    full = "full size (512²): load_dataset(OUT, 'pose'), the reader's 6 fields, + collate_crops"
    return [
        entry("loader", rate["ours"], rate["official"], "crops/s", what,
              f"official-style per-item reader (JPEG + npz per item, full decode, bilinear resize to {SIZE}²)",
              goal=5.0, size=SIZE, profile_ms_per_crop={"ours": ours_profile, "official": official_profile},
              all_fields_crops_per_s=rate["ours_all_fields"], fields=list(FIELDS),
              pass_s={name: best[name] for name in ("ours", "official", "bound")},
              first_batch_s={name: first[name] for name in ("ours", "official", "bound")},
              profile_crops=min(len(undecoded), 32 if quick else PROFILE_CROPS),
              draft_mean_abs_difference=difference, **common),
        entry("loader_decode_bound", rate["ours"], rate["bound"], "crops/s", what,
              f"JPEG decoding alone to {SIZE}² (bytes in memory, draft decode)", goal=round(1 / 1.3, 3), size=SIZE,
              **common),
        entry("loader_full_size", rate["ours_full"], rate["official_full"], "crops/s", full,
              "full size: official-style per-item reader (JPEG + npz per item)", **common),
        entry("loader_full_size_decode_bound", rate["ours_full"], rate["bound_full"], "crops/s", full,
              "full size: JPEG decoding alone (bytes in memory)", **common),
    ]


BENCHMARK = Benchmark("loader", run, "the built dataset into torch batches vs the official per-item reader")

"""Reading the crops for training: the built dataset into torch batches, against the official-style reader.

All three read the same crops (the 512-pixel crops of the ``build`` benchmark's release, train split) with a
``torch.utils.data.DataLoader`` of the same batch size and workers, and are timed over one pass:

* ours: ``load_dataset(OUT, "pose", split="train")``, batches made by :func:`modeling.data.collate.collate_crops`
  (``(B, 3, H, W)`` uint8 images and the fields as tensors);
* the official-style per-item reader (:class:`benchmarks.official.OfficialCropDataset`): per item, open the
  crop's JPEG, read its npz; torch's default collate;
* the bound: the crops' JPEG bytes, already in memory, decoded and stacked: what any reader must do.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks import data
from benchmarks.suite import Benchmark, entry

BATCH, WORKERS = 32, 2


def _timed_pass(loader) -> tuple[float, int]:
    start, count = time.perf_counter(), 0
    for batch in loader:
        count += len(batch["image"])
    return time.perf_counter() - start, count


def _decode_batch(items: list[bytes]):
    import numpy as np
    import torch

    from benchmarks.official import decode_jpeg

    return {"image": torch.from_numpy(np.stack([decode_jpeg(b) for b in items])).permute(0, 3, 1, 2)}


def _crops_present(quick: bool, work: Path) -> tuple[Path, Path]:
    if "ours_pose" in data.PRODUCED and Path(data.PRODUCED["ours_pose"]).is_dir():
        return Path(data.PRODUCED["ours_pose"]), Path(data.PRODUCED["official_crops"])
    from benchmarks.bench_build import CROP, official, ours

    release = data.quick_release() if quick else data.release(60)
    ours(str(release), str(work / "ours"), ["pose"], CROP, 2)
    official(str(release), str(work / "official"), CROP, 2)
    return work / "ours", work / "official"


def run(quick: bool, work: Path) -> list[dict]:
    """The entries of this module's docstring: ``loader`` (vs the per-item reader), ``loader_decode_bound``."""
    import pyarrow.parquet as pq
    from datasets import load_dataset
    from torch.utils.data import DataLoader

    from benchmarks.official import OfficialCropDataset
    from modeling.data.collate import collate_crops

    ours_dir, official_dir = _crops_present(quick, work)
    dataset = load_dataset(str(ours_dir), "pose", split="train")
    reader = OfficialCropDataset(official_dir, "train")
    jpegs = [row["bytes"] for path in sorted((ours_dir / "data/pose/train").glob("*.parquet"))
             for row in pq.read_table(path, columns=["image"]).column("image").to_pylist()]
    loaders = {
        "ours": DataLoader(dataset, batch_size=BATCH, num_workers=WORKERS, collate_fn=collate_crops),
        "official": DataLoader(reader, batch_size=BATCH, num_workers=WORKERS),
        "bound": DataLoader(jpegs, batch_size=BATCH, num_workers=WORKERS, collate_fn=_decode_batch),
    }
    best: dict[str, float] = {}
    counts: dict[str, int] = {}
    for _ in range(1 if quick else 2):
        for name, loader in loaders.items():
            seconds, counts[name] = _timed_pass(loader)
            best[name] = min(best.get(name, seconds), seconds)
    rate = {name: counts[name] / best[name] for name in best}
    common = {"items": counts["ours"], "batch_size": BATCH, "workers": WORKERS}
    what = "load_dataset(OUT, 'pose') + collate_crops"
    return [
        entry("loader", rate["ours"], rate["official"], "crops/s", what,
              "official-style per-item reader (JPEG + npz per item)", goal=5.0, **common),
        entry("loader_decode_bound", rate["ours"], rate["bound"], "crops/s", what,
              "JPEG decoding alone (bytes in memory)", goal=round(1 / 1.3, 3), **common),
    ]


BENCHMARK = Benchmark("loader", run, "the built dataset into torch batches vs the official per-item reader")

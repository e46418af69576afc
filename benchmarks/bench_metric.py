"""The scorer: the vectorised pose error against the official per-pair ``logm``, and ``score_files`` end to end.

* ``metric``: pairs/s of :func:`modeling.evaluation.metrics.pose_error` on 1,000,000 pairs against the official
  per-pair ``scipy.linalg.logm`` (spec §4) timed on a sample of ``BASELINE_PAIRS`` (a million takes minutes) and
  scaled; the largest difference between the two on the sample is in ``details``;
* ``score_files``: seconds of ``score_files`` (``imagenet3d score``: read, validate, score) on two 1,000,000-line
  JSONL files against reading the same files with ``json.loads`` per line alone (the floor of a stdlib reader).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from benchmarks.suite import Benchmark, entry

PAIRS, BASELINE_PAIRS = 1_000_000, 2_000


def official_pose_error(pred: np.ndarray, gt: np.ndarray) -> float:
    """One pair as the official code computes it: ‖logm(R_predᵀ R_gt)‖_F / √2 (radians)."""
    from scipy.linalg import logm

    from modeling.geometry import rotation_matrix

    r_pred, r_gt = rotation_matrix(*pred), rotation_matrix(*gt)
    return float(np.linalg.norm(np.real(logm(r_pred.T @ r_gt)), "fro") / np.sqrt(2))


def write_files(folder: Path, pred: np.ndarray, gt: np.ndarray) -> tuple[Path, Path]:
    """A references and a predictions JSONL file, one line per pair."""
    refs, preds = folder / "refs.jsonl", folder / "preds.jsonl"
    with refs.open("w") as r, preds.open("w") as p:
        for i, (a, b) in enumerate(zip(gt.tolist(), pred.tolist())):
            r.write(json.dumps({"id": i, "category": "car", "azimuth": a[0], "elevation": a[1], "theta": a[2]}) + "\n")
            p.write(json.dumps({"id": i, "azimuth": b[0], "elevation": b[1], "theta": b[2]}) + "\n")
    return preds, refs


def run(quick: bool, work: Path) -> list[dict]:
    """The entries of this module's docstring."""
    from modeling.evaluation.metrics import pose_error
    from modeling.evaluation.scoring import score_files

    pairs, sample = (2_000, 20) if quick else (PAIRS, BASELINE_PAIRS)
    rng = np.random.default_rng(0)
    pred, gt = rng.uniform(0, 2 * np.pi, (2, pairs, 3))
    start = time.perf_counter()
    ours = pose_error(pred, gt)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    reference = np.array([official_pose_error(p, g) for p, g in zip(pred[:sample], gt[:sample])])
    base_s = time.perf_counter() - start

    preds, refs = write_files(work, pred, gt)
    start = time.perf_counter()
    for path in (refs, preds):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                json.loads(line)
    parse_s = time.perf_counter() - start
    start = time.perf_counter()
    result = score_files(preds, refs, "pose")
    score_s = time.perf_counter() - start
    assert result["overall"]["count"] == pairs
    return [
        entry("metric", pairs / ours_s, sample / base_s, "pairs/s", f"vectorised pose_error ({pairs:,} pairs)",
              f"per-pair scipy.linalg.logm ({sample:,} pairs, scaled)", pairs=pairs, baseline_pairs=sample,
              max_abs_difference_rad=float(np.abs(ours[:sample] - reference).max())),
        entry("score_files", score_s, parse_s, "s", f"imagenet3d score on 2 × {pairs:,}-line files",
              "json.loads of every line alone", higher_is_better=False, lines=pairs,
              acc_pi6=result["overall"]["acc_pi6"]),
    ]


BENCHMARK = Benchmark("scorer", run, "the official metric vectorised vs per-pair logm; score on 1M-line files")

"""Speed of the official metric: our vectorised pose error vs the official per-pair logm, side by side.

    python benchmarks/bench_metric.py [--pairs 1000000] [--baseline-pairs 2000] [--files]

Reports pairs/second for both and their ratio (the baseline is timed on a subset: per-pair logm on a
million pairs takes minutes). With ``--files`` it also times ``imagenet3d score`` end to end on JSONL files
of ``--pairs`` lines (reading, validation, scoring).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.linalg import logm

from modeling.evaluation.metrics import pose_error
from modeling.evaluation.scoring import score_files
from modeling.geometry import rotation_matrix


def official_pose_error(pred: np.ndarray, gt: np.ndarray) -> float:
    r_pred, r_gt = rotation_matrix(*pred), rotation_matrix(*gt)
    return float(np.linalg.norm(np.real(logm(r_pred.T @ r_gt)), "fro") / np.sqrt(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--baseline-pairs", type=int, default=2000)
    parser.add_argument("--files", action="store_true", help="also time the scorer on JSONL files")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    pred, gt = rng.uniform(0, 2 * np.pi, (2, args.pairs, 3))

    start = time.perf_counter()
    ours = pose_error(pred, gt)
    ours_s = time.perf_counter() - start
    n = min(args.baseline_pairs, args.pairs)
    start = time.perf_counter()
    official = np.array([official_pose_error(p, g) for p, g in zip(pred[:n], gt[:n])])
    base_s = time.perf_counter() - start
    ours_rate, base_rate = args.pairs / ours_s, n / base_s
    print(f"vectorised pose_error: {args.pairs:,} pairs in {ours_s:.3f} s = {ours_rate:,.0f} pairs/s")
    print(f"official per-pair logm: {n:,} pairs in {base_s:.3f} s = {base_rate:,.0f} pairs/s")
    print(f"speed-up: {ours_rate / base_rate:,.0f}x; max |difference| on the shared pairs: "
          f"{np.abs(ours[:n] - official).max():.2e} rad")

    if args.files:
        with tempfile.TemporaryDirectory() as tmp:
            refs, preds = Path(tmp, "refs.jsonl"), Path(tmp, "preds.jsonl")
            with refs.open("w") as r, preds.open("w") as p:
                for i, (a, b) in enumerate(zip(gt.tolist(), pred.tolist())):
                    r.write(json.dumps({"id": i, "category": "car", "azimuth": a[0], "elevation": a[1],
                                        "theta": a[2]}) + "\n")
                    p.write(json.dumps({"id": i, "azimuth": b[0], "elevation": b[1], "theta": b[2]}) + "\n")
            start = time.perf_counter()
            result = score_files(preds, refs, "pose")
            files_s = time.perf_counter() - start
            print(f"score_files on {args.pairs:,} lines: {files_s:.2f} s = {args.pairs / files_s:,.0f} pairs/s "
                  f"(acc@pi/6 {result['overall']['acc_pi6']:.2f}%)")


if __name__ == "__main__":
    main()

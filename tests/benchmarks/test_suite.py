"""``python -m benchmarks --quick``: every benchmark runs and writes results of the documented shape (no timing is
asserted: figures on a test machine say nothing)."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIELDS = ("name", "figure", "baseline", "ratio", "units", "machine")


def test_quick_suite_writes_results_of_the_documented_shape(tmp_path):
    # One thread: the quick sizes are overhead-bound, and on a busy machine a second OpenMP thread spinning while its
    # partner waits for a core only burns time (the quick suite took 24 s of CPU with two threads, 13 s with one).
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
           "IMAGENET3D_BENCH_CACHE": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path / "out")], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert document["quick"] is True and document["machine"]["cores"] >= 1
    names = [e["name"] for e in document["entries"]]
    for expected in ("build", "build_memory_growth", "build_largest_shard", "loader", "loader_decode_bound",
                     "loader_full_size", "loader_full_size_decode_bound", "metric", "score_files", "objects_per_image",
                     "training_lora_vs_full", "baseline_step_tower", "baseline_step_jitter",
                     "inference_test_time_flip"):
        assert expected in names
    assert any(name.startswith("inference_batch_") for name in names)
    for e in document["entries"]:
        assert all(field in e for field in FIELDS), e
        assert e["machine"]["cpu"] is not None and "load_average_at_start" in e["machine"]
        assert isinstance(e["figure"], (int, float)) and isinstance(e["baseline"], (int, float)) and e["baseline"] > 0
        # figure, baseline and ratio are each rounded to 4 significant digits (suite._round: up to 5e-4 relative
        # each), so the ratio of the rounded two and the rounded ratio may differ by up to ~1.5e-3 relative.
        assert abs(e["ratio"] - e["figure"] / e["baseline"]) <= 1.5e-3 * abs(e["ratio"]) + 1e-9
    table = (tmp_path / "out" / "RESULTS.md").read_text()
    assert all(f"| {name}:" in table for name in names)


def test_only_runs_the_benchmarks_named(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "scorer", "--out", str(tmp_path)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    names = [e["name"] for e in json.loads((tmp_path / "results.json").read_text())["entries"]]
    assert names == ["metric", "score_files"]


def test_a_rerun_of_some_benchmarks_replaces_their_entries_in_the_full_results(tmp_path):
    from benchmarks.suite import entry, machine, markdown, merge_into, results_document, write

    host = machine()
    full = results_document([entry("a", 2.0, 1.0, "x/s", "a", "base"), entry("b", 1.0, 4.0, "s", "b", "base")],
                            host, False, "python -m benchmarks", 10.0)
    write(full, tmp_path)
    rerun = results_document([entry("b", 3.0, 4.0, "s", "b", "base")], host, False,
                             "python -m benchmarks --only b", 1.0)
    merged = merge_into(tmp_path / "results.json", rerun)
    assert [(e["name"], e["figure"]) for e in merged["entries"]] == [("a", 2.0), ("b", 3.0)]
    assert merged["entries"][0]["command"] == "python -m benchmarks"
    assert merged["updates"][0]["entries"] == ["b"] and "Re-measured" in markdown(merged)
    # Re-measuring b again replaces the earlier re-measurement's line; re-measuring a keeps b's.
    write(merged, tmp_path)
    again = merge_into(tmp_path / "results.json", results_document([entry("b", 5.0, 4.0, "s", "b", "base")], host,
                                                                   False, "python -m benchmarks --only b", 1.0))
    assert [u["entries"] for u in again["updates"]] == [["b"]] and markdown(again).count("Re-measured") == 1
    write(again, tmp_path)
    other = merge_into(tmp_path / "results.json", results_document([entry("a", 1.0, 1.0, "x/s", "a", "base")], host,
                                                                   False, "python -m benchmarks --only a", 1.0))
    assert [u["entries"] for u in other["updates"]] == [["b"], ["a"]]


def test_demo_entries_read_each_stage_seconds_and_throughput_from_results_json(tmp_path, monkeypatch):
    from benchmarks import bench_demo

    stages = {"synthesize": {"seconds": 60.0, "items": 7260, "unit": "images", "items_per_s": 121.0},
              "init_llava_pose": {"seconds": 2.0, "items": None, "unit": None, "items_per_s": None},
              "train_baseline": {"seconds": 138.0, "items": 288000, "unit": "samples", "items_per_s": 2087.0}}
    given = tmp_path / "results.json"
    given.write_text(json.dumps({"stages": stages}))
    monkeypatch.setenv("IMAGENET3D_DEMO_RESULTS", str(given))
    entries = {e["name"]: e for e in bench_demo.run(False, tmp_path)}
    assert set(entries) == {"demo_synthesize", "demo_init_llava_pose", "demo_train_baseline"}
    assert entries["demo_train_baseline"]["figure"] == 138.0 and entries["demo_train_baseline"]["baseline"] == 200.0
    assert entries["demo_train_baseline"]["ratio"] == 0.69
    assert entries["demo_synthesize"]["details"]["items_per_s"] == 121.0
    assert entries["demo_synthesize"]["details"]["unit"] == "images"
    # A results.json from before the throughputs were recorded: {stage: seconds}.
    given.write_text(json.dumps({"stages": {"synthesize": 30.0, "build": 10.0}}))
    entries = {e["name"]: e for e in bench_demo.run(False, tmp_path)}
    assert entries["demo_synthesize"]["ratio"] == 0.75 and "items_per_s" not in entries["demo_synthesize"]["details"]

"""`imagenet3d evaluate` on 2 CPU processes (`accelerate launch`; see tests/helpers/multiprocess.py): each process
takes a contiguous run of whole batches, the predictions are gathered in order, and the main process writes files
equal byte for byte to a one-process run's."""

from __future__ import annotations

import json

import pytest
import torch

from modeling.evaluation.evaluate import evaluate
from tests.helpers.llava_pose import tiny_model_dir
from tests.helpers.multiprocess import launch

EQUAL_FILES = ("predictions.jsonl", "references.jsonl", "metrics.json", "table.md")


@pytest.mark.parametrize("model, task, batch_size, max_objects", [
    ("llava_pose", "joint", 3, 13),  # 5 batches: 3 on process 0, 2 on process 1
    ("baseline", "open_vocab", 32, None),  # 1 batch: process 1 has nothing to do
])
def test_two_processes_write_what_one_writes(model, task, batch_size, max_objects, tiny_baseline, small_dataset,
                                             tmp_path):
    model_dir = tiny_model_dir() if model == "llava_pose" else tiny_baseline
    one, two = tmp_path / "one", tmp_path / "two"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each launched process (OMP_NUM_THREADS=1): the same float operations
    try:
        evaluate(model_dir, small_dataset, task, one, batch_size=batch_size, max_objects=max_objects,
                 max_new_tokens=8, progress=False)
    finally:
        torch.set_num_threads(threads)
    limit = ["--max-objects", max_objects] if max_objects else []
    output = launch(["evaluate", "--model", model_dir, "--data", small_dataset, "--task", task, "--out", two,
                     "--batch-size", batch_size, "--max-new-tokens", 8, "--no-progress", *limit])
    assert output.count("wrote predictions.jsonl") == 1  # the main process reports
    for name in EQUAL_FILES:
        assert (two / name).read_bytes() == (one / name).read_bytes(), name
    runs = [json.loads((folder / "run.json").read_text()) for folder in (one, two)]
    assert (runs[0]["processes"], runs[1]["processes"]) == (1, 2)
    assert runs[1]["objects"] == runs[0]["objects"] == len((one / "references.jsonl").read_text().splitlines())

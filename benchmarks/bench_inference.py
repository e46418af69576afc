"""Inference: latency and throughput of ``predict`` at batch 1, 8 and 32 (the tiny LLaVA-pose, CPU).

``PREDICT`` is the one function called, through ``predict(model, processor, images, task=...)``'s public
signature; to time the transformers pipeline instead, point it at a function with that signature. Images are the
crops of the built dataset (``describe`` task, greedy, the default token limit unless ``--quick``). Each batch size
is timed over ``ROUNDS`` batches after one warm-up batch.

* ``inference_batch_8`` / ``inference_batch_32``: images/s at that batch size against batch 1 (latency per batch
  in ``details``).
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.suite import Benchmark, entry

ROUNDS = 3


def PREDICT(model, processor, images, **kwargs):  # noqa: N802 - the switch point named in the docstring
    """The call under test (``modeling.llava_pose.inference.predict``)."""
    from modeling.llava_pose.inference import predict

    return predict(model, processor, images, **kwargs)


def run(quick: bool, work: Path) -> list[dict]:
    """The entries of this module's docstring."""
    import torch
    from datasets import load_dataset

    from benchmarks.bench_training import prepare
    from modeling.llava_pose.inference import load_model

    dataset_dir, model_dir = prepare(quick, work)
    model, processor = load_model(model_dir)
    crops = load_dataset(str(dataset_dir), "pose", split="train")
    batches = (1, 2, 4) if quick else (1, 8, 32)
    kwargs = {"task": "describe", "max_new_tokens": 2} if quick else {"task": "describe"}
    images = [crops[i % len(crops)]["image"].convert("RGB") for i in range(max(batches))]
    torch.manual_seed(0)
    latency = {}
    for size in batches:
        PREDICT(model, processor, images[:size], **kwargs)  # warm-up
        rounds = 1 if quick else ROUNDS
        start = time.perf_counter()
        for _ in range(rounds):
            PREDICT(model, processor, images[:size], **kwargs)
        latency[size] = (time.perf_counter() - start) / rounds
    single = 1 / latency[1]
    return [entry(f"inference_batch_{size}", size / latency[size], single, "images/s",
                  f"predict, batch {size}", "batch 1", latency_s=latency[size], baseline_latency_s=latency[1],
                  threads=torch.get_num_threads()) for size in batches[1:]]


BENCHMARK = Benchmark("inference", run, "predict latency and throughput at batch 1, 8, 32")

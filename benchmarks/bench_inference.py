"""Inference: latency and throughput of ``predict`` at batch 1, 8 and 32 (the tiny LLaVA-pose, CPU).

``PREDICT`` is the one function called, through ``predict(model, processor, images, task=...)``'s public
signature; to time the transformers pipeline instead, point it at a function with that signature. Images are the
crops of the built dataset (``describe`` task, greedy, the default token limit unless ``--quick``). Each batch size
is timed over ``ROUNDS`` batches after one warm-up batch.

* ``inference_batch_8`` / ``inference_batch_32``: images/s at that batch size against batch 1 (latency per batch
  in ``details``).
* ``inference_test_time_flip``: objects/s of the joint task (one box per crop, its largest batch) with test-time
  mirroring (``test_time_flip=True``: a second teacher-forced pass on the mirror crops) against without,
  interleaved.
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
    entries = [entry(f"inference_batch_{size}", size / latency[size], single, "images/s",
                     f"predict, batch {size}", "batch 1", latency_s=latency[size], baseline_latency_s=latency[1],
                     threads=torch.get_num_threads()) for size in batches[1:]]
    return [*entries, _test_time_flip_entry(model, processor, images, quick)]


def _test_time_flip_entry(model, processor, images: list, quick: bool) -> dict:
    """``inference_test_time_flip``: the joint task on every image's whole crop, with and without mirroring."""
    boxes = [[(0, 0, image.width, image.height)] for image in images]
    seconds: dict[bool, float] = {False: 0.0, True: 0.0}
    rounds = 1 if quick else ROUNDS
    for round_ in range(rounds + 1):
        for flip in (False, True):
            start = time.perf_counter()
            PREDICT(model, processor, images, task="joint", boxes=boxes, test_time_flip=flip,
                    max_new_tokens=2 if quick else 24)
            if round_:  # the first round warms up
                seconds[flip] += time.perf_counter() - start
    return entry("inference_test_time_flip", len(images) * rounds / seconds[True],
                 len(images) * rounds / seconds[False], "objects/s", f"predict joint, batch {len(images)}, "
                 "test_time_flip", "without test_time_flip")


BENCHMARK = Benchmark("inference", run, "predict latency and throughput at batch 1, 8, 32")

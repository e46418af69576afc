"""The suite's benchmarks, in the order they run (the build's outputs feed the loader)."""

from __future__ import annotations

from benchmarks import (
    bench_baseline_step,
    bench_build,
    bench_demo,
    bench_inference,
    bench_loader,
    bench_metric,
    bench_objects_per_image,
    bench_training,
)

BENCHMARKS = (bench_build.BENCHMARK, bench_loader.BENCHMARK, bench_metric.BENCHMARK,
              bench_objects_per_image.BENCHMARK, bench_training.BENCHMARK, bench_baseline_step.BENCHMARK,
              bench_inference.BENCHMARK, bench_demo.BENCHMARK)

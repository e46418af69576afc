"""The demo's stages: seconds of each, against the whole demo (from a demo's ``results.json`` ``stages``).

With ``IMAGENET3D_DEMO_RESULTS`` naming a ``results.json`` of ``imagenet3d demo`` (the full plan: ~10 minutes on a
2-core machine), its stages are read; otherwise the ``small`` plan runs here (``--quick`` too). One entry per stage:
its seconds against the total (``ratio``: the stage's share of the demo), with the stage's throughput in its
details (``items``, ``unit``, ``items_per_s``: images synthesized or built, training samples, objects or images
evaluated) where the stage counts what it processed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from benchmarks.suite import Benchmark, entry


def run(quick: bool, work: Path) -> list[dict]:
    """One ``demo_<stage>`` entry per stage."""
    given = os.environ.get("IMAGENET3D_DEMO_RESULTS")
    if given and not quick:
        results, source = json.loads(Path(given).read_text()), given
    else:
        from modeling.demo.pipeline import run_demo

        results, source = run_demo(work / "demo", plan="small", num_proc=2, progress=False), "small plan, this run"
    return stage_entries(results, source)


def stage_entries(results: dict, source: str) -> list[dict]:
    """The ``demo_<stage>`` entries of a demo's results (either layout of ``stages``: see
    ``modeling.demo.pipeline.stage_seconds``)."""
    from modeling.demo.pipeline import stage_seconds

    seconds = stage_seconds(results)
    total = sum(seconds.values())
    entries = []
    for name, value in seconds.items():
        stage = results["stages"][name]
        rate = {key: stage[key] for key in ("items", "unit", "items_per_s")} if isinstance(stage, dict) else {}
        entries.append(entry(f"demo_{name}", value, total, "s", f"demo stage {name}", "the whole demo",
                             higher_is_better=False, source=source, **rate))
    return entries


BENCHMARK = Benchmark("demo", run, "seconds and throughput per demo stage", slow=True)

"""The demo's stages: seconds of each, against the whole demo (from a demo's ``results.json`` ``stages``).

With ``IMAGENET3D_DEMO_RESULTS`` naming a ``results.json`` of ``imagenet3d demo`` (the full plan: 17 minutes), its
stages are read; otherwise the ``small`` plan runs here (``--quick`` too). One entry per stage: its seconds
against the total (``ratio``: the stage's share of the demo).
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
    stages = results["stages"]
    total = sum(stages.values())
    rates = results.get("stage_rates", {})
    return [entry(f"demo_{name}", float(seconds), float(total), "s", f"demo stage {name}", "the whole demo",
                  higher_is_better=False, source=source, **({"items_per_s": rates[name]} if name in rates else {}))
            for name, seconds in stages.items()]


BENCHMARK = Benchmark("demo", run, "seconds per demo stage", slow=True)

"""The suite: its entries, the machine it ran on, and the two files it writes (``results.json``, ``RESULTS.md``).

An entry is one figure beside its baseline, both measured in the same run on the same files::

    {"name": "build", "figure": 41.0, "baseline": 20.3, "ratio": 2.02, "units": "objects/s",
     "higher_is_better": true, "goal": 1.5, "met": true, "what": "...", "baseline_what": "...",
     "machine": {...}, "details": {...}}

``ratio`` is figure / baseline; ``goal``, where there is one, is a bound on the ratio (at least ``goal`` when
higher is better, at most ``goal`` otherwise) and ``met`` says whether this run reached it.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

RESULTS_JSON, RESULTS_MD = "results.json", "RESULTS.md"


def machine() -> dict[str, Any]:
    """Cores, CPU model, memory and the load average when the suite started (1, 5, 15 minutes)."""
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return {"cores": os.cpu_count(), "cpu": model, "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "load_average_at_start": load, "python": platform.python_version(), "platform": platform.platform()}


def entry(name: str, figure: float, baseline: float, units: str, what: str, baseline_what: str,
          higher_is_better: bool = True, goal: float | None = None, **details: Any) -> dict[str, Any]:
    """One result: ``figure`` beside ``baseline`` (same units), their ratio, and whether it meets ``goal``."""
    ratio = figure / baseline if baseline else float("nan")
    met = None
    if goal is not None:
        met = bool(ratio >= goal) if higher_is_better else bool(ratio <= goal)
    return {"name": name, "figure": _round(figure), "baseline": _round(baseline), "ratio": _round(ratio),
            "units": units, "higher_is_better": higher_is_better, "goal": goal, "met": met, "what": what,
            "baseline_what": baseline_what, "details": {k: _round(v) for k, v in details.items()}}


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_round(v) for v in value]
    return value


@dataclass(frozen=True)
class Benchmark:
    """A named group of entries: ``run(quick, work)`` returns them (``work``: a scratch folder of its own).

    A ``slow`` benchmark runs in ``--quick`` only when ``--only`` names it.
    """

    name: str
    run: Callable[[bool, Path], list[dict[str, Any]]]
    about: str
    slow: bool = False


def results_document(entries: list[dict], host: dict, quick: bool, command: str, seconds: float) -> dict:
    """What ``results.json`` holds: when, where, how, and the entries (each with the machine, as the test asks)."""
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return {"date": date, "quick": quick,
            "command": command, "machine": host, "seconds": round(seconds, 1),
            "entries": [{**e, "machine": host, "date": date, "command": command} for e in entries]}


def merge_into(path: Path, document: dict) -> dict:
    """``document``'s entries put into the full results at ``path`` (same name: replaced), when there are any."""
    if not path.is_file():
        return document
    earlier = json.loads(path.read_text(encoding="utf-8"))
    if earlier.get("quick"):
        return document
    fresh = {e["name"] for e in document["entries"]}
    kept = [e for e in earlier["entries"] if e["name"] not in fresh]
    for e in kept:
        e.setdefault("date", earlier["date"])
        e.setdefault("command", earlier["command"])
    # An earlier re-measurement keeps only the entries this one leaves as they were (none left: it goes).
    updates = [{**u, "entries": [n for n in u["entries"] if n not in fresh]} for u in earlier.get("updates", [])]
    updates = [u for u in updates if u["entries"]] + [{"date": document["date"], "command": document["command"],
                                                        "entries": sorted(fresh)}]
    return {**earlier, "updates": updates, "entries": kept + document["entries"]}


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return "–" if value is None else str(value)


def markdown(document: dict) -> str:
    """The results as a Markdown table, with the date, the machine and the command."""
    host = document["machine"]
    lines = [f"Measured {document['date']} by `{document['command']}` ({document['seconds']:.0f} s) on "
             f"{host['cores']} cores ({host['cpu']}), {host['memory_gb']} GB, load average at start "
             f"{host['load_average_at_start']}. Ratio = figure / baseline, both from this run.", "",
             "| benchmark | figure | baseline | ratio | units | goal |", "|---|---|---|---|---|---|"]
    for update in document.get("updates", []):
        lines.insert(1, f"Re-measured {update['date']} by `{update['command']}`: {', '.join(update['entries'])} "
                        "(each beside its own baseline of that run; load average at its start: "
                        f"{_load_of(document, update)}).")
    for e in document["entries"]:
        goal = "–" if e["goal"] is None else (f"{'≥' if e['higher_is_better'] else '≤'} {e['goal']}: "
                                              f"{'met' if e['met'] else '**missed**'}")
        lines.append(f"| {e['name']}: {e['what']} vs {e['baseline_what']} | {_cell(e['figure'])} | "
                     f"{_cell(e['baseline'])} | {_cell(e['ratio'])} | {e['units']} | {goal} |")
    profiles = [_profile_line(e) for e in document["entries"] if e["met"] is False and _profile_of(e)]
    if profiles:
        lines += ["", "Where the time goes, for the goals missed (each step timed alone, in the same run):", ""]
        lines += profiles
    return "\n".join(lines) + "\n"


def _profile_of(e: dict) -> tuple[str, dict] | None:
    """An entry's profile detail: ``profile_<unit>`` → {reader: {step: figure}} (e.g. ``profile_ms_per_crop``)."""
    for key, value in e.get("details", {}).items():
        if key.startswith("profile_") and isinstance(value, dict):
            return key[len("profile_"):].replace("_", " "), value
    return None


def _profile_line(e: dict) -> str:
    unit, readers = _profile_of(e)
    parts = ["; ".join(f"{reader}: " + ", ".join(f"{step.replace('_', ' ')} {_cell(value)}"
                                                 for step, value in steps.items())
                       for reader, steps in readers.items())]
    return f"- {e['name']} ({unit}): {parts[0]}"


def _load_of(document: dict, update: dict) -> Any:
    for e in document["entries"]:
        if e["name"] in update["entries"]:
            return e["machine"]["load_average_at_start"]
    return None


def write(document: dict, out: Path) -> tuple[Path, Path]:
    """Write ``results.json`` and ``RESULTS.md`` into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / RESULTS_JSON, out / RESULTS_MD
    json_path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown(document), encoding="utf-8")
    return json_path, md_path

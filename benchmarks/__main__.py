"""``python -m benchmarks [--quick] [--only NAME ...] [--out DIR]``: every benchmark, each beside its baseline.

Writes ``results.json`` and ``RESULTS.md`` into ``--out`` (default: ``benchmarks/``). With ``--only`` (not
``--quick``) the entries measured replace those of the same name in an existing full ``results.json``, each entry
keeping the date, command and machine of its own run. ``--quick`` sizes every
benchmark down (seconds each, for the test suite; its figures say nothing about speed) and leaves out the demo
unless ``--only demo`` names it (its small plan takes minutes).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.entries import BENCHMARKS
from benchmarks.suite import RESULTS_JSON, machine, merge_into, results_document, write


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks asked for and write their results."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks that every benchmark runs")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=[b.name for b in BENCHMARKS],
                        help=f"run only these ({', '.join(b.name for b in BENCHMARKS)})")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="folder for results.json and RESULTS.md (default: benchmarks/)")
    args = parser.parse_args(argv)
    host = machine()
    command = "python -m benchmarks" + (" --quick" if args.quick else "") + \
        (f" --only {' '.join(args.only)}" if args.only else "")
    start, entries = time.perf_counter(), []
    with tempfile.TemporaryDirectory(prefix="imagenet3d-bench-") as tmp:
        for benchmark in BENCHMARKS:
            if args.only and benchmark.name not in args.only:
                continue
            if args.quick and benchmark.slow and not args.only:
                print(f"== {benchmark.name}: not in --quick unless named (--only {benchmark.name})", flush=True)
                continue
            print(f"== {benchmark.name}: {benchmark.about}", flush=True)
            began = time.perf_counter()
            work = Path(tmp) / benchmark.name
            work.mkdir()
            found = benchmark.run(args.quick, work)
            for e in found:
                print(f"   {e['name']}: {e['figure']} vs {e['baseline']} {e['units']} (ratio {e['ratio']})",
                      flush=True)
            print(f"   ({time.perf_counter() - began:.1f} s)", flush=True)
            entries += found
    document = results_document(entries, host, args.quick, command, time.perf_counter() - start)
    if args.only and not args.quick:
        document = merge_into(args.out / RESULTS_JSON, document)
    json_path, md_path = write(document, args.out)
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

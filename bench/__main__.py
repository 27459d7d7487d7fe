"""`python -m bench`: every benchmark, one table, one JSON file.

    python -m bench                          # full size (under 15 minutes on 2 cores)
    python -m bench --quick                  # small and fast, for a look while developing
    python -m bench --only e2e --only send   # some of them
    python -m bench --only scale             # 1, 2, 4 workers and PostgreSQL (not run by default)
    python -m bench --only campaign          # a 100,000-customer broadcast (not run by default)
    python -m bench --scan-customers 200000  # the scan at another size

Each figure is printed next to its baseline, measured in the same run, with the
ratio and the target; the JSON goes to bench/results/latest.json (not committed).
The exit status is 1 when a benchmark failed to run or missed its target.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import traceback
from pathlib import Path

from rich.console import Console

from bench.harness import Figure, render_table, write_results
from bench.suite import BENCHMARKS, FULL, OPT_IN, QUICK, Sizes

RESULTS = Path(__file__).parent / "results" / "latest.json"


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
    parser.add_argument(
        "--only", action="append", choices=sorted(BENCHMARKS), help="run only this one (repeat)"
    )
    parser.add_argument("--scan-customers", type=int, help="size of the scan benchmark")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    options = parser.parse_args()

    sizes = QUICK if options.quick else FULL
    if options.scan_customers:
        sizes = dataclasses.replace(sizes, scan_customers=options.scan_customers)
    # Wide enough for the table when the output goes to a file or a CI log.
    console = Console(width=None if sys.stdout.isatty() else 150)
    figures: list[Figure] = []
    failures: dict[str, str] = {}
    began = time.perf_counter()
    for name in options.only or [name for name in BENCHMARKS if name not in OPT_IN]:
        console.rule(f"[bold]{name}")
        started = time.perf_counter()
        try:
            figures += BENCHMARKS[name](sizes)
        except Exception as error:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failures[name] = f"{type(error).__name__}: {error}"
        console.print(f"{name}: {time.perf_counter() - started:.0f} s")
    seconds = time.perf_counter() - began

    render_table(figures, console)
    for name, failure in failures.items():
        console.print(f"[red]{name} did not finish:[/] {failure}")
    write_results(
        options.out,
        figures,
        options={"quick": options.quick, "only": options.only, **_describe(sizes)},
        seconds=seconds,
        failures=failures,
    )
    console.print(f"{len(figures)} figures in {seconds:.0f} s; JSON written to {options.out}")
    return 1 if failures or any(figure.passed is False for figure in figures) else 0


def _describe(sizes: Sizes) -> dict[str, object]:
    return {key: str(value) for key, value in dataclasses.asdict(sizes).items()}


if __name__ == "__main__":
    sys.exit(main())

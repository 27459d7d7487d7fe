"""`careflow --help` next to `python -c "import typer, rich"`, each in a fresh interpreter.

    python -m bench.cli_bench                 # 21 runs of each, alternating
    python -m bench.cli_bench --runs 51

Both are started the same way (this interpreter, the same environment), taking
turns so a machine that gets busier or quieter meanwhile favours neither; the
figure is each side's median wall time. The baseline is the least a typer CLI
with rich can start in; target: `careflow --help` at most 2x that.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELP = [
    sys.executable,
    "-c",
    "import sys; from careflow.cli import main; sys.argv[0] = 'careflow'; main()",
    "--help",
]
BASELINE = [sys.executable, "-c", "import typer, rich"]


@dataclass(frozen=True)
class Figures:
    runs: int
    help_seconds: float
    baseline_seconds: float

    @property
    def ratio(self) -> float:
        return self.help_seconds / self.baseline_seconds


def _once(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def measure(runs: int = 21) -> Figures:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # One of each first, unmeasured: the files are in the page cache for both sides.
    _once(HELP, env)
    _once(BASELINE, env)
    helps, baselines = [], []
    for _ in range(runs):
        helps.append(_once(HELP, env))
        baselines.append(_once(BASELINE, env))
    return Figures(runs, statistics.median(helps), statistics.median(baselines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=21)
    figures = measure(parser.parse_args().runs)
    print(
        f"careflow --help {figures.help_seconds * 1000:.0f} ms, import typer, rich "
        f"{figures.baseline_seconds * 1000:.0f} ms (median of {figures.runs}): "
        f"{figures.ratio:.2f}x"
    )


if __name__ == "__main__":
    main()

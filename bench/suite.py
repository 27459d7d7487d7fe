"""Every benchmark `python -m bench` runs, at full or quick size, as harness Figures.

Each entry calls the benchmark's own module (which can also run alone, with its
own options) and turns what it measured into rows; nothing is measured here.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench import (
    campaign_bench,
    cli_bench,
    e2e_bench,
    memory_bench,
    rules_bench,
    scale_bench,
    scan_bench,
    send_bench,
    simulate_bench,
)
from bench.harness import Figure

# The target for the daily scan holds at this size.
SCAN_TARGET_CUSTOMERS = 1_000_000
SCAN_TARGET_SECONDS = 120.0


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark runs; the defaults (FULL) fit the 15-minute budget on
    this machine's 2 shared cores. The scan at the issue's million customers:
    `python -m bench --only scan --scan-customers 1000000` (about 6 minutes here)."""

    scan_customers: int = 300_000
    scan_db: Path = Path("/tmp/careflow-bench-scan.db")
    send_messages: int = 10_000  # the count
    rule_snapshots: int = 100_000
    load: e2e_bench.Load = field(default_factory=e2e_bench.Load)
    memory_batches: tuple[int, ...] = (300, 600, 1200)
    memory_cache: int = 150
    scale_workers: tuple[int, ...] = (1, 2, 4)
    scale_postgres_workers: tuple[int, ...] = (1, 2)
    scale_burst: int = 200
    cli_runs: int = 21
    simulate_days: int = 30
    simulate_workers: int = os.cpu_count() or 1
    campaign_customers: int = 100_000  # the broadcast size


FULL = Sizes()
QUICK = Sizes(
    scan_customers=50_000,
    send_messages=1000,
    rule_snapshots=10_000,
    load=e2e_bench.Load(seconds=8, burst=100),
    memory_batches=(300, 600),
    memory_cache=100,
    scale_workers=(1, 2),
    scale_postgres_workers=(1,),
    scale_burst=60,
    cli_runs=7,
    simulate_days=9,
    campaign_customers=5000,
)


def scan(sizes: Sizes) -> list[Figure]:
    """Facts for every customer in pages vs one bare GROUP BY (data built once, then reused)."""
    customers = sizes.scan_customers
    orders = customers * 10
    path = sizes.scan_db.with_name(f"{sizes.scan_db.stem}-{customers}{sizes.scan_db.suffix}")
    scan_bench.prepare(path, customers, orders, rebuild=False)
    figures = asyncio.run(scan_bench.measure(path, customers, orders, page_size=5000, repeat=1))
    windowed = asyncio.run(
        scan_bench.measure(path, customers, orders, page_size=5000, repeat=1, windowed=True)
    )
    at_full_size = customers >= SCAN_TARGET_CUSTOMERS
    return [
        Figure(
            "scan",
            f"facts for {customers:,} customers",
            "s",
            figures.facts_seconds,
            figures.baseline_seconds,
            "lower",
            target_ratio=2.0,
            target_value=SCAN_TARGET_SECONDS if at_full_size else None,
            note=""
            if at_full_size
            else f"1M at this pace: "
            f"{figures.facts_seconds * SCAN_TARGET_CUSTOMERS / customers:.0f} s",
        ),
        # Five declared windowed facts (rules/derived_facts.yaml) on top, against a
        # baseline that also aggregates the tables they read.
        Figure(
            "scan",
            f"facts + 5 windowed facts for {customers:,} customers",
            "s",
            windowed.facts_seconds,
            windowed.baseline_seconds,
            "lower",
            target_ratio=2.0,
        ),
    ]


def send(sizes: Sizes) -> list[Figure]:
    """The send step on SQLite and PostgreSQL vs a bare aiosmtplib loop, same sink."""
    figures = asyncio.run(send_bench.measure(sizes.send_messages))
    each = f"{figures.messages:,} each"
    rows = [
        Figure(
            "send",
            f"messages sent, SQLite ({each})",
            "msg/s",
            figures.sqlite_per_second,
            figures.baseline_per_second,
            "higher",
            # Issue 21: PostgreSQL at 0.5x "without SQLite falling below 0.65x".
            target_ratio=0.65,
        ),
        # What a durable ledger row per message costs at the least: no target.
        Figure(
            "send",
            f"floor: bare loop + one committed SQLite row ({each})",
            "msg/s",
            figures.floor_per_second,
            figures.baseline_per_second,
            "higher",
        ),
    ]
    if figures.postgres_per_second is not None:
        rows.insert(
            1,
            Figure(
                "send",
                f"messages sent, PostgreSQL ({each})",
                "msg/s",
                figures.postgres_per_second,
                figures.baseline_per_second,
                "higher",
                target_ratio=0.5,
            ),
        )
    return rows


def rules(sizes: Sizes) -> list[Figure]:
    """Compiled rule files vs hand-written durable_rules on the same snapshots."""
    with tempfile.TemporaryDirectory() as folder:
        rulebook = rules_bench.load_bench_rulebook(Path(folder))
    figures = rules_bench.measure(rulebook, sizes.rule_snapshots)
    return [
        Figure(
            "rules",
            f"evaluate {figures.snapshots:,} snapshots",
            "s",
            figures.careflow_seconds,
            figures.baseline_seconds,
            "lower",
            target_ratio=1.25,
        )
    ]


def e2e(sizes: Sizes) -> list[Figure]:
    """complaint_opened over HTTP -> acknowledgement at the sink: direct vs workflow event path."""
    return asyncio.run(e2e_bench.measure(sizes.load)).figures()


def memory(sizes: Sizes) -> list[Figure]:
    """Worker RSS with journeys on timers, batch after batch."""
    result = asyncio.run(memory_bench.measure(sizes.memory_batches, sizes.memory_cache))
    return result.figures()


def scale(sizes: Sizes) -> list[Figure]:
    """The end-to-end burst with more worker processes and on PostgreSQL."""
    rows = asyncio.run(
        scale_bench.measure(
            sizes.scale_workers, sizes.scale_postgres_workers, burst=sizes.scale_burst
        )
    )
    return scale_bench.figures(rows)


def cli(sizes: Sizes) -> list[Figure]:
    """`careflow --help` vs importing typer and rich, each in a fresh interpreter."""
    figures = cli_bench.measure(sizes.cli_runs)
    return [
        Figure(
            "cli",
            f"careflow --help (median of {figures.runs})",
            "s",
            figures.help_seconds,
            figures.baseline_seconds,
            "lower",
            target_ratio=2.0,
        )
    ]


def simulate(sizes: Sizes) -> list[Figure]:
    """Journeys of 400 real CDNOW customers: one server vs partitions over N processes."""
    with tempfile.TemporaryDirectory(prefix="careflow-simulate-bench-") as folder:
        work = Path(folder)
        data = simulate_bench.fixture_data(work / "data")
        figures = simulate_bench.measure_partitions(
            data,
            work,
            start=simulate_bench.START,
            days=sizes.simulate_days,
            workers=sizes.simulate_workers,
        )
    if not figures.identical:
        raise RuntimeError("the partitioned run's report differs from the one server's")
    one, many = figures.baseline, figures.careflow
    return [
        Figure(
            "simulate",
            f"customer-days per CPU-s, {many.partitions} partitions, {many.workers} processes "
            f"({one.customer_days:,} customer-days; baseline: 1 server)",
            "cust-days/CPU-s",
            many.per_cpu_second,
            one.per_cpu_second,
            "higher",
            note=f"wall {many.wall_seconds:.0f} s vs {one.wall_seconds:.0f} s; reports identical",
        )
    ]


def campaign(sizes: Sizes) -> list[Figure]:
    """A broadcast to a whole segment vs the send step alone, same store and sink."""
    figures = asyncio.run(campaign_bench.measure(sizes.campaign_customers))
    start, middle, end = figures.rss_mb
    return [
        Figure(
            "campaign",
            f"broadcast to {figures.customers:,} customers (baseline: the send step alone, "
            f"{figures.baseline_messages:,} messages)",
            "msg/s",
            figures.campaign_per_second,
            figures.send_step_per_second,
            "higher",
            target_ratio=0.8,
            note=f"worker RSS {start:.0f} / {middle:.0f} / {end:.0f} MB (start / middle / end)",
        )
    ]


BENCHMARKS: dict[str, Callable[[Sizes], list[Figure]]] = {
    "cli": cli,
    "scan": scan,
    "send": send,
    "rules": rules,
    "e2e": e2e,
    "memory": memory,
    "scale": scale,
    "simulate": simulate,
    "campaign": campaign,
}
# Run only when asked for (--only scale, --only campaign): with them the full run
# would not fit in 15 minutes on this machine (the 100,000-customer broadcast alone
# takes about as long), and scale's answer changes only with the hardware.
OPT_IN = frozenset({"scale", "campaign"})

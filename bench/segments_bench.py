"""Counting a segment over a large customer base, next to the scan's fact computation.

    python -m bench.segments_bench                     # 100,000 customers, 1,000,000 orders
    python -m bench.segments_bench --customers 1000000

The store is bench/scan_bench.py's generated SQLite database. Measured in one run:
- facts: `compute_facts` over every customer in pages of 5,000 by primary key, as
  the daily scan computes them (the reference);
- count: `careflow.segments.count_segment` of each shipped segment with a sample of 20
  (pages in customer-id order, facts computed the same way, membership evaluated);
- peak memory of the process (ru_maxrss) after each, which stays flat with the
  number of customers because nothing but the sample outlives a batch.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
from pathlib import Path

from bench.scan_bench import AT, measure_facts, prepare
from careflow.facts import load_facts_config
from careflow.paths import RULES_DIR
from careflow.segments import count_segment, load_segments
from careflow.store import create_database


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(path: Path) -> None:
    db = create_database(f"sqlite+aiosqlite:///{path}")
    book = load_segments(RULES_DIR)
    config = load_facts_config()
    try:
        seconds, computed = await measure_facts(db, 5000)
        print(f"facts of {computed:,} customers: {seconds:.1f} s, peak {_peak_mib():.0f} MiB")
        for name in book.names():
            started = time.perf_counter()
            counted = await count_segment(db, book, name, at=AT, sample=20, config=config)
            took = time.perf_counter() - started
            print(
                f"count {name}: {counted.total:,} of {counted.customers:,} in {took:.1f} s "
                f"({took / seconds:.2f}x the facts), peak {_peak_mib():.0f} MiB"
            )
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders-per-customer", type=int, default=10)
    parser.add_argument("--db", type=Path, default=Path("/tmp/careflow-segments-bench.db"))
    parser.add_argument("--rebuild", action="store_true", help="rebuild even if the data exists")
    args = parser.parse_args()
    prepare(
        args.db, args.customers, args.customers * args.orders_per_customer, rebuild=args.rebuild
    )
    asyncio.run(measure(args.db))


if __name__ == "__main__":
    main()

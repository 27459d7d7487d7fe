"""`careflow import` of a purchase history: the batched path next to the row-by-row one.

    python -m bench.import_bench                          # 23,570 customers, 69,659 orders
    python -m bench.import_bench --cdnow CDNOW_master.txt # the real CDNOW history instead

Both paths write the same validated rows into a fresh careflow SQLite store
(schema from the migrations), in one transaction each:
- baseline: row by row through `careflow.intake.apply` (`upsert_customer`,
  `add_order`), one lookup and one flush per row, which is how `import_file`
  wrote before it had a batched path, and how events write;
- careflow: `careflow.intake.importer.write_records`, new rows in multi-row INSERTs.
Validation (the same for both) is measured apart. Without `--cdnow`, the rows are
made up at the CDNOW history's size (customers, orders per customer, dates), since
the full data set is not shipped: `CDNOW_master.txt` is in the `lifetimes` wheel.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.cdnow import CUSTOMER_COLUMNS, ORDER_COLUMNS, write_cdnow
from careflow.intake import apply
from careflow.intake.importer import CustomerRow, OrderRow, validate_file, write_records
from careflow.store import Customer, Database, create_database

CUSTOMERS, ORDERS = 23_570, 69_659


@dataclass(frozen=True)
class Figures:
    customers: int
    orders: int
    validate_seconds: float
    baseline_seconds: float
    batched_seconds: float

    @property
    def ratio(self) -> float:
        return self.batched_seconds / self.baseline_seconds


def write_made_up(folder: Path, customers: int, orders: int, seed: int = 7) -> None:
    """Import files of the CDNOW history's shape: first purchases in early 1997, then repeats."""
    rng = random.Random(seed)
    first = date(1997, 1, 1)
    with (
        (folder / "customers.csv").open("w", newline="", encoding="utf-8") as c_file,
        (folder / "orders.csv").open("w", newline="", encoding="utf-8") as o_file,
    ):
        c_out, o_out = csv.writer(c_file), csv.writer(o_file)
        c_out.writerow(CUSTOMER_COLUMNS)
        o_out.writerow(ORDER_COLUMNS)
        per_customer = [1] * customers
        for _ in range(orders - customers):
            per_customer[rng.randrange(customers)] += 1
        for number, count in enumerate(per_customer, start=1):
            joined = first + timedelta(days=rng.randrange(84))
            customer = f"cdnow-{number:05d}"
            c_out.writerow([customer, "en-US", joined.isoformat()])
            days = sorted(rng.randrange(546) for _ in range(count - 1))
            for position, offset in enumerate([0, *days], start=1):
                ordered = joined + timedelta(days=offset)
                amount = f"{rng.uniform(5, 120):.2f}"
                o_out.writerow([f"{customer}-{position}", customer, ordered, amount, "1 CDs"])


async def _store(path: Path) -> Database:
    db = create_database(f"sqlite+aiosqlite:///{path}")
    await db.migrate()
    return db


async def _row_by_row(db: Database, customers: list[CustomerRow], orders: list[OrderRow]) -> None:
    now = datetime.now(UTC)
    async with db.session() as session:
        for customer in customers:
            await apply.upsert_customer(session, customer.customer_id, customer, now)
    async with db.session() as session:
        known: dict[str, Customer | None] = {}
        for order in orders:
            stored = known.get(order.customer_id)
            if stored is None:
                stored = known[order.customer_id] = await apply.find_customer(
                    session, order.customer_id
                )
            assert stored is not None
            await apply.add_order(session, stored, order, now)


async def measure(folder: Path, work: Path) -> Figures:
    """Validate once, then write the rows both ways into fresh stores."""
    started = time.perf_counter()
    customer_rows, problems = validate_file(folder / "customers.csv", "customers", set())
    ids = {row.customer_id for _, row in customer_rows if isinstance(row, CustomerRow)}
    order_rows, more = validate_file(folder / "orders.csv", "orders", ids)
    validated = time.perf_counter() - started
    if problems or more:
        raise SystemExit("\n".join(str(problem) for problem in (problems + more)[:5]))
    customers = [row for _, row in customer_rows if isinstance(row, CustomerRow)]
    orders = [row for _, row in order_rows if isinstance(row, OrderRow)]

    baseline_db = await _store(work / "row-by-row.db")
    started = time.perf_counter()
    await _row_by_row(baseline_db, customers, orders)
    baseline = time.perf_counter() - started
    await baseline_db.dispose()

    batched_db = await _store(work / "batched.db")
    started = time.perf_counter()
    await write_records(batched_db, "customers", customers)
    await write_records(batched_db, "orders", orders)
    batched = time.perf_counter() - started
    await batched_db.dispose()
    return Figures(len(customers), len(orders), validated, baseline, batched)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cdnow", type=Path, help="CDNOW_master.txt (from the lifetimes wheel)")
    parser.add_argument("--customers", type=int, default=CUSTOMERS)
    parser.add_argument("--orders", type=int, default=ORDERS)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="careflow-import-bench-") as temporary:
        work = Path(temporary)
        if options.cdnow:
            write_cdnow(work, options.cdnow)
        else:
            write_made_up(work, options.customers, options.orders)
        figures = asyncio.run(measure(work, work))
    print(
        f"{figures.customers:,} customers, {figures.orders:,} orders: "
        f"validation {figures.validate_seconds:.1f} s; writing row by row "
        f"{figures.baseline_seconds:.1f} s, batched {figures.batched_seconds:.1f} s "
        f"({figures.ratio:.2f}x)"
    )


if __name__ == "__main__":
    main()

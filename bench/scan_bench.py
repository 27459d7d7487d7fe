"""Facts for every customer, in pages, next to a bare SQL aggregate over the same orders.

    python -m bench.scan_bench                      # 1,000,000 customers, 10,000,000 orders
    python -m bench.scan_bench --customers 100000   # a tenth of that, for a quick look

The store is a real careflow SQLite database (schema from the migrations), filled
by INSERT ... SELECT over a recursive counter so building a million customers takes
seconds, not the time of ten million ORM objects. Orders are spread over customers
at random, as in a shop, so no page finds its orders stored together.

Two figures are measured in the same run on the same tables:
- baseline: one `GROUP BY customer_id` over all orders (count, sum, last order),
  every result row fetched through the same async engine;
- facts: `careflow.facts.compute_facts` over all customers in pages, as the daily
  scan calls it (without evaluating rules or starting workflows).
The target is facts within 2x of the baseline and under 2 minutes for the million.

The windowed case (`--windowed`) adds five declared windowed facts
(`rules/derived_facts.yaml`: counts of complaints, with and without a `where`, a
sum of order amounts, a sum of declared `points_earned` events and the last order's
amount) over two declared-event rows per customer. Its baseline adds the same five
facts computed in bare SQL for all customers at once; the target is again within 2x.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, text

from careflow.facts import compute_facts, load_facts_config
from careflow.rules.derived_facts import NO_DERIVED_FACTS, DerivedFacts, load_derived_facts
from careflow.store import Customer, Database, create_database

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_HISTORY_DAYS = 3 * 365


@dataclass(frozen=True)
class Figures:
    customers: int
    orders: int
    baseline_seconds: float
    facts_seconds: float

    @property
    def ratio(self) -> float:
        return self.facts_seconds / self.baseline_seconds


def build(path: Path, customers: int, orders: int) -> None:
    """Fill the (migrated, empty) database at `path` with generated customers and orders."""
    connection = sqlite3.connect(path)
    try:
        connection.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1000000;"
        )
        # Secondary indexes are dropped during the load and rebuilt afterwards from
        # their own DDL: one sort per index instead of ten million random inserts.
        indexes = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            " AND tbl_name IN ('customers', 'orders', 'complaints', 'consents',"
            " 'survey_responses', 'custom_events')"
        ).fetchall()
        for name, _sql in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        _insert_rows(connection, customers, orders)
        for _name, sql in indexes:
            connection.execute(sql)
        connection.execute("ANALYZE")
        connection.commit()
    finally:
        connection.close()


# The SQL below is concatenated from this module's constants only, hence the
# S608 exemptions; every value is a bound parameter.
# Generated rows come from a recursive counter `seq(n)`, 1..:rows, all inside SQLite.
_COUNTER = "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < :rows) "
# A random time in the :days days before :at, in SQLAlchemy's SQLite text format
# (so comparisons with bound parameters order correctly).
_RANDOM_TIME_BEFORE = (
    "strftime('%Y-%m-%d %H:%M:%S', :at,"
    " '-' || (abs(random()) % (:days * 86400)) || ' seconds') || '.000000'"
)

_CUSTOMERS_SQL = (
    _COUNTER  # noqa: S608 (constants of this module; values are bound)
    + "INSERT INTO customers (id, external_id, name, email, locale, timezone, birthday,"
    " birthday_calendar, tier, created_at, updated_at)"
    " SELECT n, printf('c%09d', n), 'Customer ' || n,"
    " CASE WHEN n % 10 = 0 THEN NULL ELSE 'customer' || n || '@example.com' END,"
    " CASE n % 5 WHEN 0 THEN 'zh-CN' WHEN 1 THEN 'en-US' WHEN 2 THEN 'en-GB'"
    "  WHEN 3 THEN 'de-DE' ELSE 'zh' END,"
    " CASE n % 5 WHEN 0 THEN 'Asia/Shanghai' WHEN 1 THEN 'America/New_York'"
    "  WHEN 2 THEN 'Europe/London' WHEN 3 THEN 'Europe/Berlin' ELSE NULL END,"
    " CASE WHEN n % 3 = 0 THEN NULL"
    "  ELSE date('1960-01-01', '+' || (abs(random()) % 15000) || ' days') END,"
    " CASE WHEN n % 20 = 0 THEN 'lunar' ELSE 'solar' END,"
    " CASE WHEN n % 100 = 0 THEN 'vip' ELSE NULL END,"
    " created, created"
    " FROM (SELECT n, " + _RANDOM_TIME_BEFORE + " AS created FROM seq)"
)
# A lunar birthday keeps the lunar month/day; the 30th exists only in "big" months.
_LUNAR_BIRTHDAYS_SQL = (
    "UPDATE customers SET birthday = date('2000-01-01', '+' || (id % 12) || ' months',"
    " '+' || (id % 30) || ' days') WHERE birthday_calendar = 'lunar' AND birthday IS NOT NULL"
)
_ORDERS_SQL = (
    _COUNTER  # noqa: S608 (constants of this module; values are bound)
    + "INSERT INTO orders (id, external_id, customer_id, ordered_at, amount, items)"
    " SELECT n, printf('o%010d', n), abs(random()) % :customers + 1, "
    + _RANDOM_TIME_BEFORE
    + ", (abs(random()) % 50000) / 100.0, NULL FROM seq"
)
_COMPLAINTS_SQL = (
    _COUNTER  # noqa: S608 (constants of this module; values are bound)
    + "INSERT INTO complaints (external_id, customer_id, opened_at, severity, status)"
    " SELECT printf('k%09d', n), n * 50, "
    + _RANDOM_TIME_BEFORE
    + ", CASE n % 4 WHEN 0 THEN 'low' WHEN 1 THEN 'medium' WHEN 2 THEN 'high'"
    " ELSE 'critical' END, 'open' FROM seq"
)
_CONSENTS_SQL = (
    "INSERT INTO consents (customer_id, channel, topic, granted, source, recorded_at)"
    " SELECT id, 'email', 'marketing', id % 4 <> 0, 'bench', created_at"
    " FROM customers WHERE id % 2 = 0"
)
_SURVEYS_SQL = (
    _COUNTER  # noqa: S608 (constants of this module; values are bound)
    + "INSERT INTO survey_responses (customer_id, score, answered_at)"
    " SELECT n * 20, n % 5 + 1, " + _RANDOM_TIME_BEFORE + " FROM seq"
)


_POINTS_SQL = (
    _COUNTER  # noqa: S608 (constants of this module; values are bound)
    + "INSERT INTO custom_events (event_id, customer_id, type, occurred_at, properties)"
    " SELECT printf('p%010d', n), abs(random()) % :customers + 1, 'points_earned', "
    + _RANDOM_TIME_BEFORE
    + ", json_object('points', abs(random()) % 500, 'reason', 'purchase') FROM seq"
)
EVENTS_YAML = """\
events:
  points_earned:
    properties:
      points: {type: number, required: true}
      reason: {type: enum, values: [purchase, birthday]}
"""
DERIVED_FACTS_YAML = """\
facts:
  complaints_last_7d: {count: complaint_opened, within: 7d}
  high_complaints_last_30d: {count: complaint_opened, where: {severity: high}, within: 30d}
  spend_last_30d: {sum: order_placed.amount, within: 30d}
  points_last_30d: {sum: points_earned.points, within: 30d}
  last_order_amount: {last: order_placed.amount, within: 90d}
"""


def windowed_facts() -> DerivedFacts:
    """The five declared windowed facts the windowed case computes."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "events.yaml").write_text(EVENTS_YAML, encoding="utf-8")
        (Path(folder) / "derived_facts.yaml").write_text(DERIVED_FACTS_YAML, encoding="utf-8")
        return load_derived_facts(Path(folder))


def _insert_rows(connection: sqlite3.Connection, customers: int, orders: int) -> None:
    """Customers, orders; complaints for 2%, consent for half, a survey for 5% of them,
    two declared `points_earned` events per customer."""
    at = f"{AT:%Y-%m-%d %H:%M:%S}"
    connection.execute(_CUSTOMERS_SQL, {"rows": customers, "at": at, "days": 4 * 365})
    connection.execute(_LUNAR_BIRTHDAYS_SQL)
    connection.execute(
        _ORDERS_SQL, {"rows": orders, "customers": customers, "at": at, "days": _HISTORY_DAYS}
    )
    connection.execute(_COMPLAINTS_SQL, {"rows": customers // 50, "at": at, "days": 60})
    connection.execute(_CONSENTS_SQL)
    connection.execute(_SURVEYS_SQL, {"rows": customers // 20, "at": at, "days": 365})
    connection.execute(
        _POINTS_SQL, {"rows": 2 * customers, "customers": customers, "at": at, "days": 365}
    )


# The same five windowed facts in bare SQL, for every customer at once: one grouped
# statement per table they read (FILTER per window, as careflow does per page), and
# the window function `last` needs.
_WINDOWED_BASELINE = (
    "SELECT customer_id, COUNT(*) FILTER (WHERE opened_at > :w7),"
    " COUNT(*) FILTER (WHERE opened_at > :w30 AND severity = 'high')"
    " FROM complaints WHERE opened_at <= :at AND opened_at > :w30 GROUP BY customer_id",
    "SELECT customer_id, SUM(amount) FILTER (WHERE ordered_at > :w30)"
    " FROM orders WHERE ordered_at <= :at AND ordered_at > :w90 GROUP BY customer_id",
    "SELECT customer_id, amount FROM (SELECT customer_id, amount, row_number() OVER"
    " (PARTITION BY customer_id ORDER BY ordered_at DESC, id DESC) AS newest FROM orders"
    " WHERE ordered_at <= :at AND ordered_at > :w90) WHERE newest = 1",
    "SELECT customer_id, SUM(json_extract(properties, '$.points'))"
    " FROM custom_events WHERE type = 'points_earned' AND occurred_at <= :at"
    " AND occurred_at > :w30 GROUP BY customer_id",
)


def _stored_time(moment: datetime) -> str:
    """A time as SQLAlchemy stores it in SQLite, so text comparisons order correctly."""
    return f"{moment:%Y-%m-%d %H:%M:%S}.000000"


_WINDOW_EDGES = {
    "at": _stored_time(AT),
    "w7": _stored_time(AT - timedelta(days=7)),
    "w30": _stored_time(AT - timedelta(days=30)),
    "w90": _stored_time(AT - timedelta(days=90)),
}


async def measure_baseline(db: Database, *, windowed: bool = False) -> float:
    """Seconds for a bare GROUP BY over all orders (and, `windowed`, the five windowed
    facts in bare SQL), every row fetched."""
    statements = [
        "SELECT customer_id, COUNT(*), SUM(amount), MAX(ordered_at)"
        " FROM orders GROUP BY customer_id",
        *(_WINDOWED_BASELINE if windowed else ()),
    ]
    started = time.perf_counter()
    async with db.session() as session:
        for statement in statements:
            rows = (await session.execute(text(statement), _WINDOW_EDGES)).all()
            assert rows, f"the baseline found no rows: {statement}"
    return time.perf_counter() - started


async def measure_facts(
    db: Database, page_size: int, derived: DerivedFacts = NO_DERIVED_FACTS
) -> tuple[float, int]:
    """Seconds to compute facts (with `derived`) for every customer in pages, and how
    many there were."""
    config = load_facts_config()
    started = time.perf_counter()
    computed = 0
    last_id = 0
    async with db.session() as session, db.side_session() as orders_session:
        while True:
            # Keyset paging, as the scan pages: each page is an index range.
            ids = list(
                await session.scalars(
                    select(Customer.id)
                    .where(Customer.id > last_id)
                    .order_by(Customer.id)
                    .limit(page_size)
                )
            )
            if not ids:
                break
            # As the scan does: the orders' summaries in a session of their own.
            facts = await compute_facts(
                session, ids, AT, config=config, derived=derived, orders_session=orders_session
            )
            computed += len(facts)
            last_id = ids[-1]
    return time.perf_counter() - started, computed


def prepare(path: Path, customers: int, orders: int, *, rebuild: bool) -> None:
    """Build the data set at `path` unless one of the same size is already there."""
    marker = path.with_suffix(".size")
    # "events": data sets built before declared events existed lack them.
    wanted = f"{customers} {orders} events"
    if not rebuild and path.exists() and marker.exists() and marker.read_text() == wanted:
        return
    for stale in (path, marker, Path(f"{path}-wal"), Path(f"{path}-shm")):
        stale.unlink(missing_ok=True)
    asyncio.run(_migrate(_url(path)))
    started = time.perf_counter()
    build(path, customers, orders)
    marker.write_text(wanted)
    print(
        f"built {customers:,} customers and {orders:,} orders"
        f" in {time.perf_counter() - started:.1f} s"
    )


def _url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def _migrate(url: str) -> None:
    db = create_database(url)
    try:
        await db.migrate()
    finally:
        await db.dispose()


async def measure(
    path: Path,
    customers: int,
    orders: int,
    page_size: int,
    repeat: int,
    *,
    windowed: bool = False,
) -> Figures:
    """Both timings, in the same run, on the same tables: the best of `repeat` rounds.

    The rounds alternate baseline and facts, so a neighbour's load on a shared
    machine falls on both sides rather than on one. `windowed` adds the five
    declared windowed facts to the facts, and what they read to the baseline.
    """
    db = create_database(_url(path))
    derived = windowed_facts() if windowed else NO_DERIVED_FACTS
    baseline = facts_seconds = float("inf")
    try:
        # Warm the OS page cache once so neither measurement pays for the first read.
        await measure_baseline(db, windowed=windowed)
        for _ in range(repeat):
            baseline = min(baseline, await measure_baseline(db, windowed=windowed))
            seconds, computed = await measure_facts(db, page_size, derived)
            facts_seconds = min(facts_seconds, seconds)
    finally:
        await db.dispose()
    if computed != customers:
        raise SystemExit(f"computed facts for {computed:,} of {customers:,} customers")
    return Figures(customers, orders, baseline, facts_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders-per-customer", type=int, default=10)
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/careflow-scan-bench.db"))
    parser.add_argument("--rebuild", action="store_true", help="rebuild even if the data exists")
    parser.add_argument("--repeat", type=int, default=1, help="report the best of N rounds")
    parser.add_argument("--windowed", action="store_true", help="add five declared windowed facts")
    options = parser.parse_args()
    orders = options.customers * options.orders_per_customer
    prepare(options.db, options.customers, orders, rebuild=options.rebuild)
    figures = asyncio.run(
        measure(
            options.db,
            options.customers,
            orders,
            options.page_size,
            max(1, options.repeat),
            windowed=options.windowed,
        )
    )
    print(f"customers           {figures.customers:>12,}")
    print(f"orders              {figures.orders:>12,}")
    print(f"bare aggregate      {figures.baseline_seconds:>12.2f} s")
    print(f"facts, all pages    {figures.facts_seconds:>12.2f} s")
    print(f"facts per second    {figures.customers / figures.facts_seconds:>12,.0f}")
    print(f"ratio facts/bare    {figures.ratio:>12.2f}x  (target <= 2x, and < 120 s at 1M)")


if __name__ == "__main__":
    main()

"""Horizontal scale: the end-to-end burst with 1, 2 and 4 careflow processes, and on PostgreSQL.

    python -m bench.scale_bench            # 1, 2, 4 workers on SQLite; 1 and 2 on PostgreSQL
    python -m bench.scale_bench --burst 100 --workers 1 2

Each configuration gets the burst phase of `bench.e2e_bench` (complaint_opened
over HTTP -> acknowledgement at the SMTP sink, as many in flight as
`--concurrency`) on a fresh Temporal dev server, with every `careflow up` process
polling the same task queue and the events posted to their APIs in turn. The
baseline is one process on SQLite, measured in the same run; each row's ratio is
its throughput over that one, so it says what more processes (or PostgreSQL)
buy on this machine. The CPU time per event of the server and of all workers
together says what a larger machine or a cluster would need for a given rate.

PostgreSQL comes from CAREFLOW_BENCH_POSTGRES_URL (default: the test server,
postgresql+asyncpg://postgres@127.0.0.1:5432/test); a fresh database is created
for the run and dropped afterwards. Without it the PostgreSQL rows are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.e2e_bench import Load, LoadFigures, TimedSink, measure_careflow
from bench.harness import Figure

POSTGRES_URL = os.environ.get(
    "CAREFLOW_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@dataclass(frozen=True)
class ScaleRow:
    store: str
    workers: int
    figures: LoadFigures


@contextlib.asynccontextmanager
async def fresh_postgres_database() -> AsyncIterator[str | None]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards; None if unreachable."""
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"careflow_bench_{uuid.uuid4().hex[:8]}"
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # any failure means "no PostgreSQL here"
        print(f"PostgreSQL rows skipped: {type(error).__name__}: {error}")
        await admin.dispose()
        yield None
        return
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


async def measure(
    workers: Sequence[int] = (1, 2, 4),
    postgres_workers: Sequence[int] = (1, 2),
    *,
    burst: int = 200,
    concurrency: int = 16,
) -> list[ScaleRow]:
    """Every configuration in turn, each on its own server, store and processes."""
    # Only the burst phase: no fixed-rate events, a small warm-up.
    load = Load(rate=1, seconds=0, burst=burst, concurrency=concurrency)
    rows: list[ScaleRow] = []
    sink = TimedSink()
    sink.start()
    try:
        with tempfile.TemporaryDirectory(prefix="careflow-scale-") as name:
            for count in workers:
                # Every configuration has its own customers, so addresses never repeat.
                folder = Path(name) / f"sqlite-{count}"
                figures = await measure_careflow(folder, _fresh(sink), load, workers=count)
                rows.append(ScaleRow("SQLite", count, figures))
            for count in postgres_workers:
                async with fresh_postgres_database() as url:
                    if url is None:
                        break
                    folder = Path(name) / f"postgres-{count}"
                    figures = await measure_careflow(
                        folder, _fresh(sink), load, workers=count, database_url=url
                    )
                    rows.append(ScaleRow("PostgreSQL", count, figures))
    finally:
        sink.stop()
    return rows


def _fresh(sink: TimedSink) -> TimedSink:
    """The same sink with its arrivals forgotten: the next run reuses the addresses."""
    with sink.lock:
        sink.arrivals.clear()
    return sink


def figures(rows: Sequence[ScaleRow]) -> list[Figure]:
    """One row per configuration: throughput next to one worker on SQLite."""
    base = rows[0].figures
    result = []
    for row in rows:
        cpu = row.figures.cpu_per_event
        result.append(
            Figure(
                "scale",
                f"{row.workers} worker{'s' if row.workers > 1 else ''}, {row.store}",
                "events/s",
                row.figures.sustained_per_second,
                base.sustained_per_second,
                "higher",
                note=f"CPU/event: Temporal {cpu['temporal'] * 1000:.0f} ms,"
                f" workers {cpu['worker'] * 1000:.0f} ms",
            )
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--postgres-workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    options = parser.parse_args()
    rows = asyncio.run(
        measure(
            options.workers,
            options.postgres_workers,
            burst=options.burst,
            concurrency=options.concurrency,
        )
    )
    for figure in figures(rows):
        print(
            f"{figure.name:22s} {figure.careflow:6.1f} events/s"
            f"  {figure.ratio:5.2f}x  {figure.note}"
        )


if __name__ == "__main__":
    main()

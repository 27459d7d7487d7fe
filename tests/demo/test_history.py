"""Copying the demo's simulated history into the live store: every row, ids after the
live store's own with references following, times moved, unfinished journeys ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from careflow.demo.history import (
    COPIED_TABLES,
    ENDED_OUTCOME,
    HistoryStatus,
    _demo_rules,
    copy_history,
    history_needed,
    read_status,
    write_status,
)
from careflow.store import Customer, Database, JourneyRecord, Order, create_database
from careflow.store.models import Base
from tests.console.seed import seed_store

SHIFT = timedelta(days=-3, hours=5)
ENDED_AT = datetime(2026, 12, 2, tzinfo=UTC)


async def counts(db: Database) -> dict[str, int]:
    tables = [table for table in Base.metadata.sorted_tables if table.name in COPIED_TABLES]
    async with db.session() as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in tables
        }


async def orders_by_customer(db: Database) -> dict[tuple[str, str], datetime]:
    async with db.session() as session:
        rows = await session.execute(
            select(Customer.external_id, Order.external_id, Order.ordered_at).join(
                Customer, Customer.id == Order.customer_id
            )
        )
        return {(customer, order): at for customer, order, at in rows.all()}


@pytest.mark.parametrize("db", ["sqlite", "postgresql"], indirect=True)
async def test_every_row_is_copied_after_the_live_stores_own(db: Database, tmp_path: Path) -> None:
    source = create_database(f"sqlite+aiosqlite:///{tmp_path / 'history.db'}")
    await source.migrate()
    try:
        await seed_store(source)
        async with db.session() as session:
            session.add(
                Customer(
                    external_id="live-1",
                    locale="en",
                    created_at=ENDED_AT,
                    updated_at=ENDED_AT,
                )
            )
        before = await counts(source)
        running = sum(1 for status in (await source_statuses(source)) if status == "running")
        assert running  # the seed has journeys in flight
        copied = await copy_history(source, db, shift=SHIFT, ended_at=ENDED_AT)
        assert copied == before
        after = await counts(db)
        assert after == {
            name: count + (1 if name == "customers" else 0) for name, count in before.items()
        }
        # Each order still belongs to its customer, and happened SHIFT later.
        original = await orders_by_customer(source)
        moved = await orders_by_customer(db)
        assert moved == {key: at + SHIFT for key, at in original.items()}
        async with db.session() as session:
            journeys = list(await session.scalars(select(JourneyRecord)))
            new_id = await session.scalar(
                select(Customer.id).where(Customer.external_id == "live-1")
            )
        assert "running" not in {journey.status for journey in journeys}
        ended = [j for j in journeys if j.outcome == ENDED_OUTCOME]
        assert len(ended) == running
        assert all(j.ended_at == ENDED_AT for j in ended)
        # The live store's own customer kept its id; a new row gets the next free one.
        assert new_id == 1
        async with db.session() as session:
            session.add(
                Customer(
                    external_id="live-2", locale="en", created_at=ENDED_AT, updated_at=ENDED_AT
                )
            )
    finally:
        await source.dispose()


async def source_statuses(db: Database) -> list[str]:
    async with db.session() as session:
        return list(await session.scalars(select(JourneyRecord.status)))


def test_the_status_file_says_whether_a_build_is_needed(tmp_path: Path) -> None:
    assert read_status(tmp_path) is None
    assert history_needed(tmp_path)
    write_status(tmp_path, HistoryStatus("building", 3))
    assert read_status(tmp_path) == HistoryStatus("building", 3)
    assert history_needed(tmp_path)
    write_status(tmp_path, HistoryStatus("done", 49))
    assert not history_needed(tmp_path)


def test_the_demo_rules_hold_out_a_tenth_of_retention_offers(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[2] / "rules"
    folder = _demo_rules(shipped, tmp_path / "rules")
    holdout = (folder / "holdout.yaml").read_text(encoding="utf-8")
    assert "  retention_offer: 0.1" in holdout.splitlines()
    assert holdout.count("retention_offer:") == 1
    assert sorted(p.name for p in folder.glob("*.yaml")) == sorted(
        p.name for p in shipped.glob("*.yaml")
    )

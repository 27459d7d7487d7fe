"""The overview's A/B experiments section: each variant, the holdout and the verdict."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx

from careflow.experiments.assign import assign_variant
from careflow.store import Customer, Database, Order, OutreachLedger

EXPERIMENT = "campaign:console-test"


async def add_experiment(db: Database, customers: int = 240) -> dict[str, int]:
    """Messages of a two-variant experiment sent 10 days ago; variant b's customers order."""
    at = datetime.now(UTC) - timedelta(days=10)
    arms: dict[str, int] = {}
    async with db.session() as session:
        rows = [
            Customer(external_id=f"x{n}", created_at=at, updated_at=at) for n in range(customers)
        ]
        session.add_all(rows)
        await session.flush()
        for row in rows:
            variant = assign_variant(EXPERIMENT, row.external_id, {"a": 1, "b": 1})
            arms[variant] = arms.get(variant, 0) + 1
            session.add(
                OutreachLedger(
                    idempotency_key=f"campaign-{row.external_id}/send",
                    customer_id=row.id,
                    workflow_id=f"campaign-{row.external_id}",
                    step_id="send",
                    template_id="t",
                    status="sent",
                    sent_at=at,
                    created_at=at,
                    updated_at=at,
                    experiment=EXPERIMENT,
                    variant=variant,
                )
            )
            if variant == "b":
                session.add(
                    Order(
                        external_id=f"ox{row.external_id}",
                        customer_id=row.id,
                        ordered_at=at + timedelta(days=1),
                        amount=Decimal("5.00"),
                    )
                )
        await session.commit()
    return arms


async def test_the_overview_shows_each_experiment(
    logged_in: dict[str, httpx.AsyncClient], db: Database
) -> None:
    arms = await add_experiment(db)
    page = (await logged_in["vera"].get("/console/")).text
    assert 'aria-labelledby="h-experiments"' in page
    section = page[page.index(f'data-experiment="{EXPERIMENT}"') :]
    assert 'data-verdict="winner"' in page
    assert "Winner: b" in section
    for variant, count in arms.items():
        row = re.search(rf'<tr data-variant="{variant}">(.*?)</tr>', section)
        assert row is not None
        assert f'data-value="{count}"' in row.group(1)
    assert 'data-comparison="a:b"' in section

    chinese = (await logged_in["vera"].get("/console/?lang=zh-CN")).text
    assert "A/B 实验" in chinese
    assert "胜出：b" in chinese


async def test_no_experiment_says_so(logged_in: dict[str, httpx.AsyncClient]) -> None:
    page = (await logged_in["vera"].get("/console/")).text
    assert 'data-testid="no-experiments"' in page

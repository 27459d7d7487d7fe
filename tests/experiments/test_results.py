"""Experiment results read from the store: who was sent what, who reached the goal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from careflow.experiments.results import HOLDOUT, Goal, experiment_results
from careflow.store import Customer, Database, JourneyRecord, Order, OutreachLedger

T0 = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
JOURNEY_EXPERIMENT = "journey:retention_offer:retention_offer"


def ledger(
    n: int, customer: int | None, experiment: str, variant: str, at: datetime, status: str = "sent"
) -> OutreachLedger:
    return OutreachLedger(
        idempotency_key=f"wf-{n}/step",
        customer_id=customer,
        workflow_id=f"wf-{n}",
        step_id="step",
        template_id="t",
        status=status,
        sent_at=at if status == "sent" else None,
        created_at=at,
        updated_at=at,
        experiment=experiment,
        variant=variant,
    )


async def seed(db: Database) -> None:
    async with db.session() as session:
        customers = [Customer(external_id=f"c{n}", created_at=T0, updated_at=T0) for n in range(10)]
        session.add_all(customers)
        await session.flush()
        pk = [c.id for c in customers]
        session.add_all(
            [
                # Variant a: c0 orders on day 2 (reached), c1 on day 9 (too late).
                ledger(0, pk[0], JOURNEY_EXPERIMENT, "a", T0),
                ledger(1, pk[1], JOURNEY_EXPERIMENT, "a", T0),
                # c0's second message of the experiment counts once, from the first.
                ledger(2, pk[0], JOURNEY_EXPERIMENT, "a", T0 + 3 * DAY),
                # Variant b: c2 orders before the message (not reached), c3 on day 1.
                ledger(3, pk[2], JOURNEY_EXPERIMENT, "b", T0),
                ledger(4, pk[3], JOURNEY_EXPERIMENT, "b", T0),
                # Skipped messages are not sends; an erased customer's row is not counted.
                ledger(5, pk[4], JOURNEY_EXPERIMENT, "b", T0, status="skipped"),
                ledger(6, None, JOURNEY_EXPERIMENT, "b", T0),
                # Sent near the period's end: its window is still open.
                ledger(7, pk[5], JOURNEY_EXPERIMENT, "b", T0 + 27 * DAY),
                # A campaign with its own holdout rows in the ledger.
                ledger(8, pk[6], "campaign:spring", "x", T0),
                ledger(9, pk[7], "campaign:spring", HOLDOUT, T0, status="skipped"),
                ledger(10, pk[8], "campaign:spring", HOLDOUT, T0, status="skipped"),
                # Outside any experiment.
                OutreachLedger(
                    idempotency_key="plain/step",
                    customer_id=pk[9],
                    workflow_id="plain",
                    step_id="step",
                    template_id="t",
                    status="sent",
                    sent_at=T0,
                    created_at=T0,
                    updated_at=T0,
                ),
            ]
        )
        orders = [(0, 2 * DAY), (1, 9 * DAY), (2, -DAY), (3, DAY)]
        orders += [(6, DAY), (7, 3 * DAY), (8, 2 * DAY)]
        session.add_all(
            Order(
                external_id=f"o{n}-{offset.days}",
                customer_id=pk[n],
                ordered_at=T0 + offset,
                amount=Decimal("10.00"),
            )
            for n, offset in orders
        )
        # Held out of the retention journey: c8 orders within the window, c9 does not.
        session.add_all(
            JourneyRecord(
                workflow_id=f"retention_offer-c{n}",
                journey="retention_offer",
                customer_id=pk[n],
                rule_id="r",
                ruleset_hash="h",
                status="holdout",
                started_at=T0,
            )
            for n in (8, 9)
        )
        await session.commit()


async def test_counts_per_variant_and_holdout(db: Database) -> None:
    await seed(db)
    async with db.session() as session:
        results = await experiment_results(
            session,
            T0 - DAY,
            T0 + 29 * DAY,
            {JOURNEY_EXPERIMENT: Goal("order_placed", 7)},
        )
    by_name = {result.experiment: result for result in results}
    assert sorted(by_name) == ["campaign:spring", JOURNEY_EXPERIMENT]

    journey = by_name[JOURNEY_EXPERIMENT]
    counts = {arm.name: (arm.sent, arm.reached, arm.waiting) for arm in journey.variants}
    assert counts == {"a": (2, 1, 0), "b": (2, 1, 1)}
    assert journey.holdout is not None
    assert (journey.holdout.sent, journey.holdout.reached) == (2, 1)
    assert journey.verdict == "sample too small to call a winner"

    campaign = by_name["campaign:spring"]
    assert campaign.goal == Goal()  # none given: an order within 7 days
    assert [(arm.name, arm.sent, arm.reached) for arm in campaign.variants] == [("x", 1, 1)]
    assert campaign.holdout is not None
    # c7 ordered on day 3 (reached), c8 on day 2 (reached).
    assert (campaign.holdout.sent, campaign.holdout.reached) == (2, 2)


async def test_the_period_selects_by_send_time(db: Database) -> None:
    await seed(db)
    async with db.session() as session:
        assert await experiment_results(session, T0 + 30 * DAY, T0 + 40 * DAY, {}) == []

"""A random but reproducible care history, kept as plain rows and written to a store.

The KPI tests compute every figure from these rows in plain Python and compare it
with what the SQL of `careflow.kpis` finds in the store.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from careflow.store import (
    Complaint,
    Customer,
    Database,
    JourneyRecord,
    Order,
    OutreachLedger,
    SurveyResponse,
    Task,
)

SINCE = datetime(2026, 10, 1, tzinfo=UTC)
UNTIL = datetime(2026, 11, 1, tzinfo=UTC)
WINDOW_DAYS = 14.0
REASONS = ("quiet_hours: 22:00-08:00 local", "over_budget: 3 this week", "no_marketing_consent")


@dataclass
class History:
    customers: list[Customer] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    complaints: list[Complaint] = field(default_factory=list)
    surveys: list[SurveyResponse] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    journeys: list[JourneyRecord] = field(default_factory=list)
    ledger: list[OutreachLedger] = field(default_factory=list)

    def orders_of(self, customer_id: int) -> list[Order]:
        return [order for order in self.orders if order.customer_id == customer_id]


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    seconds = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randrange(seconds), microseconds=rng.randrange(10**6))


def random_history(seed: int, customers: int = 60) -> History:
    """Customers with orders over three years, complaints, surveys, tasks, journeys, messages."""
    rng = random.Random(seed)
    history = History()
    early, late = SINCE - timedelta(days=900), UNTIL + timedelta(days=30)
    for number in range(1, customers + 1):
        created = _moment(rng, early, UNTIL + timedelta(days=10))
        history.customers.append(
            Customer(
                id=number,
                external_id=f"kpi-{number:03d}",
                email=f"kpi-{number}@example.com",
                tier=rng.choice([None, None, None, "VIP", " regular ", "gold"]),
                created_at=created,
                updated_at=created,
            )
        )
        for _ in range(rng.choice([0, 1, 1, 2, 3, 5, 8])):
            history.orders.append(
                Order(
                    external_id=f"o-{len(history.orders) + 1}",
                    customer_id=number,
                    ordered_at=_moment(rng, early, late),
                    amount=Decimal(rng.choice(["19.90", "250.00", "1200.50", "3100.00"])),
                )
            )
    _add_care(history, rng)
    _add_journeys(history, rng)
    return history


def _add_care(history: History, rng: random.Random) -> None:
    around = (SINCE - timedelta(days=20), UNTIL + timedelta(days=5))
    for number in range(1, 41):
        customer = rng.choice(history.customers)
        opened = _moment(rng, *around)
        status = rng.choice(["open", "resolved", "resolved", "resolved", "escalated", "reopened"])
        resolved_at = None
        if status == "resolved":
            resolved_at = opened + timedelta(hours=rng.uniform(0.5, 200))
        history.complaints.append(
            Complaint(
                id=number,
                external_id=f"k-{number}",
                customer_id=customer.id,
                opened_at=opened,
                status=status,
                resolved_at=resolved_at,
            )
        )
        workflow_id = f"complaint-{customer.external_id}-k-{number}"
        steps = ["task-agent", *rng.sample(["task-supervisor", "task-manager"], rng.randrange(3))]
        for step in steps:
            history.tasks.append(
                Task(
                    idempotency_key=f"{workflow_id}/{step}",
                    kind="complaint" if step == "task-agent" else "escalation",
                    workflow_id=workflow_id,
                    customer_id=customer.id,
                    title=step,
                    status="open",
                    created_at=opened + timedelta(hours=rng.uniform(0, 48)),
                )
            )
        if status == "reopened":
            history.tasks.append(
                Task(
                    idempotency_key=f"{workflow_id}/task-reopened",
                    kind="complaint_reopened",
                    workflow_id=workflow_id,
                    customer_id=customer.id,
                    title="reopened",
                    status="open",
                    created_at=opened + timedelta(days=3),
                )
            )
    for _ in range(50):
        history.surveys.append(
            SurveyResponse(
                customer_id=rng.choice(history.customers).id,
                score=rng.randint(1, 5),
                answered_at=_moment(rng, *around),
            )
        )
    for number in range(60):
        status = rng.choice(["sent", "sent", "skipped", "deferred", "failed"])
        reason = {"sent": None, "failed": "550 mailbox unavailable"}.get(status)
        if reason is None and status != "sent":
            reason = rng.choice(REASONS)
        created = _moment(rng, *around)
        history.ledger.append(_ledger(f"care-{number}", "m", status, reason, created))


def _add_journeys(history: History, rng: random.Random) -> None:
    for number in range(50):
        customer = rng.choice(history.customers)
        started = _moment(rng, SINCE - timedelta(days=10), UNTIL + timedelta(days=3))
        workflow_id = f"retention_offer-{customer.external_id}-{number}"
        status = rng.choice(["holdout", "running", "ended"])
        history.journeys.append(
            JourneyRecord(
                workflow_id=workflow_id,
                journey="retention_offer",
                customer_id=customer.id,
                rule_id="declining_frequency",
                ruleset_hash="h" * 64,
                status=status,
                outcome="holdout" if status == "holdout" else None,
                started_at=started,
            )
        )
        if status != "holdout":
            offer = rng.choice(["sent", "sent", "sent", "skipped"])
            reason = None if offer == "sent" else "no_marketing_consent: never given"
            row = _ledger(workflow_id, "offer", offer, reason, started)
            if offer == "sent":
                row.sent_at = started + timedelta(minutes=rng.randrange(1, 600))
            history.ledger.append(row)
        # An order near the journey, inside or outside its window.
        if rng.random() < 0.6:
            history.orders.append(
                Order(
                    external_id=f"o-{len(history.orders) + 1}",
                    customer_id=customer.id,
                    ordered_at=started + timedelta(days=rng.uniform(-3, 25)),
                    amount=Decimal("88.00"),
                )
            )
    # Another journey never counts as a retention offer.
    history.journeys.append(
        JourneyRecord(
            workflow_id="care_message-x",
            journey="care_message",
            customer_id=history.customers[0].id,
            rule_id="birthday",
            ruleset_hash="h" * 64,
            status="holdout",
            started_at=SINCE + timedelta(days=1),
        )
    )


def _ledger(
    workflow_id: str, step: str, status: str, reason: str | None, created: datetime
) -> OutreachLedger:
    return OutreachLedger(
        idempotency_key=f"{workflow_id}/{step}",
        workflow_id=workflow_id,
        step_id=step,
        template_id=step,
        status=status,
        reason=reason,
        created_at=created,
        updated_at=created,
        sent_at=created if status == "sent" else None,
    )


async def write_history(db: Database, history: History) -> None:
    async with db.session() as session:
        session.add_all(history.customers)
        await session.flush()
        session.add_all([*history.orders, *history.complaints])
        await session.flush()
        session.add_all([*history.surveys, *history.tasks, *history.journeys, *history.ledger])

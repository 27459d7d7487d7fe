"""A small, known store for the console tests: customers, journeys, messages, surveys,
escalations, tasks, rule decisions, consent and events, at times relative to now.

Rows are written with the models directly (no careflow code computes them), so the
tests can check the pages against the store with their own SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from careflow.store import (
    Complaint,
    Consent,
    Customer,
    Database,
    Event,
    JourneyRecord,
    Order,
    OutreachLedger,
    RuleDecision,
    SurveyResponse,
    Task,
)

# The customer whose personal data the masking tests look for.
ALICE = {
    "id": "c-alice",
    "name": "Alice Wang",
    "email": "alice@example.com",
    "phone": "+86 138 0000 0001",
}
RUNNING_JOURNEY = "complaint_escalation-c-alice-k-1"


@dataclass(frozen=True)
class Seeded:
    now: datetime
    customer_ids: tuple[str, ...]


async def seed_store(db: Database, now: datetime | None = None) -> Seeded:
    """Write the sample history; `now` anchors every time (default: the wall clock)."""
    now = now or datetime.now(UTC)

    def ago(days: float, hours: float = 0) -> datetime:
        return now - timedelta(days=days, hours=hours)

    async with db.session() as session:
        alice = Customer(
            external_id=ALICE["id"],
            name=ALICE["name"],
            email=ALICE["email"],
            phone=ALICE["phone"],
            locale="zh-CN",
            timezone="Asia/Shanghai",
            tier="vip",
            created_at=ago(200),
            updated_at=ago(200),
        )
        bob = Customer(
            external_id="c-bob",
            name="Bob Li",
            email="bob@example.com",
            phone="+86 139 0000 0002",
            locale="en",
            timezone="UTC",
            tier="regular",
            created_at=ago(150),
            updated_at=ago(150),
        )
        carol = Customer(
            external_id="c-carol",
            name="Carol Zhang",
            email="carol@example.com",
            locale="zh-CN",
            timezone="Asia/Shanghai",
            tier="potential",
            created_at=ago(100),
            updated_at=ago(100),
        )
        session.add_all([alice, bob, carol])
        await session.flush()

        complaint = Complaint(
            external_id="k-1",
            customer_id=alice.id,
            opened_at=ago(2),
            severity="high",
            subject="Parcel lost",
            status="open",
        )
        resolved = Complaint(
            external_id="k-2",
            customer_id=bob.id,
            opened_at=ago(9),
            severity="low",
            status="resolved",
            resolved_at=ago(8, 18),
            # Staff's first response (careflow/staffwork/complaints.py).
            responded_at=ago(8, 22),
            responded_by="otto",
            response_note="Called back, refund agreed",
        )
        session.add_all([complaint, resolved])
        await session.flush()

        journeys = [
            # An offer that converted: sent 20 days ago, an order 5 days later. Its
            # rule starts it once per customer, so its id has no period.
            JourneyRecord(
                workflow_id="retention_offer-c-alice-vip-declining-frequency",
                journey="retention_offer",
                customer_id=alice.id,
                rule_id="vip-declining-frequency",
                ruleset_hash="a" * 64,
                status="ended",
                outcome="converted",
                started_at=ago(20),
                ended_at=ago(15),
            ),
            # An offer that did not convert.
            JourneyRecord(
                workflow_id="retention_offer-c-carol-dormant-win-back-p1",
                journey="retention_offer",
                customer_id=carol.id,
                rule_id="dormant-win-back",
                ruleset_hash="a" * 64,
                status="ended",
                outcome="expired",
                started_at=ago(19),
                ended_at=ago(5),
            ),
            # Held out at the same time, no order.
            JourneyRecord(
                workflow_id="retention_offer-c-bob-dormant-win-back-p1",
                journey="retention_offer",
                customer_id=bob.id,
                rule_id="dormant-win-back",
                ruleset_hash="a" * 64,
                status="holdout",
                outcome="holdout",
                started_at=ago(19, 2),
            ),
            JourneyRecord(
                workflow_id=RUNNING_JOURNEY,
                journey="complaint_escalation",
                customer_id=alice.id,
                rule_id="acknowledge-new-complaint",
                ruleset_hash="b" * 64,
                subject="k-1",
                status="running",
                started_at=ago(2),
            ),
            JourneyRecord(
                workflow_id="complaint_escalation-c-bob-k-2",
                journey="complaint_escalation",
                customer_id=bob.id,
                rule_id="acknowledge-new-complaint",
                ruleset_hash="b" * 64,
                subject="k-2",
                status="ended",
                outcome="resolved",
                started_at=ago(9),
                ended_at=ago(8),
            ),
        ]
        session.add_all(journeys)
        session.add_all(
            [
                Order(
                    external_id="o-1",
                    customer_id=alice.id,
                    ordered_at=ago(15),
                    amount=Decimal("88.00"),
                ),
                Order(
                    external_id="o-2",
                    customer_id=alice.id,
                    ordered_at=ago(120),
                    amount=Decimal("120.00"),
                ),
            ]
        )

        def ledger(
            key: str,
            customer: Customer,
            workflow: str,
            step: str,
            template: str,
            status: str,
            at: datetime,
            reason: str | None = None,
            topic: str = "care",
        ) -> OutreachLedger:
            return OutreachLedger(
                idempotency_key=key,
                customer_id=customer.id,
                workflow_id=workflow,
                step_id=step,
                template_id=template,
                topic=topic,
                status=status,
                reason=reason,
                message_id=f"<{key}@careflow>" if status == "sent" else None,
                created_at=at,
                sent_at=at if status == "sent" else None,
                updated_at=at,
            )

        session.add_all(
            [
                ledger(
                    "l-1",
                    alice,
                    journeys[0].workflow_id,
                    "offer",
                    "retention_offer",
                    "sent",
                    ago(20),
                    topic="marketing",
                ),
                ledger(
                    "l-2",
                    carol,
                    journeys[1].workflow_id,
                    "offer",
                    "retention_offer",
                    "sent",
                    ago(19),
                    topic="marketing",
                ),
                ledger(
                    "l-3",
                    carol,
                    journeys[1].workflow_id,
                    "reminder",
                    "retention_reminder",
                    "skipped",
                    ago(12),
                    reason="over_budget: 3 messages in 7 days",
                    topic="marketing",
                ),
                ledger(
                    "l-4",
                    alice,
                    RUNNING_JOURNEY,
                    "ack",
                    "complaint_ack",
                    "sent",
                    ago(2),
                    topic="transactional",
                ),
                ledger(
                    "l-5",
                    bob,
                    "complaint_escalation-c-bob-k-2",
                    "ack",
                    "complaint_ack",
                    "sent",
                    ago(9),
                    topic="transactional",
                ),
                ledger(
                    "l-6",
                    bob,
                    "complaint_escalation-c-bob-k-2",
                    "survey",
                    "satisfaction_survey",
                    "sent",
                    ago(8),
                    topic="care",
                ),
                ledger(
                    "l-7",
                    alice,
                    RUNNING_JOURNEY,
                    "update",
                    "complaint_update",
                    "deferred",
                    ago(1),
                    reason="quiet_hours: until 08:00 Asia/Shanghai",
                    topic="transactional",
                ),
                ledger(
                    "l-8",
                    alice,
                    RUNNING_JOURNEY,
                    "ack2",
                    "complaint_ack",
                    "sent",
                    ago(2, 1),
                    topic="transactional",
                ),
            ]
        )
        session.add_all(
            [
                SurveyResponse(customer_id=bob.id, score=5, answered_at=ago(7)),
                SurveyResponse(
                    customer_id=alice.id, score=2, answered_at=ago(7, 3), comment="slow"
                ),
                SurveyResponse(customer_id=carol.id, score=4, answered_at=ago(3)),
                SurveyResponse(customer_id=bob.id, score=3, answered_at=ago(45)),
            ]
        )

        def task(
            key: str,
            kind: str,
            assignee: str | None,
            customer: Customer,
            created: datetime,
            due: datetime | None,
            status: str = "open",
            title: str = "",
        ) -> Task:
            return Task(
                idempotency_key=key,
                kind=kind,
                assignee=assignee,
                customer_id=customer.id,
                complaint_id=complaint.id if customer is alice else None,
                workflow_id=RUNNING_JOURNEY if customer is alice else None,
                title=title or f"{kind} {key}",
                due_at=due,
                status=status,
                created_at=created,
            )

        def closed_by_staff(row: Task, *, assigned_at: datetime, completed_at: datetime) -> Task:
            """A task someone claimed and completed (careflow/staffwork/tasks.py)."""
            row.assigned_at, row.completed_at = assigned_at, completed_at
            row.closed_by, row.outcome, row.note = "lead@care.example", "resolved", "Refund sent"
            return row

        session.add_all(
            [
                task(
                    f"{RUNNING_JOURNEY}/task-agent",
                    "complaint",
                    "agent@care.example",
                    alice,
                    ago(2),
                    ago(1, 20),
                ),
                task(
                    f"{RUNNING_JOURNEY}/task-supervisor",
                    "escalation",
                    "lead@care.example",
                    alice,
                    ago(1, 12),
                    ago(0, 12),
                ),
                task(
                    f"{RUNNING_JOURNEY}/task-manager",
                    "escalation",
                    "boss@care.example",
                    alice,
                    ago(1),
                    now + timedelta(hours=6),
                ),
                closed_by_staff(
                    task(
                        "complaint_escalation-c-bob-k-2/task-supervisor",
                        "escalation",
                        "lead@care.example",
                        bob,
                        ago(8, 20),
                        ago(8, 10),
                        status="done",
                    ),
                    assigned_at=ago(8, 19),
                    completed_at=ago(8, 18),
                ),
                task(
                    "retention_offer-c-carol/call",
                    "call",
                    None,
                    carol,
                    ago(5),
                    now + timedelta(days=2),
                ),
            ]
        )
        session.add_all(
            [
                RuleDecision(
                    customer_id=alice.id,
                    event_id="e-1",
                    ruleset="complaints",
                    ruleset_hash="b" * 64,
                    rule_id="acknowledge-new-complaint",
                    intents={"intents": []},
                    matched_facts={"event_type": "complaint_opened", "open_complaints": 1},
                    decided_at=ago(2),
                ),
                RuleDecision(
                    customer_id=bob.id,
                    event_id="e-2",
                    ruleset="complaints",
                    ruleset_hash="b" * 64,
                    rule_id="acknowledge-new-complaint",
                    intents={"intents": []},
                    matched_facts={"event_type": "complaint_opened"},
                    decided_at=ago(9),
                ),
                RuleDecision(
                    customer_id=alice.id,
                    event_id=None,
                    ruleset="retention",
                    ruleset_hash="a" * 64,
                    rule_id="vip-declining-frequency",
                    intents={"intents": []},
                    matched_facts={"tier": "vip", "purchase_frequency_change": -0.6},
                    decided_at=ago(20),
                ),
                RuleDecision(
                    customer_id=carol.id,
                    event_id=None,
                    ruleset="retention",
                    ruleset_hash="a" * 64,
                    rule_id="dormant-win-back",
                    intents={"intents": []},
                    matched_facts={"lifecycle_stage": "dormant"},
                    decided_at=ago(40),
                ),
                # Rules that asked for an offer the customer did not get, each for the
                # reason the timeline then gives: another rule's offer was running, the
                # rule's own offer was too recent, the rule starts it once per customer.
                _offer_decision(carol.id, "declining-frequency", 90, ago(10)),
                _offer_decision(carol.id, "dormant-win-back", 180, ago(3)),
                _offer_decision(alice.id, "vip-declining-frequency", None, ago(1)),
                RuleDecision(
                    customer_id=carol.id,
                    event_id=None,
                    ruleset="retention",
                    ruleset_hash="0" * 64,
                    rule_id="retired-rule",
                    intents={"intents": []},
                    matched_facts={},
                    decided_at=ago(6),
                ),
            ]
        )
        session.add(
            Consent(
                customer_id=alice.id,
                channel="email",
                topic="marketing",
                granted=True,
                source="event",
                recorded_at=ago(30),
            )
        )
        session.add_all(
            [
                Event(
                    event_id="e-0",
                    type="customer_upserted",
                    customer_external_id=ALICE["id"],
                    occurred_at=ago(200),
                    received_at=ago(200),
                    data={"name": ALICE["name"], "email": ALICE["email"], "phone": ALICE["phone"]},
                ),
                Event(
                    event_id="e-1",
                    type="complaint_opened",
                    customer_external_id=ALICE["id"],
                    occurred_at=ago(2),
                    received_at=ago(2),
                    data={"complaint_id": "k-1", "severity": "high"},
                ),
            ]
        )
    return Seeded(now, ("c-alice", "c-bob", "c-carol"))


def _offer_decision(
    customer_pk: int, rule: str, reenter_after_days: int | None, at: datetime
) -> RuleDecision:
    """A daily scan's audit of `rule` asking for a retention offer, as the scan writes it."""
    intent = {
        "action": "start_workflow",
        "rule_id": rule,
        "ruleset": "retention",
        "ruleset_hash": "a" * 64,
        "workflow": "retention_offer",
        "signal": None,
        "tag": None,
        "team": None,
        "params": {},
        "reenter_after_days": reenter_after_days,
    }
    return RuleDecision(
        customer_id=customer_pk,
        event_id=f"scan:{at.isoformat()}",
        ruleset="retention",
        ruleset_hash="a" * 64,
        rule_id=rule,
        intents={"intents": [intent]},
        matched_facts={"lifecycle_stage": "dormant"},
        decided_at=at,
    )

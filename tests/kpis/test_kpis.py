"""Every KPI found in SQL agrees with the same figure computed in Python from the rows.

The history is random but seeded; it is written to a real store (SQLite and
PostgreSQL) and `compute_kpis` must agree with plain Python over the same rows.
Churn is checked against the `lifecycle_stage` and `tier` facts themselves.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import timedelta

import pytest

from careflow.facts import compute_facts
from careflow.kpis import KpiReport, KpiSettings, compute_kpis
from careflow.outreach.decisions import Reason
from careflow.store import Database
from tests.facts.store_rows import CONFIG
from tests.kpis.history import SINCE, UNTIL, WINDOW_DAYS, History, random_history, write_history

SETTINGS = KpiSettings(facts=CONFIG, retention_window_days=WINDOW_DAYS, good_score=4)


def in_period(moment: object) -> bool:
    return moment is not None and SINCE <= moment < UNTIL  # type: ignore[operator]


@pytest.fixture
async def seeded(db: Database) -> tuple[History, KpiReport]:
    history = random_history(seed=7)
    await write_history(db, history)
    return history, await compute_kpis(db, SINCE, UNTIL, SETTINGS)


async def test_satisfaction(seeded: tuple[History, KpiReport]) -> None:
    history, report = seeded
    scores = [s.score for s in history.surveys if in_period(s.answered_at)]
    assert report.satisfaction.responses == len(scores) > 0
    assert report.satisfaction.good == sum(score >= 4 for score in scores)
    assert report.satisfaction.rate == pytest.approx(
        report.satisfaction.good / len(scores), abs=1e-4
    )


async def test_complaint_resolution(seeded: tuple[History, KpiReport]) -> None:
    history, report = seeded
    opened = [c for c in history.complaints if in_period(c.opened_at)]
    hours = [
        (c.resolved_at - c.opened_at).total_seconds() / 3600
        for c in opened
        if c.status == "resolved" and c.resolved_at is not None and c.resolved_at < UNTIL
    ]
    assert len(hours) >= 4
    complaints = report.complaints
    assert (complaints.opened, complaints.resolved) == (len(opened), len(hours))
    assert complaints.rate == pytest.approx(len(hours) / len(opened), abs=1e-4)
    assert complaints.mean_hours == pytest.approx(statistics.mean(hours), abs=0.01)
    assert complaints.median_hours == pytest.approx(statistics.median(hours), abs=0.01)


async def test_sla_breaches_by_level(seeded: tuple[History, KpiReport]) -> None:
    history, report = seeded
    levels = Counter(
        t.idempotency_key.rsplit("/task-", 1)[1]
        for t in history.tasks
        if t.kind == "escalation" and in_period(t.created_at)
    )
    assert report.sla_breaches_by_level == {
        "supervisor": levels["supervisor"],
        "manager": levels["manager"],
    }
    assert sum(levels.values()) > 0


async def test_churn_by_tier_follows_the_facts(
    db: Database, seeded: tuple[History, KpiReport]
) -> None:
    history, report = seeded
    ids = [c.id for c in history.customers]
    async with db.session() as session:
        at_since = await compute_facts(session, ids, SINCE, config=CONFIG)
        at_until = await compute_facts(session, ids, UNTIL, config=CONFIG)
    counts: Counter[str] = Counter()
    churned: Counter[str] = Counter()
    for customer in history.customers:
        orders = [o.ordered_at for o in history.orders_of(customer.id) if o.ordered_at <= SINCE]
        if customer.created_at > SINCE and not orders:
            continue  # had not joined yet
        if at_since[customer.id]["lifecycle_stage"] == "churned":
            continue
        tier = str(at_since[customer.id]["tier"])
        counts[tier] += 1
        churned[tier] += at_until[customer.id]["lifecycle_stage"] == "churned"
    found = {row.tier: (row.customers, row.churned) for row in report.churn_by_tier}
    assert found == {tier: (counts[tier], churned[tier]) for tier in counts}
    assert sum(churned.values()) > 0


async def test_retention_conversion_against_holdout(seeded: tuple[History, KpiReport]) -> None:
    history, report = seeded
    window = timedelta(days=WINDOW_DAYS)
    sent_at = {row.workflow_id: row.sent_at for row in history.ledger if row.step_id == "offer"}
    groups: dict[str, Counter[str]] = {"offered": Counter(), "holdout": Counter()}
    for journey in history.journeys:
        if journey.journey != "retention_offer" or not in_period(journey.started_at):
            continue
        start = (
            journey.started_at if journey.status == "holdout" else sent_at.get(journey.workflow_id)
        )
        if start is None:
            continue  # the offer never went out
        group = "holdout" if journey.status == "holdout" else "offered"
        if start + window > UNTIL:
            groups[group]["waiting"] += 1
            continue
        groups[group]["journeys"] += 1
        assert journey.customer_id is not None
        groups[group]["converted"] += any(
            start < o.ordered_at <= start + window for o in history.orders_of(journey.customer_id)
        )
    retention = report.retention_offer
    for name, found in (("offered", retention.offered), ("holdout", retention.holdout)):
        expected = groups[name]
        assert (found.journeys, found.converted, found.waiting) == (
            expected["journeys"],
            expected["converted"],
            expected["waiting"],
        ), name
        assert 0 < expected["converted"] < expected["journeys"], name
    assert retention.uplift == pytest.approx(
        retention.offered.converted / retention.offered.journeys
        - retention.holdout.converted / retention.holdout.journeys,
        abs=1e-3,
    )


async def test_messages_by_status_and_reason(seeded: tuple[History, KpiReport]) -> None:
    history, report = seeded
    codes = {reason.value for reason in Reason}

    def code(reason: str | None) -> str:
        head = (reason or "").split(":", 1)[0]
        return head if head in codes else reason or ""

    expected = Counter(
        (row.status, code(row.reason)) for row in history.ledger if in_period(row.created_at)
    )
    found = {(m.status, m.reason): m.count for m in report.messages}
    assert found == dict(expected)
    assert report.messages_by_status == {
        status: sum(n for (s, _), n in expected.items() if s == status)
        for status in {s for s, _ in expected}
    }
    assert {"quiet_hours", "over_budget", "550 mailbox unavailable"} <= {r for _, r in found}


async def test_an_empty_store_has_no_rates(db: Database) -> None:
    report = await compute_kpis(db, SINCE, UNTIL, SETTINGS)
    assert report.satisfaction.rate is None
    assert (report.complaints.opened, report.complaints.median_hours) == (0, None)
    assert report.sla_breaches_by_level == {"supervisor": 0, "manager": 0}
    assert report.churn_by_tier == []
    assert report.retention_offer.uplift is None
    assert report.messages == []


async def test_a_period_must_have_a_start_before_its_end(db: Database) -> None:
    with pytest.raises(ValueError, match="before"):
        await compute_kpis(db, UNTIL, SINCE, SETTINGS)

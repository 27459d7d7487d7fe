"""The demo's stories, as the shipped rules and policy see them: points about to expire
earn a reminder, and the VIP who just complained gets no coupon (and the reason why)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from careflow.demo import _IMPORTS, prepare_files
from careflow.facts import facts_for_customer
from careflow.intake.apply import ensure_customer, open_complaint
from careflow.intake.importer import import_file
from careflow.intake.records import ComplaintFields
from careflow.outreach.decisions import Action, Topic
from careflow.outreach.policy_config import load_outreach_policy
from careflow.outreach.suppression import load_suppressions, suppression_decision
from careflow.paths import RULES_DIR
from careflow.rule_references import shipped_references
from careflow.rules.rulebook import load_rulebook
from careflow.store import CustomEvent, Database


async def test_demo_points_and_the_coupon_after_a_complaint(db: Database, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    files = prepare_files(tmp_path, now.date())
    for kind in _IMPORTS:
        report = await import_file(db, files[kind], kind)
        assert not report.problems, report.problems
    rulebook = load_rulebook(RULES_DIR, references=shipped_references())
    async with db.session() as session:
        assert len((await session.scalars(select(CustomEvent))).all()) == 4
        wang = await facts_for_customer(session, "demo-c003", now, derived=rulebook.derived)
    assert wang is not None
    assert (wang["points_expiring_30d"], wang["points_balance"]) == (800.0, 750.0)
    fired = rulebook.evaluate({**wang, "event_type": "daily_scan"})
    assert "points-expiring-reminder" in [outcome.rule_id for outcome in fired.outcomes]

    # The VIP opens a high-severity complaint; a second later their coupon is due.
    async with db.session() as session:
        li = await ensure_customer(session, "demo-c001", now)
        await open_complaint(
            session, li, ComplaintFields(complaint_id="demo-k101", severity="high"), now
        )
    suppressions = load_suppressions(
        load_outreach_policy(RULES_DIR / "outreach_policy.yaml"), RULES_DIR
    )
    later = now + timedelta(seconds=1)
    async with db.session() as session:
        facts = await facts_for_customer(session, "demo-c001", later, derived=suppressions.derived)
    assert facts is not None
    decision = suppression_decision(
        suppressions.applying_to(Topic.MARKETING, "retention_offer"), facts, later
    )
    assert decision is not None
    assert decision.action is Action.DEFER
    assert decision.detail.startswith("no-marketing-during-complaint")

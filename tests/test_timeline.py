"""`careflow timeline`'s summaries: English words as the terminal has always printed them."""

from __future__ import annotations

from datetime import timedelta

from careflow.store import Database
from careflow.timeline import customer_timeline
from tests.console.seed import seed_store

# Seeded journeys carry raw ids (an earlier form): any key explains them.
KEY = "timeline-test-key"


async def test_summaries_in_english(db: Database) -> None:
    await seed_store(db)
    alice = await customer_timeline(db, "c-alice", secret_key=KEY)
    carol = await customer_timeline(db, "c-carol", secret_key=KEY)
    assert alice is not None
    assert carol is not None
    summaries = {entry.summary for entry in [*alice, *carol]}
    assert {
        "complaint_opened (e-1)",
        f"rule acknowledge-new-complaint fired (complaints {'b' * 12})",
        "complaint_escalation started by rule acknowledge-new-complaint: "
        "complaint_escalation-c-alice-k-1",
        "complaint_ack sent",
        "complaint_update deferred: quiet_hours: until 08:00 Asia/Shanghai",
        "retention_reminder skipped: over_budget: 3 messages in 7 days",
        "escalation for boss@care.example: "
        "escalation complaint_escalation-c-alice-k-1/task-manager",
        "call for unassigned: call retention_offer-c-carol/call",
    } <= summaries
    assert [entry.at for entry in alice] == sorted(entry.at for entry in alice)


async def test_a_rule_that_fired_says_why_its_journey_did_not_start(db: Database) -> None:
    """The commonest "why didn't this customer get it?": the rule fired, the offer did not
    start, and the timeline says which journey stood in the way and until when."""
    seeded = await seed_store(db)
    carol = await customer_timeline(db, "c-carol", secret_key=KEY)
    alice = await customer_timeline(db, "c-alice", secret_key=KEY)
    assert carol is not None
    assert alice is not None
    offer_start = seeded.now - timedelta(days=19)
    blocked = {
        str(entry.summary).partition(" fired")[0]: str(entry.summary).partition("); ")[2]
        for entry in [*carol, *alice]
        if entry.kind == "decision" and "not started" in str(entry.summary)
    }
    assert blocked == {
        "rule declining-frequency": "retention_offer not started: "
        "retention_offer-c-carol-dormant-win-back-p1 was running "
        f"(since {offer_start.date().isoformat()})",
        "rule dormant-win-back": "retention_offer not started: this rule started "
        f"retention_offer-c-carol-dormant-win-back-p1 on {offer_start.date().isoformat()}, "
        f"again from {(offer_start + timedelta(days=180)).date().isoformat()}",
        "rule vip-declining-frequency": "retention_offer not started: this rule started "
        "retention_offer-c-alice-vip-declining-frequency on "
        f"{(seeded.now - timedelta(days=20)).date().isoformat()}, once per customer",
    }
    held_out = await customer_timeline(db, "c-bob", secret_key=KEY)
    assert held_out is not None
    assert (
        "retention_offer held out by rule dormant-win-back (comparison group, nothing sent): "
        "retention_offer-c-bob-dormant-win-back-p1"
    ) in {str(entry.summary) for entry in held_out}

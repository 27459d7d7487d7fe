"""`careflow timeline`'s summaries: English words as the terminal has always printed them."""

from __future__ import annotations

from careflow.store import Database
from careflow.timeline import customer_timeline
from tests.console.seed import seed_store


async def test_summaries_in_english(db: Database) -> None:
    await seed_store(db)
    alice = await customer_timeline(db, "c-alice")
    carol = await customer_timeline(db, "c-carol")
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

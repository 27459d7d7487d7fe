"""What became of a rule's `start` intent, read back from the journeys table: the
dispatcher's checks in its order, at the decision's instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from careflow.start_outcomes import (
    JourneySpan,
    StartOutcome,
    StartRequest,
    start_requests,
    start_result,
)

SCAN = datetime(2053, 10, 1, 6, tzinfo=UTC)
DAY = timedelta(days=1)


def offer(
    workflow_id: str,
    rule: str,
    started: datetime,
    *,
    status: str = "running",
    ended_at: datetime | None = None,
) -> JourneySpan:
    return JourneySpan(workflow_id, "retention_offer", rule, status, started, ended_at)


def test_started_and_held_out_at_the_decisions_instant() -> None:
    request = StartRequest("dormant", "retention_offer", 90)
    started = start_result(request, SCAN, [offer("o-1", "dormant", SCAN)], "o-1")
    held = start_result(request, SCAN, [offer("o-1", "dormant", SCAN, status="holdout")], "o-1")
    assert started is not None
    assert (started.outcome, started.workflow_id) == (StartOutcome.STARTED, "o-1")
    assert held is not None
    assert held.outcome is StartOutcome.HELD_OUT


def test_the_same_rule_again_within_reenter_after_and_once_without_it() -> None:
    first = offer("o-1", "dormant", SCAN, status="ended", ended_at=SCAN + 14 * DAY)
    within = start_result(
        StartRequest("dormant", "retention_offer", 90), SCAN + 30 * DAY, [first], "o-2"
    )
    due = start_result(
        StartRequest("dormant", "retention_offer", 90), SCAN + 90 * DAY, [first], "o-2"
    )
    once = StartRequest("dormant", "retention_offer", None)
    ever = start_result(once, SCAN + 400 * DAY, [first], "o-1")
    # Without re-entry a journey runs once per id; ids with a day or a year in them
    # (contact-change notices, greetings) start again under their next id.
    next_id = start_result(once, SCAN + 400 * DAY, [first], "o-2")
    assert within is not None
    assert (within.outcome, within.since, within.again_from) == (
        StartOutcome.REENTRY,
        SCAN,
        SCAN + 90 * DAY,
    )
    assert due is None, "re-entry is due: the table says nothing stood in the way"
    assert ever is not None
    assert (ever.outcome, ever.again_from) == (StartOutcome.REENTRY, None)
    assert next_id is None


def test_another_rules_journey_of_the_kind_running_until_it_ends() -> None:
    other = offer("o-1", "declining", SCAN, status="ended", ended_at=SCAN + 14 * DAY)
    request = StartRequest("dormant", "retention_offer", 180)
    running = start_result(request, SCAN + 3 * DAY, [other], "o-2")
    after = start_result(request, SCAN + 15 * DAY, [other], "o-2")
    assert running is not None
    assert (running.outcome, running.workflow_id) == (StartOutcome.RUNNING, "o-1")
    assert after is None
    # A held-out customer's record is not a journey in flight.
    held = offer("o-2", "declining", SCAN, status="holdout")
    assert start_result(request, SCAN + 3 * DAY, [held], "o-3") is None


def test_journeys_about_a_subject_are_only_found_started() -> None:
    """A second complaint's escalation is not held up by the first one's: the decision
    does not say which complaint it was about, so nothing is claimed."""
    first = JourneySpan("esc-k-1", "complaint_escalation", "ack", "running", SCAN, None, "k-1")
    request = StartRequest("ack", "complaint_escalation", None)
    assert start_result(request, SCAN + DAY, [first], "esc-k-2") is None
    started = start_result(request, SCAN, [first], "esc-k-1")
    assert started is not None
    assert started.outcome is StartOutcome.STARTED


def test_start_requests_of_an_audited_decision() -> None:
    intents = {
        "intents": [
            {
                "action": "start_workflow",
                "workflow": "retention_offer",
                "rule_id": "dormant",
                "reenter_after_days": 180,
            },
            {"action": "notify_team", "team": "sales", "rule_id": "dormant"},
            "not an intent",
        ]
    }
    assert start_requests(intents) == [StartRequest("dormant", "retention_offer", 180)]
    assert start_requests({}) == []

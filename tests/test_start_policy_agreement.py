"""One start policy: the dispatcher, the timeline's "why not" and the rules-only replay
give the same answer for the same triggers, because all three ask `start_decision`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta

from temporalio.testing import WorkflowEnvironment

from careflow.activities.dispatch import DispatchActivities
from careflow.config import Settings
from careflow.contracts import DispatchInput
from careflow.holdout import HoldoutConfig
from careflow.intake.apply import upsert_customer
from careflow.intake.records import CustomerFields
from careflow.journey_keys import journey_ids
from careflow.rules.intents import Evaluation, Intent, RuleOutcome
from careflow.simulate.replay import DAILY_SCAN, Replay, Trigger, record_evaluation
from careflow.simulate.run import SIMULATION_KEY
from careflow.start_outcomes import JourneySpan
from careflow.store import Database, RuleDecision
from careflow.timeline import customer_timeline
from careflow.workflows.registry import JOURNEYS

HOLDOUT = HoldoutConfig(salt="agreement", journeys={"retention_offer": 0.5})
DAY = timedelta(days=1)

# What each of the three made of one rule's `start` at one instant:
# ("started" | "held_out" | "not started", the journey started or standing in the way).
Answer = tuple[str, str]


def offer(rule: str, reenter_after_days: int | None) -> Intent:
    return Intent(
        action="start_workflow",
        rule_id=rule,
        ruleset="retention",
        ruleset_hash="0" * 64,
        workflow="retention_offer",
        reenter_after_days=reenter_after_days,
    )


def customers(run: str) -> tuple[str, str]:
    """One customer in the offer's holdout group and one outside it."""
    ids = [f"{run}-c{number}" for number in range(64)]
    held = next(c for c in ids if HOLDOUT.holds_out(c, "retention_offer"))
    kept = next(c for c in ids if not HOLDOUT.holds_out(c, "retention_offer"))
    return kept, held


def last_day_of_a_past_period() -> datetime:
    """06:00 on the last day of a 90-day id period, at least four days before today.

    The next day's journey id is a new one, so only the re-entry rule (not the id)
    keeps the rule from a second offer then. Before the wall clock, as a day's
    triggers are dispatched on that day: a journey the dispatcher finds over is
    recorded as ended now, after them.
    """
    today = datetime.now(UTC).date().toordinal()
    last = (today // 90) * 90 - 1
    if today - last < 4:
        last -= 90
    return datetime.combine(date.fromordinal(last), time(6), UTC)


def offer_id(customer: str, rule_id: str, at: datetime, reenter_after_days: int | None) -> str:
    """The retention offer's id as the dispatcher, the timeline and the replay build it
    (all three keyed with the simulations' key here)."""
    return journey_ids(
        JOURNEYS["retention_offer"].workflow_id,
        SIMULATION_KEY,
        customer,
        rule_id,
        "",
        at.date(),
        reenter_after_days,
    ).current


async def test_dispatcher_timeline_and_replay_agree(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    client = workflow_env.client
    kept, held = customers(settings.task_queue)
    t0 = last_day_of_a_past_period()
    async with db.session() as session:
        pks = {
            c: (await upsert_customer(session, c, CustomerFields(), t0))[0].id for c in (kept, held)
        }
    dispatcher = DispatchActivities(
        client, db, settings.task_queue, JOURNEYS, lambda: HOLDOUT, secret_key=SIMULATION_KEY
    )
    replay = Replay("h", t0.date(), 4, [])
    replayed: dict[str, list[JourneySpan]] = defaultdict(list)
    answers: dict[str, dict[tuple[datetime, str, str], Answer]] = {
        "dispatcher": {},
        "replay": {},
    }

    async def trigger(at: datetime, customer: str, *intents: Intent) -> None:
        """The rules fired `intents` for `customer` at `at`: the three take it from here."""
        result = await dispatcher.dispatch(
            DispatchInput(customer_id=customer, intents=list(intents), at=at)
        )
        blockers = iter(result.existing)
        for intent in intents:
            workflow_id = offer_id(customer, intent.rule_id, at, intent.reenter_after_days)
            key = (at, customer, intent.rule_id)
            if workflow_id in result.started:
                answers["dispatcher"][key] = ("started", workflow_id)
            elif workflow_id in result.held_out:
                answers["dispatcher"][key] = ("held_out", workflow_id)
            else:
                answers["dispatcher"][key] = ("not started", next(blockers))
        async with db.session() as session:
            for intent in intents:
                session.add(
                    RuleDecision(
                        customer_id=pks[customer],
                        event_id=f"scan:{at.isoformat()}",
                        ruleset=intent.ruleset,
                        ruleset_hash=intent.ruleset_hash,
                        rule_id=intent.rule_id,
                        intents={"intents": [asdict(intent)]},
                        matched_facts={},
                        decided_at=at,
                    )
                )
        before = len(replay.journeys)
        outcomes = tuple(
            RuleOutcome(i.ruleset, i.ruleset_hash, i.rule_id, fired=True, intents=(i,))
            for i in intents
        )
        record_evaluation(
            replay,
            replayed,
            HOLDOUT,
            Trigger(at, DAILY_SCAN),
            customer,
            Evaluation(intents=intents, outcomes=outcomes),
        )
        new = {start.rule_id: start for start in replay.journeys[before:]}
        for intent in intents:
            start = new.get(intent.rule_id)
            key = (at, customer, intent.rule_id)
            if start is None:
                # The replay says only that nothing started; which journey was in the
                # way is compared between the dispatcher and the timeline.
                answers["replay"][key] = ("not started", "")
            else:
                answers["replay"][key] = (
                    "held_out" if start.held_out else "started",
                    start.workflow_id,
                )

    a90, b90, once = offer("a", 90), offer("b", 90), offer("c", None)
    # Two rules in one scan: one offer, the other rule finds it running.
    await trigger(t0, kept, a90, b90)
    await trigger(t0, held, a90)
    # The same rule the next day: its own offer is too recent.
    await trigger(t0 + DAY, kept, a90)
    # The first offer is over (Temporal knows; the table still says running).
    first = answers["dispatcher"][(t0, kept, "a")][1]
    await client.get_workflow_handle(first).terminate("test: the offer is over")
    await trigger(t0 + 2 * DAY, kept, once)
    # A rule without re-entry starts its journey once.
    await trigger(t0 + 3 * DAY, kept, once)

    timeline: dict[tuple[datetime, str, str], Answer] = {}
    for customer in (kept, held):
        entries = await customer_timeline(db, customer, secret_key=SIMULATION_KEY)
        assert entries is not None
        for entry in entries:
            if entry.kind != "decision":
                continue
            (found,) = entry.details["journeys"]  # type: ignore[misc]
            outcome = {"started": "started", "held_out": "held_out"}.get(
                found["outcome"], "not started"
            )
            timeline[(entry.at, customer, str(entry.details["rule_id"]))] = (
                outcome,
                found["workflow_id"],
            )

    dispatched = answers["dispatcher"]
    offered = dispatched[(t0, kept, "a")][1]
    next_id = offer_id(kept, "a", t0 + DAY, 90)
    assert next_id != offered, "the next day is in the next id period"
    assert dispatched == {
        (t0, kept, "a"): ("started", offered),
        (t0, kept, "b"): ("not started", offered),
        (t0, held, "a"): ("held_out", dispatched[(t0, held, "a")][1]),
        (t0 + DAY, kept, "a"): ("not started", offered),
        (t0 + 2 * DAY, kept, "c"): ("started", dispatched[(t0 + 2 * DAY, kept, "c")][1]),
        (t0 + 3 * DAY, kept, "c"): ("not started", dispatched[(t0 + 2 * DAY, kept, "c")][1]),
    }
    assert timeline == dispatched
    assert answers["replay"] == {
        key: (outcome, workflow_id if outcome != "not started" else "")
        for key, (outcome, workflow_id) in dispatched.items()
    }

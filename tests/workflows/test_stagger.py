"""Staggered journeys (the simulator's): a customer's journeys due at one instant go one
at a time, in the order of their staggers, so which one the contact budget lets through
is decided by the stagger and never by which worker task happened to run first."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.contracts import JourneyInput
from careflow.contracts.journeys import STAGGER_MEMO
from careflow.outreach.policy_config import OutreachPolicy
from careflow.stagger import KIND_BAND_MINUTES, journey_stagger
from careflow.store import Database, OutreachLedger
from careflow.workflows.registry import JOURNEYS
from careflow.workflows.retention_offer import RetentionOfferWorkflow
from tests.workflows.harness import (
    add_customer,
    add_journey_record,
    journey_worker,
    new_id,
    relaxed_policy,
    save_history,
    zone_at_local_hour,
)

QUIET_END = time(9)


def _one_marketing_message_and_shipped_quiet_hours() -> OutreachPolicy:
    shipped = relaxed_policy()
    return relaxed_policy(
        quiet_hours=shipped.quiet_hours.model_copy(
            update={"start": time(21), "end": QUIET_END, "applies_to": frozenset({"marketing"})}
        ),
        contact_budget=shipped.contact_budget.model_copy(update={"marketing_max": 1}),
    )


async def _offer_rows(db: Database, workflow_ids: list[str]) -> dict[str, OutreachLedger]:
    async with db.session() as session:
        rows = await session.scalars(
            select(OutreachLedger).where(
                OutreachLedger.workflow_id.in_(workflow_ids), OutreachLedger.step_id == "offer"
            )
        )
        return {row.workflow_id: row for row in rows}


@pytest.mark.parametrize("first", [0, 1])
async def test_the_smaller_stagger_wins_the_last_budget_slot_at_the_end_of_quiet_hours(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    first: int,
) -> None:
    now = await workflow_env.get_current_time()
    # 22:00 for the customer: both offers are held until 09:00, then compete for the
    # one marketing message a week the budget allows.
    zone = zone_at_local_hour(now, 22)
    customer = f"C-stagger-{first}"
    await add_customer(db, customer, tier="regular", timezone=zone, now=now)
    local = now.astimezone(ZoneInfo(zone))
    quiet_end = datetime.combine(local.date() + timedelta(days=1), QUIET_END, ZoneInfo(zone))
    staggers = [600, 1200] if first == 0 else [1200, 600]
    workflow_ids = [new_id(f"retention_offer-{customer}-{n}") for n in range(2)]
    policy = _one_marketing_message_and_shipped_quiet_hours()
    async with journey_worker(
        workflow_env.client,
        journey_settings,
        db,
        journey_config,
        policy=policy,
    ):
        handles = []
        for workflow_id, stagger in zip(workflow_ids, staggers, strict=True):
            await add_journey_record(db, workflow_id, "retention_offer", customer, now=now)
            handles.append(
                await workflow_env.client.start_workflow(
                    RetentionOfferWorkflow.run,
                    JourneyInput(
                        customer_id=customer,
                        rule_id="dormant",
                        ruleset_hash="h",
                        as_of=now,
                    ),
                    id=workflow_id,
                    memo={STAGGER_MEMO: stagger},
                    task_queue=journey_settings.task_queue,
                )
            )
        outcomes = [await handle.result() for handle in handles]
        if first == 0:
            await save_history(handles[0], "retention_offer_staggered_folded_patches")
    winner, loser = workflow_ids[first], workflow_ids[1 - first]
    rows = await _offer_rows(db, workflow_ids)
    assert rows[winner].status == "sent"
    # Sent when quiet hours ended plus its own stagger, not when its task ran.
    assert rows[winner].sent_at is not None
    assert rows[winner].sent_at.replace(tzinfo=ZoneInfo("UTC")) == quiet_end + timedelta(
        seconds=min(staggers)
    )
    # The other waited for the budget's room (a week after the winner), then its own
    # stagger: the same instants on every run.
    assert rows[loser].status == "sent"
    assert rows[loser].sent_at == rows[winner].sent_at + timedelta(days=7, seconds=max(staggers))
    assert outcomes == ["goal_not_met", "goal_not_met"]


def test_each_journey_kind_has_its_own_band_and_subjects_their_own_slot() -> None:
    kinds = list(JOURNEYS)
    offsets = {kind: journey_stagger(kind, "", kinds) for kind in kinds}
    assert sorted(offsets.values()) == [band * KIND_BAND_MINUTES * 60 for band in range(len(kinds))]
    # Two occasions of one kind on one day: distinct slots inside the kind's band.
    birthday = journey_stagger("care_message", "birthday-2026", kinds)
    holiday = journey_stagger("care_message", "holiday-spring-festival-2026", kinds)
    band_start = offsets["care_message"]
    assert band_start <= min(birthday, holiday)
    assert max(birthday, holiday) < band_start + KIND_BAND_MINUTES * 60
    # The same journey always gets the same stagger.
    assert birthday == journey_stagger("care_message", "birthday-2026", list(reversed(kinds)))

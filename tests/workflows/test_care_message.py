"""CareMessageWorkflow: greetings at the configured local hour, lunar birthdays, VIP coupons,
quiet hours, exits, and one greeting per occasion and year."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from lunardate import LunarDate
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.contracts import JourneyInput
from careflow.store import Database, OutreachLedger
from careflow.workflows.care_message import CareMessageWorkflow
from careflow.workflows.registry import JOURNEYS
from tests.smtp_sink import SmtpSink
from tests.workflows.conftest import write_journey_config
from tests.workflows.harness import (
    add_customer,
    journey_worker,
    new_id,
    params_of,
    relaxed_policy,
    save_history,
    send_attempts,
    subjects,
    zone_at_local_hour,
)


async def _greet(
    env: WorkflowEnvironment, settings: Settings, subject: str, customer: str, workflow_id: str
) -> object:
    return await env.client.start_workflow(
        CareMessageWorkflow.run,
        JourneyInput(customer_id=customer, rule_id="birthday", ruleset_hash="h", subject=subject),
        id=workflow_id,
        task_queue=settings.task_queue,
    )


async def test_birthday_greeting_waits_for_the_local_hour(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    now = await workflow_env.get_current_time()
    zone = zone_at_local_hour(now, 3)  # six hours before the 9 o'clock greeting
    today = now.astimezone(ZoneInfo(zone)).date()
    await add_customer(
        db, "C-30", timezone=zone, birthday=date(1992, today.month, today.day), now=now
    )
    workflow_id = new_id("care_message-C-30")
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        handle = await _greet(
            workflow_env, journey_settings, f"birthday-{today.year}", "C-30", workflow_id
        )
        assert await handle.result() == "sent"  # type: ignore[attr-defined]
        await save_history(handle, "care_message_birthday_folded_patches")  # type: ignore[arg-type]
    [greeting] = await smtp_sink.wait_for(1)
    assert subjects([greeting]) == ["birthday_greeting C-30"]
    assert "offer_code" not in params_of(greeting)  # not a VIP
    async with db.session() as session:
        planned = await session.scalar(
            select(OutreachLedger.created_at).where(OutreachLedger.workflow_id == workflow_id)
        )
    assert planned is not None
    assert planned >= datetime.combine(today, time(9), ZoneInfo(zone))


async def test_lunar_birthday_of_a_vip_comes_with_a_coupon(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    now = await workflow_env.get_current_time()
    zone = zone_at_local_hour(now, 10)
    today = now.astimezone(ZoneInfo(zone)).date()
    lunar = LunarDate.from_solar_date(today.year, today.month, today.day)
    if lunar.is_leap_month or (lunar.month, lunar.day) == (2, 30):
        # Birthdays are kept in the regular month, and lunar 2/30 has no date to store.
        pytest.skip(f"today is lunar {lunar}, which the store cannot hold as a birthday")
    await add_customer(
        db,
        "C-31",
        tier="vip",
        timezone=zone,
        # A lunar birthday is stored as the lunar month and day.
        birthday=date(1992, lunar.month, lunar.day),
        birthday_calendar="lunar",
        now=now,
    )
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        handle = await _greet(
            workflow_env, journey_settings, f"birthday-{today.year}", "C-31", new_id("care-C-31")
        )
        assert await handle.result() == "sent"  # type: ignore[attr-defined]
    [greeting] = await smtp_sink.wait_for(1)
    params = params_of(greeting)
    assert params["occasion"] == "birthday"
    assert str(params["offer_code"]).startswith("GIFT-")
    assert params["offer_value"] == 50


async def test_birthday_outside_the_named_year_is_skipped(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    now = await workflow_env.get_current_time()
    today = now.date()
    await add_customer(db, "C-32", birthday=date(1992, today.month, today.day), now=now)
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        handle = await _greet(
            workflow_env, journey_settings, f"birthday-{today.year - 1}", "C-32", new_id("c")
        )
        assert await handle.result() == "skipped"  # type: ignore[attr-defined]
    assert smtp_sink.messages == []


async def test_holiday_greeting_names_the_holiday(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    now = await workflow_env.get_current_time()
    await add_customer(db, "C-33", timezone=zone_at_local_hour(now, 12), now=now)
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        handle = await _greet(
            workflow_env, journey_settings, f"mid_autumn-{now.year}", "C-33", new_id("c")
        )
        assert await handle.result() == "sent"  # type: ignore[attr-defined]
    [greeting] = await smtp_sink.wait_for(1)
    assert subjects([greeting]) == ["holiday_greeting C-33"]
    assert params_of(greeting)["holiday"] == "mid_autumn"


async def test_opt_out_before_the_greeting_hour_sends_nothing(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    now = await workflow_env.get_current_time()
    zone = zone_at_local_hour(now, 3)
    today = now.astimezone(ZoneInfo(zone)).date()
    await add_customer(
        db, "C-34", timezone=zone, birthday=date(1992, today.month, today.day), now=now
    )
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        handle = await _greet(
            workflow_env, journey_settings, f"birthday-{today.year}", "C-34", new_id("c")
        )
        await workflow_env.sleep(timedelta(hours=1))
        await handle.signal("opted_out")  # type: ignore[attr-defined]
        assert await handle.result() == "opted_out"  # type: ignore[attr-defined]
    assert smtp_sink.messages == []


async def test_quiet_hours_defer_the_greeting_until_morning(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    tmp_path: Path,
    smtp_sink: SmtpSink,
) -> None:
    # The journey wants to greet at 7; the policy's quiet hours last until 9.
    config = write_journey_config(
        tmp_path / "early.yaml", lambda doc: doc["care_message"].update(send_at_local_hour=7)
    )
    shipped_quiet = relaxed_policy().quiet_hours.model_copy(
        update={"start": time(21), "end": time(9), "applies_to": frozenset({"care"})}
    )
    policy = relaxed_policy(quiet_hours=shipped_quiet)
    now = await workflow_env.get_current_time()
    zone = zone_at_local_hour(now, 3)
    today = now.astimezone(ZoneInfo(zone)).date()
    await add_customer(
        db, "C-35", timezone=zone, birthday=date(1992, today.month, today.day), now=now
    )
    async with journey_worker(workflow_env.client, journey_settings, db, config, policy=policy):
        handle = await _greet(
            workflow_env, journey_settings, f"birthday-{today.year}", "C-35", new_id("c")
        )
        assert await handle.result() == "sent"  # type: ignore[attr-defined]
        await save_history(handle, "care_message_quiet_hours_folded_patches")  # type: ignore[arg-type]
        history = await handle.fetch_history()  # type: ignore[attr-defined]
    # Deferred at 7, sent at 9: each decided and delivered within its workflow task.
    assert send_attempts(history) == ["local", "local"]
    assert len(await smtp_sink.wait_for(1)) == 1


async def test_one_greeting_per_occasion_and_year(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    journey = JOURNEYS["care_message"]
    day = date(2026, 9, 25)
    first = journey.workflow_id("C-36", "birthday", "birthday-2026", day, None)
    assert first == journey.workflow_id("C-36", "birthday", "birthday-2026", day.replace(day=26), 1)
    assert first != journey.workflow_id("C-36", "birthday", "birthday-2027", day, None)
    assert first != journey.workflow_id("C-36", "birthday", "mid_autumn-2026", day, None)
    now = await workflow_env.get_current_time()
    await add_customer(db, "C-36", timezone=zone_at_local_hour(now, 12), now=now)
    first = new_id(first)
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        handle = await _greet(
            workflow_env, journey_settings, f"national_day-{now.year}", "C-36", first
        )
        assert await handle.result() == "sent"  # type: ignore[attr-defined]
        # The dispatcher starts journeys with REJECT_DUPLICATE: a second trigger is refused.
        with pytest.raises(WorkflowAlreadyStartedError):
            await workflow_env.client.start_workflow(
                CareMessageWorkflow.run,
                JourneyInput(
                    customer_id="C-36",
                    rule_id="birthday",
                    ruleset_hash="h",
                    subject=f"national_day-{now.year}",
                ),
                id=first,
                task_queue=journey_settings.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        description = await handle.describe()  # type: ignore[attr-defined]
        assert description.status == WorkflowExecutionStatus.COMPLETED
    assert len(smtp_sink.messages) == 1

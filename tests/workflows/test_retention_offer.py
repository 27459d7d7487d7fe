"""RetentionOfferWorkflow on the time-skipping server, a real SMTP sink and a real store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.contracts import JourneyInput
from careflow.staffwork.tasks import cancel_task, complete_task
from careflow.store import Customer, Database, Order
from careflow.workflows.retention_offer import RetentionOfferWorkflow
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import (
    add_customer,
    add_journey_record,
    journey_outcome,
    journey_worker,
    new_id,
    params_of,
    save_history,
    subjects,
    tasks_of,
)


async def _start(
    env: WorkflowEnvironment, settings: Settings, db: Database, customer: str, **kwargs: object
) -> tuple[str, object]:
    now = await env.get_current_time()
    await add_customer(db, customer, now=now, **kwargs)  # type: ignore[arg-type]
    workflow_id = new_id(f"retention_offer-{customer}")
    await add_journey_record(db, workflow_id, "retention_offer", customer, now=now)
    handle = await env.client.start_workflow(
        RetentionOfferWorkflow.run,
        JourneyInput(customer_id=customer, rule_id="declining-frequency", ruleset_hash="h"),
        id=workflow_id,
        task_queue=settings.task_queue,
    )
    return workflow_id, handle


async def test_goal_met_early_ends_the_journey_at_once(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        workflow_id, handle = await _start(
            workflow_env, journey_settings, db, "C-1", tier="regular"
        )
        [offer] = await smtp_sink.wait_for(1)
        assert subjects([offer]) == ["retention_offer C-1"]
        assert params_of(offer)["offer_value"] == 50
        await handle.signal("order_placed")  # type: ignore[attr-defined]
        assert await handle.result() == "goal_met"  # type: ignore[attr-defined]
        await save_history(handle, "retention_offer_goal_met_folded_patches")  # type: ignore[arg-type]
    assert subjects(smtp_sink.messages) == ["retention_offer C-1"]
    assert await journey_outcome(db, workflow_id) == ("ended", "goal_met")


async def test_goal_never_met_reminds_once_then_a_vip_gets_a_call(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        started = await workflow_env.get_current_time()
        workflow_id, handle = await _start(
            workflow_env,
            journey_settings,
            db,
            "C-2",
            tier="vip",
            account_manager="li.na@shop.example",
        )
        assert await handle.result() == "call_task"  # type: ignore[attr-defined]
        await save_history(handle, "retention_offer_call_task_folded_patches")  # type: ignore[arg-type]
    messages = await smtp_sink.wait_for(3)
    assert subjects(messages) == [
        "retention_offer C-2",
        "retention_reminder C-2",
        "staff_call_task C-2",
    ]
    assert params_of(messages[0])["offer_value"] == 200  # vip without the big spend
    assert messages[2]["To"] == "li.na@shop.example"
    tasks = await tasks_of(db, workflow_id)
    call = next(task for task in tasks if task.kind == "call")
    assert call.assignee == "li.na@shop.example"
    assert call.status == "open"
    assert call.due_at is not None
    # 14 days of waiting, then 2 days to call.
    assert call.due_at - started >= timedelta(days=16)
    assert await journey_outcome(db, workflow_id) == ("ended", "call_task")


async def test_goal_never_met_without_call_for_regular_customers(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        workflow_id, handle = await _start(workflow_env, journey_settings, db, "C-3")
        assert await handle.result() == "goal_not_met"  # type: ignore[attr-defined]
    assert subjects(await smtp_sink.wait_for(2)) == [
        "retention_offer C-3",
        "retention_reminder C-3",
    ]
    assert params_of(smtp_sink.messages[0])["offer_value"] == 20
    assert await tasks_of(db, workflow_id) == []


async def test_opt_out_mid_journey_stops_before_the_reminder(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        workflow_id, handle = await _start(workflow_env, journey_settings, db, "C-4", tier="vip")
        await smtp_sink.wait_for(1)
        await handle.signal("opted_out")  # type: ignore[attr-defined]
        assert await handle.result() == "opted_out"  # type: ignore[attr-defined]
        await save_history(handle, "retention_offer_opted_out_folded_patches")  # type: ignore[arg-type]
    assert subjects(smtp_sink.messages) == ["retention_offer C-4"]
    assert await tasks_of(db, workflow_id) == []
    assert await journey_outcome(db, workflow_id) == ("ended", "opted_out")


async def test_big_spending_vip_gets_the_bigger_offer(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    now = await workflow_env.get_current_time()
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        await add_customer(db, "C-5", tier="vip", now=now)
        async with db.session() as session:
            customer_pk = await session.scalar(
                select(Customer.id).where(Customer.external_id == "C-5")
            )
            assert customer_pk is not None
            session.add(
                Order(
                    external_id="O-5",
                    customer_id=customer_pk,
                    ordered_at=now - timedelta(days=100),
                    amount=12000,
                )
            )
        handle = await workflow_env.client.start_workflow(
            RetentionOfferWorkflow.run,
            JourneyInput(customer_id="C-5", rule_id="dormant", ruleset_hash="h"),
            id=new_id("retention_offer-C-5"),
            task_queue=journey_settings.task_queue,
        )
        [offer] = await smtp_sink.wait_for(1)
        await handle.signal("customer_erased")
        assert await handle.result() == "erased"
    assert params_of(offer)["offer_value"] == 300
    assert str(params_of(offer)["offer_code"]).startswith("COMEBACK-")


async def test_no_marketing_consent_sends_nothing(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        _, handle = await _start(workflow_env, journey_settings, db, "C-6", consents=("care",))
        assert await handle.result() == "offer_skipped"  # type: ignore[attr-defined]
    assert smtp_sink.messages == []


async def test_an_order_without_a_signal_still_meets_the_goal(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        workflow_id, handle = await _start(workflow_env, journey_settings, db, "C-7")
        await smtp_sink.wait_for(1)
        now = await workflow_env.get_current_time()
        async with db.session() as session:
            customer_pk = await session.scalar(
                select(Customer.id).where(Customer.external_id == "C-7")
            )
            assert customer_pk is not None
            session.add(
                Order(external_id="O-7", customer_id=customer_pk, ordered_at=now, amount=99)
            )
        assert await handle.result() == "goal_met"  # type: ignore[attr-defined]
    assert subjects(smtp_sink.messages) == ["retention_offer C-7"]
    assert await journey_outcome(db, workflow_id) == ("ended", "goal_met")


async def test_a_completed_call_task_ends_the_offer_with_its_outcome(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        workflow_id, handle = await _start(
            workflow_env,
            journey_settings,
            db,
            "C-9",
            tier="vip",
            account_manager="li.na@shop.example",
        )
        # Past the reminder (7 days) and the end of the wait (14 days): the call task opens.
        await workflow_env.sleep(timedelta(days=15))
        await smtp_sink.wait_for(3)
        call = next(task for task in await tasks_of(db, workflow_id) if task.kind == "call")
        # The journey waits to hear how the call went.
        assert await journey_outcome(db, workflow_id) == ("running", None)
        change = await complete_task(
            db,
            workflow_env.client,
            call.id,
            actor="li.na",
            person="li.na",
            outcome="won_back",
            note="she will order the new season's tea next week",
        )
        assert change.journeys_told == (workflow_id,)
        assert await handle.result() == "call_won_back"  # type: ignore[attr-defined]
        await save_history(handle, "retention_offer_call_won_back_folded_patches")  # type: ignore[arg-type]
    assert await journey_outcome(db, workflow_id) == ("ended", "call_won_back")


async def test_a_cancelled_call_task_ends_the_offer_as_cancelled(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        workflow_id, handle = await _start(
            workflow_env,
            journey_settings,
            db,
            "C-10",
            tier="vip",
            account_manager="am@shop.example",
        )
        await workflow_env.sleep(timedelta(days=15))
        await smtp_sink.wait_for(3)
        call = next(task for task in await tasks_of(db, workflow_id) if task.kind == "call")
        await cancel_task(db, workflow_env.client, call.id, actor="am", person="am")
        assert await handle.result() == "call_cancelled"  # type: ignore[attr-defined]


async def test_a_vip_without_an_account_manager_gets_one_from_the_sales_roster(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    (journey_config.parent / "teams.yaml").write_text(
        "teams:\n"
        "  sales:\n"
        "    members:\n"
        "      - {name: li.na, email: li.na@shop.example, hours: '00:00-24:00',\n"
        "         days: [mon, tue, wed, thu, fri, sat, sun]}\n",
        encoding="utf-8",
    )
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        workflow_id, handle = await _start(workflow_env, journey_settings, db, "C-11", tier="vip")
        assert await handle.result() == "call_task"  # type: ignore[attr-defined]
    messages = await smtp_sink.wait_for(3)
    # The account manager is told, at their own address.
    assert messages[2]["To"] == "li.na@shop.example"
    call = next(task for task in await tasks_of(db, workflow_id) if task.kind == "call")
    assert call.assignee == "li.na@shop.example"
    async with db.session() as session:
        manager = await session.scalar(
            select(Customer.account_manager).where(Customer.external_id == "C-11")
        )
    assert manager == "li.na@shop.example"

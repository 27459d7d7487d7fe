"""Activities stamp rows with their workflow's clock, which the time-skipping server moves.

The probe runs on the real time-skipping test server: after skipping thirty years,
an activity's `started_time` is thirty years on while the wall clock is not, so
`activity_now()` is what a simulation needs. The other tests check each activity
that writes a time uses it.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from temporalio import activity, workflow
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from careflow.activities.clock import activity_now
from careflow.activities.dispatch import DispatchActivities
from careflow.activities.journeys import JourneyActivities
from careflow.activities.tasks import TaskActivities
from careflow.config import Settings
from careflow.contracts import CloseTasksInput, DispatchInput, OpenTaskInput, RecordOutcomeInput
from careflow.holdout import HoldoutConfig
from careflow.outreach.mailer import OutboxDelivery
from careflow.outreach.templates import TemplateRenderer
from careflow.paths import RULES_DIR
from careflow.rules.intents import Intent
from careflow.store import Database, JourneyRecord, Task
from careflow.workflows.registry import JOURNEYS
from tests.workflows.harness import add_customer

FAR = timedelta(days=365 * 30)
# A simulated instant well after the wall clock (as the time-skipping server has).
SIMULATED = datetime(2053, 10, 1, 6, 0, tzinfo=UTC)


@activity.defn(name="clock_probe")
async def clock_probe() -> list[datetime]:
    return [activity_now(), datetime.now(UTC)]


@workflow.defn(name="ClockProbe")
class ClockProbe:
    @workflow.run
    async def run(self) -> list[datetime]:
        stamps = await workflow.execute_activity(
            clock_probe, start_to_close_timeout=timedelta(seconds=10)
        )
        return [workflow.now(), *stamps]


async def test_time_skipping_server_moves_the_activity_clock(
    workflow_env: WorkflowEnvironment,
) -> None:
    queue = f"clock-{uuid.uuid4().hex[:8]}"
    async with Worker(
        workflow_env.client,
        task_queue=queue,
        workflows=[ClockProbe],
        activities=[clock_probe],
        # The probe lives in a test module that imports the store: no sandbox for it.
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        before = await workflow_env.get_current_time()
        await workflow_env.sleep(FAR)
        workflow_now, stamped, wall = await workflow_env.client.execute_workflow(
            ClockProbe.run, id=f"clock-{queue}", task_queue=queue
        )
    assert stamped - before >= FAR, "the activity sees the skipped time"
    assert wall - before < FAR, "the wall clock did not move with it"
    assert abs(stamped - workflow_now) < timedelta(minutes=1)


def at_simulated_time() -> ActivityEnvironment:
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(environment.info, started_time=SIMULATED)
    return environment


def test_outside_an_activity_it_is_the_wall_clock() -> None:
    assert abs(activity_now() - datetime.now(UTC)) < timedelta(seconds=5)


async def test_dispatch_and_outcomes_are_stamped_at_the_workflow_time(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    # A customer the holdout group takes: a record is written, no workflow starts.
    holdout = HoldoutConfig(salt="t", journeys={"retention_offer": 0.5})
    customer = next(
        f"{settings.task_queue}-c{n}"
        for n in range(100)
        if holdout.holds_out(f"{settings.task_queue}-c{n}", "retention_offer")
    )
    await add_customer(db, customer, now=SIMULATED)
    notify = Intent(
        action="notify_team",
        rule_id="heads-up",
        ruleset="retention",
        ruleset_hash="0" * 64,
        team="service",
    )
    hold = Intent(
        action="start_workflow",
        rule_id="win-back",
        ruleset="retention",
        ruleset_hash="0" * 64,
        workflow="retention_offer",
        reenter_after_days=90,
    )
    dispatcher = DispatchActivities(
        workflow_env.client,
        db,
        settings.task_queue,
        JOURNEYS,
        holdout=lambda: holdout,
        secret_key=settings.secret_key,
    )
    result = await at_simulated_time().run(
        dispatcher.dispatch_intents, DispatchInput(customer_id=customer, intents=[notify, hold])
    )
    assert result.notified == ["service"]
    assert len(result.held_out) == 1
    async with db.session() as session:
        journey = await session.scalar(select(JourneyRecord))
        note = await session.scalar(select(Task))
    assert journey is not None
    assert note is not None
    assert journey.started_at == SIMULATED
    assert note.created_at == SIMULATED
    assert note.idempotency_key.endswith(SIMULATED.date().isoformat())

    journeys = JourneyActivities(
        db,
        config_path=RULES_DIR / "journeys.yaml",
        base_url=settings.base_url,
        secret_key=settings.secret_key,
    )
    async with db.session() as session:
        record = await session.scalar(select(JourneyRecord))
        assert record is not None
        record.status = "running"  # as if it had started
    ended = SIMULATED + timedelta(days=14)
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(environment.info, started_time=ended)
    await environment.run(
        journeys.record_outcome,
        RecordOutcomeInput(workflow_id=result.held_out[0], outcome="goal_met"),
    )
    async with db.session() as session:
        record = await session.scalar(select(JourneyRecord))
    assert record is not None
    assert record.ended_at == ended


def _task_activities(db: Database, settings: Settings) -> TaskActivities:
    """The staff-task activities as the worker binds them, delivering to an outbox."""
    return TaskActivities(
        db,
        TemplateRenderer(settings.templates_dir),
        OutboxDelivery(settings.resolved_home / "outbox"),
        config_path=RULES_DIR / "journeys.yaml",
        mail_from=settings.mail_from,
        base_url=settings.base_url,
        secret_key=settings.secret_key,
    )


async def test_tasks_are_stamped_at_the_workflow_time(db: Database, settings: Settings) -> None:
    await add_customer(db, "C-T", now=SIMULATED)
    tasks = _task_activities(db, settings)
    await at_simulated_time().run(
        tasks.open_task,
        OpenTaskInput(
            workflow_id="journey-C-T",
            step_id="call",
            kind="call",
            role="agent",
            customer_id="C-T",
            title="Call",
        ),
    )
    done = SIMULATED + timedelta(days=2)
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(environment.info, started_time=done)
    closed = await environment.run(tasks.close_tasks, CloseTasksInput(workflow_id="journey-C-T"))
    async with db.session() as session:
        task = await session.scalar(select(Task))
    assert closed.closed == 1
    assert task is not None
    assert (task.created_at, task.completed_at) == (SIMULATED, done)


async def test_local_activities_are_stamped_at_the_instant_their_workflow_passes(
    db: Database, settings: Settings
) -> None:
    """A local activity's info carries the worker's clock (on the time-skipping server
    its `started_time` stays on the wall clock while `workflow.now()` is years ahead),
    so quick steps stamp with the `at` their workflow passes."""
    await add_customer(db, "C-L", now=SIMULATED)
    tasks = _task_activities(db, settings)
    local = ActivityEnvironment()
    local.info = dataclasses.replace(
        local.info, is_local=True, started_time=datetime.now(UTC) - timedelta(hours=1)
    )
    await local.run(
        tasks.open_task,
        OpenTaskInput(
            workflow_id="journey-C-L",
            step_id="call",
            kind="call",
            role="agent",
            customer_id="C-L",
            title="Call",
            at=SIMULATED,
        ),
    )
    done = SIMULATED + timedelta(days=2)
    await local.run(tasks.close_tasks, CloseTasksInput(workflow_id="journey-C-L", at=done))
    async with db.session() as session:
        task = await session.scalar(select(Task))
    assert task is not None
    assert (task.created_at, task.completed_at) == (SIMULATED, done)
    # Without an instant from its workflow a local activity has only the wall clock,
    # never its own (worker-side, here an hour old) start time.
    stamped = local.run(activity_now)
    assert abs(stamped - datetime.now(UTC)) < timedelta(minutes=1)

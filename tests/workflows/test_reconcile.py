"""The store and Temporal agree about a journey's status (issue 16, class 2).

A journey that fails, or that someone terminates outside careflow (the Temporal UI,
`temporal workflow terminate`), never records its own outcome. Reading the
customer's timeline (API, console, CLI) reconciles it, and so does the daily scan.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from careflow.activities.scan import ScanActivities
from careflow.config import Settings
from careflow.contracts import ComplaintPlan, JourneyInput, PlanInput, ReconcileInput
from careflow.journeys import reconcile_customer
from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.store import Database
from careflow.timeline import customer_timeline
from careflow.workflows.complaint_escalation import ComplaintEscalationWorkflow
from tests.faults.conftest import temporal  # noqa: F401  (the dev-server fixture)
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import (
    JOURNEY_WORKFLOWS,
    add_complaint,
    add_customer,
    add_journey_record,
    journey_outcome,
    journey_worker,
    new_id,
)


async def _start(
    client: Client, settings: Settings, db: Database, customer: str, now: datetime
) -> tuple[str, WorkflowHandle[Any, str]]:
    await add_customer(db, customer, tier="vip", now=now)
    await add_complaint(db, customer, f"CS-{customer}", opened_at=now, severity="high")
    workflow_id = new_id(f"complaint-{customer}")
    await add_journey_record(db, workflow_id, "complaint_escalation", customer, now=now)
    handle = await client.start_workflow(
        ComplaintEscalationWorkflow.run,
        JourneyInput(
            customer_id=customer,
            rule_id="complaint-new",
            ruleset_hash="h",
            subject=f"CS-{customer}",
        ),
        id=workflow_id,
        task_queue=settings.task_queue,
    )
    return workflow_id, handle


@activity.defn(name="plan_complaint")
async def _plan_fails(_request: PlanInput) -> ComplaintPlan:
    raise ApplicationError("journeys.yaml unreadable", non_retryable=True)


async def test_a_journey_terminated_outside_careflow_is_shown_terminated(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        now = await workflow_env.get_current_time()
        workflow_id, handle = await _start(workflow_env.client, journey_settings, db, "R-1", now)
        await smtp_sink.wait_for(1)
        await handle.terminate("an operator in the Temporal UI")
        assert await journey_outcome(db, workflow_id) == ("running", None)
        assert await reconcile_customer(db, workflow_env.client, "R-1") == [workflow_id]
    assert await journey_outcome(db, workflow_id) == ("ended", "terminated")
    timeline = await customer_timeline(db, "R-1", secret_key=journey_settings.secret_key)
    assert timeline is not None
    [journey] = [entry.details for entry in timeline if entry.kind == "journey"]
    assert (journey["status"], journey["outcome"]) == ("ended", "terminated")
    assert journey["ended_at"] is not None


async def test_a_failed_journey_is_shown_failed(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
) -> None:
    async with journey_worker(
        workflow_env.client, journey_settings, db, journey_config, replace=[_plan_fails]
    ):
        now = await workflow_env.get_current_time()
        workflow_id, handle = await _start(workflow_env.client, journey_settings, db, "R-2", now)
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        assert await journey_outcome(db, workflow_id) == ("running", None)
        await reconcile_customer(db, workflow_env.client, "R-2")
    assert await journey_outcome(db, workflow_id) == ("ended", "failed")


async def test_the_daily_scan_reconciles_journeys_nobody_looked_at(
    temporal: EmbeddedTemporal,  # noqa: F811
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    client = await Client.connect(temporal.address)
    scan = ScanActivities(db, None, _Dispatcher(client))  # type: ignore[arg-type]
    async with Worker(
        client,
        task_queue=journey_settings.task_queue,
        workflows=JOURNEY_WORKFLOWS,
        activities=[_plan_fails],
    ):
        now = datetime.now(UTC)
        failed_id, failed = await _start(client, journey_settings, db, "R-3", now)
        with pytest.raises(WorkflowFailureError):
            await failed.result()
    result = await scan.reconcile_journeys(ReconcileInput(since=now - timedelta(days=2)))
    assert (result.marked, result.note) == (1, None)
    assert await journey_outcome(db, failed_id) == ("ended", "failed")


class _Dispatcher:
    """What `ScanActivities.reconcile_journeys` uses of the dispatcher: its client."""

    def __init__(self, client: Client) -> None:
        self.client = client

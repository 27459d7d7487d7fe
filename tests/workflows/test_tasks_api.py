"""Staff tasks created by a journey are visible through `GET /tasks`."""

from __future__ import annotations

from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.contracts import JourneyInput
from careflow.store import Database
from careflow.workflows.retention_offer import RetentionOfferWorkflow
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import add_customer, journey_worker, new_id


async def test_call_task_and_its_notification_are_listed(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    now = await workflow_env.get_current_time()
    await add_customer(db, "C-70", tier="vip", account_manager="am@shop.example", now=now)
    workflow_id = new_id("retention")
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        handle = await workflow_env.client.start_workflow(
            RetentionOfferWorkflow.run,
            JourneyInput(customer_id="C-70", rule_id="dormant", ruleset_hash="h"),
            id=workflow_id,
            task_queue=journey_settings.task_queue,
        )
        assert await handle.result() == "call_task"
    app = create_app(
        ApiState(db, workflow_env.client, journey_settings.task_queue, journey_settings.secret_key)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow") as api:
        open_calls = (await api.get("/tasks", params={"status": "open"})).json()
        mine = (await api.get("/tasks", params={"assignee": "am@shop.example"})).json()
        nobody = (await api.get("/tasks", params={"assignee": "nobody@shop.example"})).json()
    assert [(t["kind"], t["customer_id"], t["workflow_id"]) for t in open_calls] == [
        ("call", "C-70", workflow_id)
    ]
    assert open_calls[0]["due_at"] is not None
    assert sorted((t["kind"], t["status"]) for t in mine) == [
        ("call", "open"),
        ("notification", "sent"),
    ]
    assert nobody == []

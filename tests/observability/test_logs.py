"""Log lines: JSON or text, the workflow's and the activity's ids on every line made
inside one, an access log by route template, and no personal data."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from temporalio import activity, workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.intake.apply import upsert_customer
from careflow.intake.records import CustomerFields
from careflow.observability.logs import configure_logging
from careflow.outreach.links import unsubscribe_token
from careflow.store import Database
from careflow.worker import WORKFLOW_RUNNER
from tests.faults.harness import wait_until
from tests.observability.conftest import EMAIL, NAME, PHONE, post_complaint, running_careflow
from tests.observability.logging_workflow import LoggingProbeWorkflow, log_from_activity
from tests.smtp_sink import SmtpSink

Capture = Callable[[str], io.StringIO]


@pytest.fixture
def capture_logs(settings: Settings) -> Iterator[Capture]:
    """`capture("json")` sets logging up as careflow's processes do, into a buffer;
    everything it changed is put back afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    held = {name: logging.getLogger(name).level for name in ("mail.log", "uvicorn.access", "httpx")}
    flags = (workflow.logger.workflow_info_on_message, activity.logger.activity_info_on_message)

    def capture(log_format: str) -> io.StringIO:
        buffer = io.StringIO()
        configure_logging(settings.model_copy(update={"log_format": log_format}), stream=buffer)
        return buffer

    yield capture
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, old in held.items():
        logging.getLogger(name).setLevel(old)
    workflow.logger.workflow_info_on_message, activity.logger.activity_info_on_message = flags


def json_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    """Every line is one JSON object (json.loads fails the test otherwise)."""
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


async def test_a_complaint_journey_logs_ids_and_no_personal_data(
    db: Database,
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    smtp_sink: SmtpSink,
    capture_logs: Capture,
) -> None:
    buffer = capture_logs("json")
    with workflow_env.auto_time_skipping_disabled():
        async with running_careflow(db, workflow_env.client, settings) as http:
            complaint = await post_complaint(http, smtp_sink, settings)
            # The message is on the sink a moment before the send step logs it.
            await wait_until(
                lambda: f"sent {complaint.journey_id}/ack" in buffer.getvalue(),
                within_seconds=30,
                failure=lambda: "the send step never logged the acknowledgement",
            )
            # A token in the query string, as a careless client might send it.
            await http.get(f"/customers/{complaint.customer_id}/timeline?token=s3cret-t0ken")
    text = buffer.getvalue()
    for personal in (NAME, EMAIL, PHONE, "Zhao", "s3cret-t0ken"):
        assert personal not in text
    lines = json_lines(buffer)
    sent = [line for line in lines if line["message"].startswith(f"sent {complaint.journey_id}/")]
    assert [(line["workflow_id"], line["activity_type"]) for line in sent] == [
        (complaint.journey_id, "send_email")
    ]
    assert {"run_id", "activity_id", "attempt", "time", "level"} <= set(sent[0])
    access = {
        (line["method"], line["path"], line["status"])
        for line in lines
        if line["logger"] == "careflow.access"
    }
    assert access == {
        ("POST", "/events", 202),
        ("GET", "/customers/{customer_id}/timeline", 200),
    }


async def test_lines_inside_workflows_and_activities_carry_their_ids(
    workflow_env: WorkflowEnvironment, settings: Settings, capture_logs: Capture
) -> None:
    """Whichever logger writes them (the SDK's or a module's own), in both formats,
    and in the sandbox production workflows run in."""
    for log_format in ("json", "text"):
        buffer = capture_logs(log_format)
        workflow_id = f"probe-{log_format}-{settings.task_queue}"
        async with Worker(
            workflow_env.client,
            task_queue=settings.task_queue,
            workflows=[LoggingProbeWorkflow],
            activities=[log_from_activity],
            workflow_runner=WORKFLOW_RUNNER,
        ):
            await workflow_env.client.execute_workflow(
                LoggingProbeWorkflow.run, "c-7", id=workflow_id, task_queue=settings.task_queue
            )
        if log_format == "json":
            lines = {line["message"]: line for line in json_lines(buffer)}
            in_workflow = lines["workflow for customer c-7"]
            assert (in_workflow["workflow_id"], in_workflow["workflow_type"]) == (
                workflow_id,
                "LoggingProbeWorkflow",
            )
            assert "activity_id" not in in_workflow
            in_activity = lines["activity for customer c-7"]
            assert (in_activity["workflow_id"], in_activity["activity_type"]) == (
                workflow_id,
                "log_from_activity",
            )
        else:
            text = buffer.getvalue()
            assert f"workflow for customer c-7 [workflow_id={workflow_id}]" in text
            assert (
                f"activity for customer c-7 [workflow_id={workflow_id} "
                "activity_type=log_from_activity activity_id=1]"
            ) in text


async def test_the_access_log_names_no_unmatched_path(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings, capture_logs: Capture
) -> None:
    buffer = capture_logs("json")
    async with db.session() as session:
        # A customer on file: links of unknown (or erased) customers answer 410.
        await upsert_customer(session, "c-9", CustomerFields(locale="en"), datetime.now(UTC))
    app = create_app(ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow") as http:
        # A real signed link: the token in its path is a credential.
        token = unsubscribe_token(settings.secret_key, "c-9", "marketing")
        assert (await http.get(f"/unsubscribe/{token}")).status_code == 200
        assert (await http.get("/no/such/c-9-private")).status_code == 404
        assert (await http.get("/openapi.json")).status_code == 200
    paths = [line["path"] for line in json_lines(buffer) if line["logger"] == "careflow.access"]
    assert paths == ["/unsubscribe/{token}", "(unmatched)", "/openapi.json"]
    assert token not in buffer.getvalue()
    assert "c-9-private" not in buffer.getvalue()

"""The review request: a simple journey (send, wait, remind once, stop on the answer).

Started by the shipped rule `order-review-request`; its settings are
`simple_journeys.review_request` in rules/journeys.yaml (three days for the parcel
to arrive, a reminder three days after the request, give up four days later).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.contracts import JourneyInput
from careflow.store import Database
from careflow.workflows.review_request import ReviewRequestWorkflow
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import (
    add_customer,
    journey_worker,
    new_id,
    params_of,
    save_history,
    subjects,
)


async def _request(
    env: WorkflowEnvironment, settings: Settings, db: Database, customer: str
) -> tuple[str, Any]:
    now = await env.get_current_time()
    await add_customer(db, customer, now=now)
    workflow_id = new_id(f"review_request-{customer}")
    handle = await env.client.start_workflow(
        ReviewRequestWorkflow.run,
        JourneyInput(
            customer_id=customer, rule_id="order-review-request", ruleset_hash="h", as_of=now
        ),
        id=workflow_id,
        task_queue=settings.task_queue,
    )
    return workflow_id, handle


async def test_an_answer_after_the_request_ends_the_journey(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        _, handle = await _request(workflow_env, journey_settings, db, "C-R1")
        # Nothing before the parcel has had three days to arrive.
        await workflow_env.sleep(timedelta(days=2, hours=23))
        assert smtp_sink.messages == []
        await workflow_env.sleep(timedelta(hours=2))
        [request] = await smtp_sink.wait_for(1)
        await handle.signal("survey_answered", 5)
        assert await handle.result() == "goal_met"
        await save_history(handle, "review_request_answered_folded_patches")
    assert subjects(smtp_sink.messages) == ["review_request C-R1"]
    assert "/survey/" in params_of(request)["survey_url"]


async def test_an_unanswered_request_is_reminded_once_then_given_up(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        _, handle = await _request(workflow_env, journey_settings, db, "C-R2")
        assert await handle.result() == "goal_not_met"
        await save_history(handle, "review_request_unanswered_folded_patches")
    assert subjects(smtp_sink.messages) == ["review_request C-R2", "review_reminder C-R2"]
    [request, reminder] = smtp_sink.messages
    assert params_of(reminder)["survey_url"] == params_of(request)["survey_url"]


async def test_an_answer_after_the_reminder_ends_it_too(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        _, handle = await _request(workflow_env, journey_settings, db, "C-R3")
        await workflow_env.sleep(timedelta(days=6, hours=1))
        await smtp_sink.wait_for(2)
        await handle.signal("survey_answered")
        assert await handle.result() == "goal_met"
    assert subjects(smtp_sink.messages) == ["review_request C-R3", "review_reminder C-R3"]


async def test_an_opt_out_before_the_request_sends_nothing(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    journey_config: Path,
    smtp_sink: SmtpSink,
) -> None:
    async with journey_worker(workflow_env.client, journey_settings, db, journey_config):
        _, handle = await _request(workflow_env, journey_settings, db, "C-R4")
        await handle.signal("opted_out")
        assert await handle.result() == "opted_out"
    assert smtp_sink.messages == []

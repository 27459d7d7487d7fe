"""`careflow journeys cancel --rule ID`: real journeys on the test server, cancelled and ended."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from careflow.cli import app
from careflow.config import Settings
from careflow.contracts import JourneyInput
from careflow.rule_impact import cancel_journeys, running_journeys_of_rule
from careflow.store import Customer, Database, JourneyRecord, create_database
from careflow.workflows.retention_offer import RetentionOfferWorkflow
from tests.smtp_sink import SmtpSink
from tests.workflows.conftest import write_journey_config
from tests.workflows.harness import (
    add_customer,
    journey_outcome,
    journey_worker,
    new_id,
    write_templates,
)


async def record(db: Database, workflow_id: str, rule_id: str, customer: str, at: datetime) -> None:
    """The journey row the dispatcher writes when a rule starts a journey."""
    async with db.session() as session:
        found = await session.scalar(select(Customer.id).where(Customer.external_id == customer))
        session.add(
            JourneyRecord(
                workflow_id=workflow_id,
                journey="retention_offer",
                customer_id=found,
                rule_id=rule_id,
                ruleset_hash="h",
                status="running",
                started_at=at,
            )
        )


async def test_cancel_stops_the_rules_journeys_only(
    workflow_env: WorkflowEnvironment,
    db: Database,
    settings: Settings,
    tmp_path: Path,
    smtp_sink: SmtpSink,
) -> None:
    journey_settings = settings.model_copy(
        update={"templates_dir": write_templates(tmp_path / "templates")}
    )
    config = write_journey_config(tmp_path / "journeys.yaml")
    client = workflow_env.client
    now = await workflow_env.get_current_time()
    handles = {}
    async with journey_worker(client, journey_settings, db, config):
        for customer, rule in (("C-1", "old-rule"), ("C-2", "old-rule"), ("C-3", "other-rule")):
            await add_customer(db, customer, now=now, tier="regular")
            workflow_id = new_id(f"retention_offer-{customer}")
            await record(db, workflow_id, rule, customer, now)
            handles[customer] = await client.start_workflow(
                RetentionOfferWorkflow.run,
                JourneyInput(customer_id=customer, rule_id=rule, ruleset_hash="h"),
                id=workflow_id,
                task_queue=journey_settings.task_queue,
            )
        ghost = new_id("retention_offer-C-1-never-started")
        await record(db, ghost, "old-rule", "C-1", now)
        await smtp_sink.wait_for(3)  # every journey sent its offer and now waits

        records = await running_journeys_of_rule(db, "old-rule")
        cancelled = await cancel_journeys(db, client, records)

        assert cancelled == [handles["C-1"].id, handles["C-2"].id]
        for customer in ("C-1", "C-2"):
            with pytest.raises(WorkflowFailureError) as failure:
                await handles[customer].result()
            assert isinstance(failure.value.cause, CancelledError)
            assert await journey_outcome(db, handles[customer].id) == ("ended", "cancelled")
        # Temporal never knew it: it is simply no longer running.
        assert await journey_outcome(db, ghost) == ("ended", None)
        other = await handles["C-3"].describe()
        assert other.status == WorkflowExecutionStatus.RUNNING
        assert await journey_outcome(db, handles["C-3"].id) == ("running", None)
        await handles["C-3"].terminate("test over")


@pytest.fixture
async def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("CAREFLOW_DATABASE_URL", raising=False)
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'careflow.db'}")
    await db.migrate()
    at = datetime.fromisoformat("2026-11-01T08:00:00+00:00")
    await add_customer(db, "C-9", now=at)
    await record(db, new_id("retention_offer-C-9"), "old-rule", "C-9", at)
    await db.dispose()
    return tmp_path


def test_cli_cancel_says_what_it_did(
    home: Path, workflow_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    nothing = runner.invoke(app, ["journeys", "cancel", "--rule", "no-such-rule", "--yes"])
    assert nothing.exit_code == 0, nothing.output
    assert "no running journey was started by rule 'no-such-rule'" in nothing.output

    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    unreachable = runner.invoke(app, ["journeys", "cancel", "--rule", "old-rule", "--yes"])
    assert unreachable.exit_code == 2
    assert "cannot reach Temporal at 127.0.0.1:1" in unreachable.output

    declined = runner.invoke(app, ["journeys", "cancel", "--rule", "old-rule"], input="n\n")
    assert declined.exit_code == 1
    assert "Cancel 1 running journey(s) of rule 'old-rule'?" in declined.output

    monkeypatch.setenv("TEMPORAL_ADDRESS", workflow_env.client.service_client.config.target_host)
    done = runner.invoke(app, ["journeys", "cancel", "--rule", "old-rule", "--yes"])
    assert done.exit_code == 0, done.output
    # The workflow id was recorded but never started: it has ended already.
    assert "cancelled 0 journey(s) of rule old-rule; 1 had already ended" in done.output
    again = runner.invoke(app, ["journeys", "cancel", "--rule", "old-rule", "--yes"])
    assert "no running journey" in again.output

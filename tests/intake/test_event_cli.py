"""`careflow event`: the same intake as `POST /events`, from a terminal."""

from __future__ import annotations

from pathlib import Path

from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from careflow.cli import app


def env(tmp_path: Path, temporal: str) -> dict[str, str]:
    return {
        "CAREFLOW_HOME": str(tmp_path / "var"),
        "CAREFLOW_DATABASE_URL": "",
        "TEMPORAL_ADDRESS": temporal,
    }


def test_bad_data_is_named_before_anything_is_sent(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["event", "complaint_opened", "c-1", "--data", '{"severity": "urgent"}'],
        env=env(tmp_path, "127.0.0.1:1"),
    )
    assert result.exit_code == 1
    assert "data.complaint_id: Field required" in result.output
    assert "data.severity: Input should be 'low', 'medium', 'high' or 'critical'" in result.output
    assert not (tmp_path / "var" / "careflow.db").exists(), "nothing written"


def test_an_event_is_accepted_once(tmp_path: Path, workflow_env: WorkflowEnvironment) -> None:
    temporal = workflow_env.client.service_client.config.target_host
    command = ["event", "complaint_opened", "c-1", "--data", '{"complaint_id": "k-1"}']
    command += ["--event-id", f"cli-{tmp_path.name}", "--at", "2026-11-23T10:00:00+08:00"]
    first = CliRunner().invoke(app, command, env=env(tmp_path, temporal))
    second = CliRunner().invoke(app, command, env=env(tmp_path, temporal))
    assert first.exit_code == 0, first.output
    assert f"cli-{tmp_path.name}: accepted" in first.output
    assert "duplicate, already accepted" in second.output
    # The same id for another event (another time) is refused, not dropped as a duplicate.
    other = CliRunner().invoke(
        app, [*command[:-1], "2026-11-24T10:00:00+08:00"], env=env(tmp_path, temporal)
    )
    assert other.exit_code == 1
    assert "was already used for a different event (it differs in occurred_at)" in other.output

"""`GET /kpis` and `careflow kpis` show the report that `compute_kpis` computes."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.cli import app
from careflow.config import Settings, load_settings
from careflow.kpis import KpiReport, compute_kpis, kpi_settings
from careflow.store import Database, create_database
from tests.kpis.history import SINCE, UNTIL, random_history, write_history


def as_json(value: object) -> object:
    return json.loads(json.dumps(value, default=str))


async def test_api_serves_the_report(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> None:
    await write_history(db, random_history(seed=11))
    state = ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key)
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow") as client:
        response = await client.get(
            "/kpis",
            params={
                "since": "2026-10-01",
                "until": "2026-11-01",
                "good_score": 5,
                "timezone": "UTC",
            },
        )
        backwards = await client.get("/kpis", params={"since": "2026-11-02", "until": "2026-11-01"})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = await compute_kpis(
        db, SINCE, UNTIL, kpi_settings(load_settings().rules_dir, good_score=5)
    )
    assert body["satisfaction"]["good_score"] == 5
    assert body["churn_by_tier"] == as_json([asdict(row) for row in expected.churn_by_tier])
    assert body["retention_offer"] == as_json(asdict(expected.retention_offer))
    assert body["messages_by_status"] == expected.messages_by_status
    assert backwards.status_code == 422


@pytest.fixture
async def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("CAREFLOW_DATABASE_URL", raising=False)
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'careflow.db'}")
    await db.migrate()
    await write_history(db, random_history(seed=11))
    await db.dispose()
    return tmp_path


async def _expected_report(home: Path) -> KpiReport:
    db = create_database(f"sqlite+aiosqlite:///{home / 'careflow.db'}")
    try:
        return await compute_kpis(db, SINCE, UNTIL, kpi_settings(load_settings().rules_dir))
    finally:
        await db.dispose()


def test_cli_json_and_tables(home: Path) -> None:
    period = ["--since", "2026-10-01", "--until", "2026-11-01T00:00:00+00:00", "--timezone", "UTC"]
    result = CliRunner().invoke(app, ["kpis", *period, "--json"])
    assert result.exit_code == 0, result.output
    expected = asyncio.run(_expected_report(home))
    assert json.loads(result.output) == {**as_json(asdict(expected)), "timezone": "UTC"}
    tables = CliRunner().invoke(app, ["kpis", *period])
    assert tables.exit_code == 0, tables.output
    for words in ("satisfaction (score >= 4)", "churn by tier", "holdout", "quiet_hours"):
        assert words in tables.output
    backwards = CliRunner().invoke(app, ["kpis", "--since", "2026-12-01", "--until", "2026-11-01"])
    assert backwards.exit_code == 2
    assert "is not before" in backwards.output

"""`careflow kpis` shows each experiment: its arms, comparisons and verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from careflow.cli import app
from careflow.store import create_database
from tests.experiments.test_results import JOURNEY_EXPERIMENT, seed

PERIOD = ["--since", "2031-02-28", "--until", "2031-03-30", "--timezone", "UTC"]


@pytest.fixture
async def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("CAREFLOW_DATABASE_URL", raising=False)
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'careflow.db'}")
    await db.migrate()
    await seed(db)
    await db.dispose()
    return tmp_path


def test_kpis_tables_and_json_show_experiments(home: Path) -> None:
    tables = CliRunner().invoke(app, ["kpis", *PERIOD])
    assert tables.exit_code == 0, tables.output
    assert "verdict: sample too small to call a winner" in tables.output
    assert "a vs b:" in tables.output
    assert "a vs holdout:" in tables.output

    result = CliRunner().invoke(app, ["kpis", *PERIOD, "--json"])
    assert result.exit_code == 0, result.output
    experiments = {x["experiment"]: x for x in json.loads(result.output)["experiments"]}
    journey = experiments[JOURNEY_EXPERIMENT]
    assert journey["verdict"] == "sample too small to call a winner"
    assert [(arm["name"], arm["sent"], arm["reached"]) for arm in journey["variants"]] == [
        ("a", 2, 1),
        ("b", 2, 1),
    ]
    assert journey["holdout"]["name"] == "holdout"

"""The rules page follows the rule files as the worker does: a broken edit shows each
mistake with its file:line:col while the last good rule set stays live."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.store import Database
from tests.console.conftest import log_in
from tests.console.seed import Seeded
from tests.rules.test_operator_file_bounds import billion_laughs

RULES = Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture
def rules_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the operator files the test may break; the console reads it."""
    folder = tmp_path / "rules"
    folder.mkdir()
    for path in RULES.glob("*.yaml"):
        shutil.copy(path, folder / path.name)
    monkeypatch.setenv("CAREFLOW_RULES_DIR", str(folder))
    return folder


async def test_a_broken_edit_shows_its_mistakes_and_the_last_good_rules_stay(
    rules_copy: Path,
    db: Database,
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    seeded: Seeded,
) -> None:
    app = create_app(ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key))
    # Look at the files on every request instead of at most once a second.
    app.state.careflow_console.rulebook.check_interval = 0
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        assert (await log_in(client, "vera")).status_code == 303
        good = (await client.get("/console/rules")).text
        assert 'data-testid="rule-error"' not in good
        assert 'data-testid="loaded-at"' in good

        path = rules_copy / "retention.rules.yaml"
        lines = path.read_text(encoding="utf-8").splitlines()
        broken_line = next(n for n, line in enumerate(lines, 1) if "priority:" in line)
        lines[broken_line - 1] = lines[broken_line - 1].split("priority:")[0] + "priority: soon"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

        broken = (await client.get("/console/rules")).text
        assert f"retention.rules.yaml:{broken_line}:" in broken
        assert 'data-testid="rule-error"' in broken
        assert "The newest edit was rejected" in broken
        # The rules that were live before the edit are still listed, as still running.
        live = good.split("Live rule set ", 1)[1][:12]
        assert f"Live rule set {live}" in broken
        assert 'data-rule="vip-declining-frequency"' in broken


async def test_a_billion_laughs_rule_file_leaves_the_rules_page_small(
    rules_copy: Path,
    db: Database,
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    seeded: Seeded,
) -> None:
    app = create_app(ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key))
    app.state.careflow_console.rulebook.check_interval = 0
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        assert (await log_in(client, "vera")).status_code == 303
        good = (await client.get("/console/rules")).text
        laughs = rules_copy / "laughs.rules.yaml"
        laughs.write_text(billion_laughs(), encoding="utf-8")
        broken = (await client.get("/console/rules")).text
    assert "laughs.rules.yaml:4:10: YAML syntax: aliases (*l0) are not allowed" in broken
    # One mistake more than the good page, not millions of expanded values.
    assert len(broken) < len(good) + 2000

"""A draft backtested against the active release over the store's last days, on a sample
of its customers: the numbers stored on the release are `careflow simulate --compare`'s
over the same sample."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from careflow.config import Settings
from careflow.console.roles import Role
from careflow.releases.backtest import backtest_release
from careflow.releases.lifecycle import Actor, ReviewPolicy, activate, propose_folder
from careflow.releases.repository import get_release
from careflow.store import Database, create_database
from tests.releases.folders import operator_folder
from tests.workflows.harness import add_complaint, add_customer


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Database]:
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'careflow.db'}")
    await db.migrate()
    yield db
    await db.dispose()


async def test_backtest_numbers_are_simulate_compare_over_the_same_sample(
    store: Database, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    for number in range(1, 5):
        await add_customer(store, f"bt-{number}", now=now - timedelta(days=60))
    for number in (1, 2):
        await add_complaint(
            store,
            f"bt-{number}",
            f"bt-k{number}",
            opened_at=now.replace(hour=0, minute=0) - timedelta(days=1, hours=-3),
            severity="low",
        )
    cache = tmp_path / "cache"
    active_rules, active_templates = operator_folder(tmp_path / "active")
    active = await propose_folder(store, active_rules, active_templates, actor="a", cache_dir=cache)
    await activate(
        store,
        active.release_id,
        actor=Actor("b", Role.ADMIN),
        policy=ReviewPolicy(),
        cache_dir=cache,
    )
    draft_rules, draft_templates = operator_folder(tmp_path / "draft")
    path = draft_rules / "complaints.rules.yaml"
    path.write_text(
        path.read_text().replace(
            "  - id: acknowledge-new-complaint\n",
            "  - id: acknowledge-new-complaint\n    enabled: false\n",
        )
    )
    draft = await propose_folder(store, draft_rules, draft_templates, actor="a", cache_dir=cache)
    assert draft.check.passed, draft.check.problems

    settings = Settings(home=tmp_path / "var")
    result = await backtest_release(
        store, draft.release_id, settings=settings, actor="a", sample=10, days=2
    )
    assert (result["sample"], result["days"]) == (4, 2)
    by_journey = {row["journey"]: row for row in result["journeys"]}
    assert by_journey["complaint_escalation"] == {
        "journey": "complaint_escalation",
        "newly": 0,
        "no_longer": 2,
    }
    stored = await get_release(store, draft.release_id)
    assert stored.backtest is not None
    assert stored.backtest["comparison"]["messages_change"] < 0

    # The command the result names, run as an operator runs it, gives the same comparison.
    out = tmp_path / "simulate.json"
    env = {**os.environ, "CAREFLOW_HOME": str(tmp_path / "simulate-home")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "careflow",
        *result["command"].split()[1:],
        "--json",
        str(out),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    simulated = json.loads(out.read_text())
    for key in ("journeys", "rules", "messages_per_day_change", "messages_change"):
        assert simulated[key] == stored.backtest["comparison"][key], key
    assert (
        simulated["offer_value_sent_change"]
        == stored.backtest["comparison"]["offer_value_sent_change"]
    )

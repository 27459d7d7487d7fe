"""While the demo's history is being built (or was stopped), every console page says so;
once it is in, nothing is said."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from careflow.demo.history import HistoryStatus, write_status
from tests.console.seed import Seeded


@pytest.fixture
def home() -> Path:
    """The home folder the console's settings name (each test's own)."""
    return Path(os.environ["CAREFLOW_HOME"]).resolve()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_the_console_says_while_the_history_is_being_built(
    logged_in: dict[str, httpx.AsyncClient], seeded: Seeded, home: Path
) -> None:
    vera = logged_in["vera"]
    assert 'data-testid="demo-history"' not in (await vera.get("/console/")).text

    write_status(home, HistoryStatus("building", 12))
    for page in ("/console/", "/console/tasks?lang=zh-CN"):
        text = (await vera.get(page)).text
        assert 'data-testid="demo-history" data-state="building"' in text
    assert "day 12 of 49" in (await vera.get("/console/customers?lang=en")).text

    write_status(home, HistoryStatus("stopped"))
    assert "careflow up --demo" in (await vera.get("/console/")).text

    write_status(home, HistoryStatus("done", 49))
    assert 'data-testid="demo-history"' not in (await vera.get("/console/rules")).text

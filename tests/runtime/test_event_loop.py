"""The service processes' event loop: uvloop where installed, asyncio's on request."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from careflow.config import load_settings
from careflow.runtime.event_loop import EventLoopName, chosen_loop, run_on
from tests.runtime.test_services import one_line_error
from tests.subprocesses import run_careflow


def loop_module_running(loop: EventLoopName) -> str:
    """The module of the loop class `run_on(loop, ...)` ran a coroutine on."""
    seen: list[str] = []

    async def note() -> None:
        seen.append(type(asyncio.get_running_loop()).__module__)

    run_on(loop, note())
    return seen[0]


def test_services_run_on_uvloop_unless_told_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CAREFLOW_EVENT_LOOP", raising=False)
    assert loop_module_running(chosen_loop(load_settings().event_loop)).startswith("uvloop")
    monkeypatch.setenv("CAREFLOW_EVENT_LOOP", " Asyncio ")
    assert loop_module_running(chosen_loop(load_settings().event_loop)).startswith("asyncio")


def test_an_unknown_loop_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREFLOW_EVENT_LOOP", "libuv")
    with pytest.raises(ValidationError, match="event_loop"):
        load_settings()


def test_a_service_started_with_an_unknown_loop_says_so_in_one_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CAREFLOW_HOME": str(tmp_path / "var"),
        "CAREFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'careflow.db'}",
        "CAREFLOW_EVENT_LOOP": "libuv",
    }
    said = one_line_error(run_careflow("api", env=env))
    assert said == (
        "careflow: CAREFLOW_EVENT_LOOP: Input should be 'uvloop' or 'asyncio' (got 'libuv')"
    )
    assert not (tmp_path / "var").exists()  # refused before anything was written

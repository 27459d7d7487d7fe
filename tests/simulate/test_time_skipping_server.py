"""The test server a simulated partition runs on: its clock moves only when told, and
it is gone once stopped, or once it could not start."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest

from careflow.simulate import time_skipping
from careflow.simulate.time_skipping import (
    START_ATTEMPTS,
    TimeSkippingServer,
    TimeSkippingServerError,
)
from tests.core_log_worker import run_one_workflow


async def test_the_clock_moves_by_the_skip_and_the_server_stops(tmp_path: Path) -> None:
    server = await TimeSkippingServer.start(tmp_path / "test-server.log")
    try:
        before = await server.current_time()
        await server.skip(timedelta(days=3), rpc_timeout=timedelta(minutes=1))
        after = await server.current_time()
    finally:
        await server.stop()
    # The server's clock runs on by itself too, so at least the three days passed.
    assert timedelta(days=3) <= after - before < timedelta(days=3, minutes=1)
    assert server.process.poll() is not None


async def test_a_server_that_cannot_start_names_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A binary that exits at once, as the server does when its port was taken.
    broken = tmp_path / "temporal-test-server"
    broken.write_text("#!/bin/sh\necho 'cannot bind' >&2\nexit 3\n", encoding="utf-8")
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(time_skipping, "temporal_test_server_path", lambda: broken)
    log = tmp_path / "logs" / "test-server.log"
    with pytest.raises(TimeSkippingServerError) as raised:
        await TimeSkippingServer.start(log)
    assert str(log) in str(raised.value)
    assert f"{START_ATTEMPTS} times" in str(raised.value)
    assert "code 3" in str(raised.value)
    assert log.read_text(encoding="utf-8").count("cannot bind") == START_ATTEMPTS


def test_a_worker_on_the_test_server_prints_nothing_about_the_servers_age(
    tmp_path: Path,
) -> None:
    # The test server predates a capability the SDK core checks for when a worker
    # starts, and the core said so on standard output (its own log format, colours
    # and all), once per partition of every `careflow simulate`: into a report piped
    # to a file, and about nothing an operator can act on.
    ran = run_one_workflow(tmp_path / "test-server.log", as_commands_connect=False)
    assert ran.returncode == 0, ran.stderr
    # Nor anything at all on standard output, where a report may be going.
    assert ran.stdout == ""
    assert "activity_failure_include_heartbeat" not in ran.stderr

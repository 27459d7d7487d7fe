"""No careflow process prints the Temporal SDK core's log lines on standard output.

The SDK's own default runtime writes them there, in the core's format and colours:
into a command's output piped to a file. Every client careflow connects runs on a
runtime that hands them to Python logging instead (careflow/temporal_runtime.py).
"""

from __future__ import annotations

from pathlib import Path

from tests.core_log_worker import run_one_workflow


def test_the_core_warns_through_python_logging_not_on_standard_output(tmp_path: Path) -> None:
    # A worker whose client was connected as careflow's commands connect (no runtime
    # of its own), on a test server, whose age the core warns about.
    ran = run_one_workflow(tmp_path / "test-server.log", as_commands_connect=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == ""
    # The warning is still told, as a log record of the core's logger.
    assert "temporalio.core" in ran.stderr
    assert " WARNING " in ran.stderr
    assert "activity_failure_include_heartbeat" in ran.stderr

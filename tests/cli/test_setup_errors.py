"""Setup mistakes as an operator meets them: one line naming what to check, exit 2,
no traceback, and nothing written; from any command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from careflow.cli.app import app
from tests.runtime.test_services import one_line_error, run
from tests.smtp_sink import free_port


async def test_a_setting_that_does_not_parse_names_its_variable(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CAREFLOW_HOME": str(tmp_path / "var"),
        "CAREFLOW_METRICS_HTTP": "nonsense",
        "CAREFLOW_LOG_FORMAT": "xml",
    }
    said = one_line_error(await run(env, "worker"))
    assert said.startswith("careflow: CAREFLOW_METRICS_HTTP: ")
    assert "(got 'nonsense'); CAREFLOW_LOG_FORMAT: " in said
    assert said.endswith("(got 'xml')")
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize("command", [("db", "upgrade"), ("import", "customers", "/dev/null")])
async def test_a_store_out_of_reach_names_the_database_url(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    env = {
        **os.environ,
        "CAREFLOW_HOME": str(tmp_path / "var"),
        "CAREFLOW_DATABASE_URL": f"postgresql://careflow@127.0.0.1:{free_port()}/careflow",
    }
    said = one_line_error(await run(env, *command))
    assert said.startswith("careflow: cannot reach the store: ")
    assert said.endswith(" — check CAREFLOW_DATABASE_URL")


def test_init_refuses_a_file_where_the_project_would_go(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("the team's notes")
    result = CliRunner().invoke(app, ["init", str(target)])
    assert result.exit_code == 1
    assert "would overwrite" in result.output
    assert "nothing was written" in result.output
    assert target.read_text() == "the team's notes"


async def test_a_capture_url_that_is_not_http_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "CAREFLOW_HOME": str(tmp_path / "var"),
        "CAREFLOW_CAPTURE_URL": "127.0.0.1:8026",
    }
    said = one_line_error(await run(env, "up"))
    assert said == (
        "careflow: CAREFLOW_CAPTURE_URL: Value error, expected an http(s) URL,"
        " e.g. http://127.0.0.1:8026 (got '127.0.0.1:8026')"
    )
    assert not (tmp_path / "var").exists()

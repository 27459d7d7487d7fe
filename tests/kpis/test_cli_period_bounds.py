"""A CLI time off the calendar is a usage error naming the value, not a traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from careflow.cli import app


@pytest.mark.parametrize(
    "arguments",
    [
        ["kpis", "--since", "0001-01-01"],
        ["kpis", "--until", "0001-01-01T00:30:00+01:00"],
        ["kpis", "--since", "9999-12-31T23:59:59-01:00"],
        ["facts", "c1", "--at", "0001-01-01T00:00:00+01:00"],
        ["rules", "explain", "c1", "--at", "9999-12-31"],
    ],
)
def test_times_off_the_calendar_are_usage_errors(arguments: list[str]) -> None:
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "between the years 1900 and 2200" in " ".join(result.output.replace("│", " ").split())

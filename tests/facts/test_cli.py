"""`careflow facts CUSTOMER_ID [--at] [--json]` against a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from careflow.cli import app
from careflow.intake.importer import import_file
from careflow.store import create_database

DATA = Path(__file__).parent / "data"


@pytest.fixture
async def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CAREFLOW_HOME whose store holds the CDNOW customers and orders."""
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("CAREFLOW_DATABASE_URL", raising=False)
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'careflow.db'}")
    await db.migrate()
    await import_file(db, DATA / "cdnow_customers.csv", "customers")
    await import_file(db, DATA / "cdnow_orders.csv", "orders")
    await db.dispose()
    return tmp_path


def test_json_facts_as_of_a_time(home: Path) -> None:
    result = CliRunner().invoke(app, ["facts", "cdnow-00004", "--at", "1998-01-01", "--json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)
    # cdnow-00004 ordered on 1997-01-01, -01-18, -08-02 and -12-12.
    assert facts["order_count"] == 4
    assert facts["days_since_last_order"] == 20
    assert facts["avg_order_interval_days"] == round(345 / 3, 2)
    assert facts["locale"] == "en-US"


def test_table_lists_facts_with_their_meaning(home: Path) -> None:
    result = CliRunner().invoke(app, ["facts", "cdnow-00004", "--at", "1998-01-01T00:00:00+00:00"])
    assert result.exit_code == 0, result.output
    assert "days_since_last_order" in result.output
    assert "Whole days since" in result.output


def test_unknown_customer_and_bad_time(home: Path) -> None:
    unknown = CliRunner().invoke(app, ["facts", "nobody"])
    assert unknown.exit_code == 1
    assert "no customer 'nobody'" in unknown.output
    bad_time = CliRunner().invoke(app, ["facts", "cdnow-00004", "--at", "yesterday"])
    assert bad_time.exit_code == 2
    assert "ISO 8601" in bad_time.output

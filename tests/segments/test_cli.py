"""`careflow segments list` and `careflow segments count NAME [--at] [--sample]` against a
real SQLite store holding the CDNOW customers and orders."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from careflow.cli import app
from careflow.intake.importer import import_file
from careflow.store import create_database

DATA = Path(__file__).parents[1] / "facts" / "data"
SEGMENTS = """\
segments:
  regulars:
    description: Four orders or more.
    when:
      order_count: {at_least: 4}
  big_1997:
    description: Spent over 200 in the last year.
    when: {spend_last_365d: {more_than: 200}}
"""


@pytest.fixture
async def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path))
    monkeypatch.delenv("CAREFLOW_DATABASE_URL", raising=False)
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'careflow.db'}")
    await db.migrate()
    await import_file(db, DATA / "cdnow_customers.csv", "customers")
    await import_file(db, DATA / "cdnow_orders.csv", "orders")
    await db.dispose()
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "segments.yaml").write_text(SEGMENTS, encoding="utf-8")
    return tmp_path


def _regulars_by(day: str) -> list[str]:
    with (DATA / "cdnow_orders.csv").open(encoding="utf-8") as rows:
        orders = Counter(
            row["customer_id"] for row in csv.DictReader(rows) if row["ordered_at"] <= day
        )
    return sorted(customer for customer, count in orders.items() if count >= 4)


def test_list_shows_each_segment_with_its_description(home: Path) -> None:
    result = CliRunner().invoke(app, ["segments", "list", "--rules", str(home / "rules")])
    assert result.exit_code == 0, result.output
    assert "regulars" in result.output
    assert "Four orders or more." in result.output
    assert "order_count is at least 4" in result.output
    listed = CliRunner().invoke(app, ["segments", "list", "--rules", str(home / "rules"), "--json"])
    assert [item["name"] for item in json.loads(listed.output)] == ["regulars", "big_1997"]


def test_count_as_of_a_time_with_a_sample(home: Path) -> None:
    expected = _regulars_by("1997-06-30")
    args = ["segments", "count", "regulars", "--at", "1997-06-30T23:59:59", "--sample", "5"]
    result = CliRunner().invoke(app, [*args, "--rules", str(home / "rules"), "--json"])
    assert result.exit_code == 0, result.output
    counted = json.loads(result.output)
    assert counted["total"] == len(expected) > 5
    assert len(counted["sample"]) == 5
    assert set(counted["sample"]) <= set(expected)
    text = CliRunner().invoke(app, [*args, "--rules", str(home / "rules")])
    assert text.exit_code == 0, text.output
    assert f"regulars: {len(expected):,} of " in text.output
    assert all(customer in text.output for customer in counted["sample"])


def test_an_unknown_segment_or_a_broken_file_exits_2(home: Path) -> None:
    unknown = CliRunner().invoke(
        app, ["segments", "count", "regular", "--rules", str(home / "rules")]
    )
    assert unknown.exit_code == 2
    assert "unknown segment 'regular'" in unknown.output
    assert "regulars, big_1997" in unknown.output
    (home / "rules" / "segments.yaml").write_text(SEGMENTS.replace("order_count", "orders"))
    broken = CliRunner().invoke(app, ["segments", "list", "--rules", str(home / "rules")])
    assert broken.exit_code == 2
    assert "segments.yaml:5:7: unknown fact 'orders'" in broken.output

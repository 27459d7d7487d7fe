"""`careflow simulate --campaign A --campaign B`: who would have received each design at
its start, and the goal reached per variant, against a plain-Python count."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from careflow.cli import app
from careflow.experiments.assign import assign_variant, in_holdout
from careflow.paths import RULES_DIR

CDNOW = Path(__file__).parents[1] / "facts" / "data"
SEGMENTS = """\
segments:
  regulars:
    description: Two orders or more.
    when:
      order_count: {at_least: 2}
"""
DESIGN_A = """\
description: Design A, two variants
segment: regulars
topic: marketing
variants:
  short: {template: member_day, weight: 1}
  long: {template: member_day, weight: 1}
send_window: {from: "09:00", to: "21:00"}
holdout: 0.2
goal: {event: order_placed, within: 30d}
start: "1997-06-01T10:00:00+00:00"
"""
DESIGN_B = """\
description: Design B, one template
segment: regulars
topic: marketing
template: member_day
send_window: {from: "09:00", to: "21:00"}
holdout: 0.1
goal: {event: order_placed, within: 14d}
start: "1997-06-01T10:00:00+00:00"
"""


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """The CDNOW customers (with an address each) and orders, and a rules folder with
    a segment and two campaign designs."""
    data = tmp_path / "data"
    data.mkdir()
    with (CDNOW / "cdnow_customers.csv").open(encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    with (data / "customers.csv").open("w", encoding="utf-8", newline="") as target:
        writer = csv.DictWriter(target, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**row, "email": f"{row['customer_id']}@example.com"} for row in rows)
    shutil.copy(CDNOW / "cdnow_orders.csv", data / "orders.csv")
    rules = tmp_path / "rules"
    rules.mkdir()
    for path in RULES_DIR.glob("*.yaml"):
        shutil.copy(path, rules / path.name)
    (rules / "segments.yaml").write_text(SEGMENTS, encoding="utf-8")
    (rules / "campaigns").mkdir()
    (rules / "campaigns" / "design_a.campaign.yaml").write_text(DESIGN_A, encoding="utf-8")
    (rules / "campaigns" / "design_b.campaign.yaml").write_text(DESIGN_B, encoding="utf-8")
    return data, rules


def _expected(
    weights: dict[str, int], holdout: float, experiment: str, goal_days: int
) -> dict[str, tuple[int, int]]:
    """group -> (customers, reached the goal), counted from the CSV in plain Python."""
    with (CDNOW / "cdnow_orders.csv").open(encoding="utf-8") as rows:
        orders = [
            (row["customer_id"], date.fromisoformat(row["ordered_at"]))
            for row in csv.DictReader(rows)
        ]
    start = date(1997, 6, 1)  # 10:00 UTC: that day's orders (midnight) are before it
    before: dict[str, int] = {}
    for customer, day in orders:
        if day <= start:
            before[customer] = before.get(customer, 0) + 1
    members = sorted(customer for customer, count in before.items() if count >= 2)
    reached = {
        customer for customer, day in orders if 0 < (day - start).days <= goal_days
    }  # (start, start + window]: up to the same 10:00, so whole days count
    groups: dict[str, tuple[int, int]] = {}
    for customer in members:
        group = (
            "holdout"
            if in_holdout(experiment, customer, holdout)
            else assign_variant(experiment, customer, weights)
        )
        customers, hits = groups.get(group, (0, 0))
        groups[group] = (customers + 1, hits + (customer in reached))
    return groups


def test_two_designs_compared_on_the_same_customers(
    folders: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path / "var"))
    data, rules = folders
    out = tmp_path / "campaigns.json"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            *("--data", str(data), "--rules", str(rules), "--assume-consent"),
            *("--campaign", "design_a", "--campaign", "design_b", "--json", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "campaign design_a at 1997-06-01T10:00:00+00:00" in result.output
    assert "goal reached per variant" in result.output
    a, b = json.loads(out.read_text(encoding="utf-8"))
    for shown, weights, holdout, days in (
        (a, {"short": 1, "long": 1}, 0.2, 30),
        (b, {"main": 1}, 0.1, 14),
    ):
        expected = _expected(weights, holdout, f"campaign:{shown['campaign']}", days)
        assert shown["excluded"] == {}  # every member has an address and consent
        got = {
            name: (group["customers"], group["reached_goal"])
            for name, group in shown["variants"].items()
        }
        got["holdout"] = (shown["holdout"]["customers"], shown["holdout"]["reached_goal"])
        assert got == expected
        assert shown["audience"] == sum(customers for customers, _ in expected.values())
        assert any(hits for _, hits in expected.values())  # the goal is met by someone


def test_without_consent_marketing_is_excluded_by_reason(
    folders: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path / "var"))
    data, rules = folders
    out = tmp_path / "campaign.json"
    args = ["simulate", "--data", str(data), "--rules", str(rules), "--campaign", "design_b"]
    result = CliRunner().invoke(app, [*args, "--from", "1997-05-01", "--json", str(out)])
    assert result.exit_code == 0, result.output
    [shown] = json.loads(out.read_text(encoding="utf-8"))
    assert shown["at"].startswith("1997-05-01 10:00:00")
    assert shown["variants"]["main"]["customers"] == 0
    assert shown["excluded"] == {
        "no_marketing_consent": shown["audience"] - shown["holdout"]["customers"]
    }


def test_an_unknown_campaign_exits_2_naming_the_known_ones(
    folders: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path / "var"))
    data, rules = folders
    result = CliRunner().invoke(
        app, ["simulate", "--data", str(data), "--rules", str(rules), "--campaign", "design_c"]
    )
    assert result.exit_code == 2
    assert "design_a, design_b" in result.output

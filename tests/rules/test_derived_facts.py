"""Derived facts in rule files: typed like built-in facts, every mistake at its line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from careflow.cli import app
from careflow.paths import RULES_DIR
from careflow.rule_references import shipped_references
from careflow.rules.errors import RuleFileError
from careflow.rules.rulebook import load_rulebook

EVENTS = """\
events:
  points_earned:
    properties:
      points: {type: number, required: true}
      note: {type: string}
"""
DERIVED = """\
facts:
  complaints_last_7d: {count: complaint_opened, within: 7d}
  points_last_30d:
    sum: points_earned.points
    within: 30d
"""
RULES = """\
name: loyalty
owner: care
description: Points.
mode: all_matches
rules:
  - id: vip-repeat
    description: VIPs who complain again.
    when:
      tier: vip
      complaints_last_7d: {at_least: 2}
    then:
      - tag: repeat-complaints
    examples:
      - given: {tier: vip, complaints_last_7d: 2}
        expect: [tag repeat-complaints]
      - given: {tier: vip, complaints_last_7d: 1}
        expect: []
  - id: points-as-tier
    description: A mistake.
    when:
      points_last_30d: {is: vip}
      event_type: points_earned
    then:
      - tag: points
    examples:
      - given: {points_last_30d: 10}
        expect: []
"""


def folder(tmp_path: Path, derived: str = DERIVED, rules: str = RULES) -> Path:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for name in ("journeys.yaml", "tiers.yaml", "outreach_policy.yaml", "holdout.yaml"):
        shutil.copy(RULES_DIR / name, rules_dir / name)
    (rules_dir / "events.yaml").write_text(EVENTS, encoding="utf-8")
    (rules_dir / "derived_facts.yaml").write_text(derived, encoding="utf-8")
    (rules_dir / "loyalty.rules.yaml").write_text(rules, encoding="utf-8")
    return rules_dir


def test_a_derived_fact_used_against_its_type_is_named(tmp_path: Path) -> None:
    rules_dir = folder(tmp_path)
    with pytest.raises(RuleFileError) as error:
        load_rulebook(rules_dir, references=shipped_references())
    shown = [str(problem) for problem in error.value.errors]
    assert shown == [
        f"{rules_dir}/loyalty.rules.yaml:21:29: points_last_30d is number: expected a number, "
        "got the text 'vip' (numbers are written without quotes)"
    ]


def test_declared_events_and_derived_facts_are_known_to_rules(tmp_path: Path) -> None:
    fixed = RULES.replace("points_last_30d: {is: vip}", "points_last_30d: {at_least: 100}")
    rulebook = load_rulebook(folder(tmp_path, rules=fixed), references=shipped_references())
    assert "points_earned" in rulebook.facts["event_type"].values
    fired = rulebook.evaluate(
        {
            "tier": "vip",
            "complaints_last_7d": 3,
            "points_last_30d": 150.0,
            "event_type": "points_earned",
        }
    )
    assert sorted(outcome.rule_id for outcome in fired.outcomes) == ["points-as-tier", "vip-repeat"]


@pytest.mark.parametrize(
    ("derived", "where", "words"),
    [
        (
            "facts:\n  x: {count: parcel_lost, within: 7d}\n",
            "derived_facts.yaml:2:3: facts.x: ",
            "unknown event 'parcel_lost' (expected one of: order_placed",
        ),
        (
            "facts:\n  x: {sum: points_earned.note, within: 7d}\n",
            "derived_facts.yaml:2:3: facts.x: ",
            "sum needs a number property",
        ),
        (
            "facts:\n  x:\n    count: order_placed\n    within: 7 weeks\n",
            "derived_facts.yaml:4:5: facts.x.within: ",
            "expected a duration such as 7d, 24h or 90m",
        ),
        (
            "facts:\n  x: {count: complaint_opened, where: {severity: urgent}}\n",
            "derived_facts.yaml:2:3: facts.x: ",
            "where: severity is one of low, medium, high, critical, got 'urgent'",
        ),
        (
            "facts:\n  order_count: {count: order_placed}\n",
            "derived_facts.yaml:2:3: facts.order_count.[key]: ",
            "is a built-in fact",
        ),
    ],
)
def test_mistakes_in_derived_facts_are_named_at_line_and_column(
    tmp_path: Path, derived: str, where: str, words: str
) -> None:
    rules_dir = folder(tmp_path, derived=derived, rules=RULES.split("  - id: points-as-tier")[0])
    with pytest.raises(RuleFileError) as error:
        load_rulebook(rules_dir, references=shipped_references())
    shown = [str(problem) for problem in error.value.errors]
    assert any(line.startswith(f"{rules_dir}/{where}") and words in line for line in shown), shown


def test_rules_check_runs_the_shipped_vip_repeat_complaints_example() -> None:
    result = CliRunner().invoke(app, ["rules", "check"], env={"CAREFLOW_RULES_DIR": str(RULES_DIR)})
    assert result.exit_code == 0, result.output
    rulebook = load_rulebook(RULES_DIR, references=shipped_references())
    rule = next(
        rule
        for ruleset in rulebook.rulesets
        for rule in ruleset.rules
        if rule.id == "vip-repeat-complaints-call"
    )
    assert len(rule.examples) == 3
    assert rulebook.facts["complaints_last_7d"].type == "integer"

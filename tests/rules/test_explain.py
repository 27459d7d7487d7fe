"""`explain`: for every rule, fired or the first failing condition with the actual value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from careflow.cli.rules import failure_words, outcomes_json, outcomes_table
from careflow.rules import RuleBook, load_rulebook
from tests.rules.test_rule_errors import REFERENCES, SHADOWED, VALID


@pytest.fixture
def rulebook(tmp_path: Path) -> RuleBook:
    (tmp_path / "retention.rules.yaml").write_text(VALID)
    (tmp_path / "birthdays.rules.yaml").write_text(SHADOWED.replace("priority: 5", "priority: 20"))
    return load_rulebook(tmp_path, references=REFERENCES)


def by_rule(rulebook: RuleBook, facts: dict[str, object]) -> dict[str, object]:
    return {outcome.rule_id: outcome for outcome in rulebook.explain(facts)}


def test_names_the_failing_condition_and_the_actual_value(rulebook: RuleBook) -> None:
    outcomes = by_rule(rulebook, {"purchase_frequency_change": -0.2, "tier": "regular"})
    declining = outcomes["declining-frequency"]
    assert not declining.fired
    assert declining.failed_condition == "purchase_frequency_change is at most -0.5"
    assert declining.actual_value == -0.2
    assert failure_words(declining) == (
        "failed: purchase_frequency_change is at most -0.5 (actual: -0.2)"
    )


def test_a_missing_fact_is_reported_as_missing(rulebook: RuleBook) -> None:
    outcome = by_rule(rulebook, {"tier": "vip"})["any-birthday"]
    assert outcome.failed_condition == "days_until_birthday between 0 and 3"
    assert outcome.actual_value is None
    assert failure_words(outcome).endswith("(actual: missing)")


def test_a_later_condition_is_named_when_the_first_holds(rulebook: RuleBook) -> None:
    outcome = by_rule(rulebook, {"purchase_frequency_change": -0.9, "tier": "vip"})[
        "declining-frequency"
    ]
    assert outcome.failed_condition == "tier is not vip"
    assert outcome.actual_value == "vip"


def test_first_match_says_which_rule_won(rulebook: RuleBook) -> None:
    outcomes = by_rule(rulebook, {"days_until_birthday": 0, "tier": "vip"})
    assert outcomes["vip-birthday"].fired
    loser = outcomes["any-birthday"]
    assert not loser.fired
    assert loser.failed_condition == (
        "its conditions hold, but rule 'vip-birthday' fired first (this ruleset is first_match)"
    )


def test_fired_rules_list_their_intents_and_matched_facts(rulebook: RuleBook) -> None:
    outcome = by_rule(rulebook, {"purchase_frequency_change": -0.9, "tier": "regular"})[
        "declining-frequency"
    ]
    assert outcome.fired
    assert [intent.label for intent in outcome.intents] == ["start retention_offer"]
    assert outcome.matched_facts == {"purchase_frequency_change": -0.9, "tier": "regular"}


def test_any_group_failure_lists_every_fact(tmp_path: Path) -> None:
    text = VALID.replace(
        "      tier: {is_not: vip}\n",
        "      any: [{tier: vip}, {order_count: {at_least: 10}}]\n",
    ).replace("tier: regular}", "tier: vip}")
    (tmp_path / "retention.rules.yaml").write_text(text)
    rulebook = load_rulebook(tmp_path, references=REFERENCES)
    outcome = by_rule(rulebook, {"purchase_frequency_change": -0.9, "order_count": 2})[
        "declining-frequency"
    ]
    assert outcome.failed_condition == "any of (tier is vip; order_count is at least 10)"
    assert outcome.actual_value == {"tier": None, "order_count": 2}
    assert failure_words(outcome) == (
        "failed: any of (tier is vip; order_count is at least 10) "
        "(actual: tier = missing, order_count = 2)"
    )


def test_disabled_rules_say_so(tmp_path: Path) -> None:
    (tmp_path / "retention.rules.yaml").write_text(
        VALID.replace("    priority: 10\n", "    enabled: false\n")
    )
    rulebook = load_rulebook(tmp_path, references=REFERENCES)
    outcome = by_rule(rulebook, {"purchase_frequency_change": -0.9})["declining-frequency"]
    assert outcome.failed_condition == "the rule is switched off (enabled: false)"
    assert rulebook.evaluate({"purchase_frequency_change": -0.9}).intents == ()


def test_json_and_table_output(rulebook: RuleBook) -> None:
    outcomes = rulebook.explain({"purchase_frequency_change": -0.2})
    document = json.loads(json.dumps(outcomes_json(outcomes)))
    assert {item["rule_id"] for item in document} == {
        "declining-frequency",
        "any-birthday",
        "vip-birthday",
    }
    console = Console(record=True, width=200)
    console.print(outcomes_table(outcomes, "rules for c-1"))
    text = console.export_text()
    assert "purchase_frequency_change is at most -0.5 (actual: -0.2)" in text

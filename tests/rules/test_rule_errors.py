"""Malformed rule files: every mistake is reported at once, at its line and column."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from careflow.paths import RULES_DIR
from careflow.rule_references import staff_teams, webhook_endpoints
from careflow.rules import RuleFileError, load_rulebook
from careflow.rules.references import References
from careflow.rules.rulebook import intents_of

REFERENCES = References(
    {
        "retention_offer": ("order_placed", "opted_out"),
        "complaint_escalation": ("complaint_resolved",),
    },
    frozenset({"retention_offer", "complaint_ack"}),
    Path("templates"),
    subject_journeys=frozenset({"complaint_escalation"}),
)

VALID = """\
name: retention
owner: marketing
description: Win back customers who order less often.
mode: all_matches
rules:
  - id: declining-frequency
    description: Half as many orders as the quarter before.
    priority: 10
    when:
      purchase_frequency_change: {at_most: -0.5}
      tier: {is_not: vip}
    then:
      - start: retention_offer
        params: {campaign: spring}
    examples:
      - given: {purchase_frequency_change: -0.6, tier: regular}
        expect: [start retention_offer]
"""


def errors_for(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "retention.rules.yaml").write_text(text)
    with pytest.raises(RuleFileError) as raised:
        load_rulebook(tmp_path, references=REFERENCES)
    return [str(error).replace(str(tmp_path) + "/", "") for error in raised.value.errors]


def test_a_valid_file_loads(tmp_path: Path) -> None:
    (tmp_path / "retention.rules.yaml").write_text(VALID)
    rulebook = load_rulebook(tmp_path, references=REFERENCES)
    evaluation = rulebook.evaluate({"purchase_frequency_change": -0.75})
    assert [intent.workflow for intent in evaluation.intents] == ["retention_offer"]
    assert evaluation.intents[0].params == {"campaign": "spring"}
    assert len(rulebook.hash) == 64


# One edit of VALID (old text, new text) pairs and every error it must cause, verbatim:
# the messages are the product here, so they are compared whole.
EXACT_ERRORS = {
    "unknown fact names the closest known one": (
        [("      tier: {is_not", "      tire: {is_not")],
        [
            "retention.rules.yaml:11:7: unknown fact 'tire'; did you mean 'tier'? "
            "(facts are listed in rules/README.md; groups are all, any, not)"
        ],
    ),
    "wrong value type says what was expected": (
        [("{at_most: -0.5}", '{at_most: "-0.5"}')],
        [
            "retention.rules.yaml:10:44: purchase_frequency_change is number: expected a "
            "number, got the text '-0.5' (numbers are written without quotes)"
        ],
    ),
    "value outside a closed list": (
        [("{is_not: vip}", "{is_not: vipp}")],
        [
            "retention.rules.yaml:11:22: tier is text: expected one of vip, regular, "
            "potential, got the text 'vipp'; did you mean 'vip'?"
        ],
    ),
    "yaml yes is explained": (
        [("    priority: 10\n", "    enabled: yes\n")],
        [
            "retention.rules.yaml:8:14: enabled: 'yes' is text, not true/false: careflow reads "
            "YAML 1.2, where only true and false are booleans; write true or false"
        ],
    ),
    "unknown journey": (
        [("start: retention_offer", "start: retention_ofer")],
        [
            "retention.rules.yaml:13:16: unknown journey 'retention_ofer'; did you mean "
            "'retention_offer'? (known journeys: complaint_escalation, retention_offer)",
        ],
    ),
    # A parameter that would be accepted and then ignored is refused (issue 16, class 7).
    "a template param is refused: journeys.yaml sets templates": (
        [("{campaign: spring}", "{template: retention_offer}")],
        [
            "retention.rules.yaml:14:18: param 'template' is not used: a journey's messages "
            "and their templates are set in journeys.yaml (e.g. retention_offer.template, "
            "reminder_template); remove it here and change the template there",
        ],
    ),
    "params of a tag are refused": (
        [
            ("- start: retention_offer", "- tag: at-risk"),
            ("[start retention_offer]", "[tag at-risk]"),
        ],
        [
            "retention.rules.yaml:14:18: param 'campaign' is not used: "
            "tag: takes no params; remove it"
        ],
    ),
    "params of a notify other than message, assign_to and due_in are refused": (
        [
            ("- start: retention_offer", "- notify: sales"),
            ("[start retention_offer]", "[notify sales]"),
        ],
        [
            "retention.rules.yaml:14:18: param 'campaign' is not used: notify: takes only "
            "assign_to, due_in, message; remove it"
        ],
    ),
    "a notify's assign_to and due_in must be a target and business time": (
        [
            ("- start: retention_offer", "- notify: sales"),
            ("[start retention_offer]", "[notify sales]"),
            ("{campaign: spring}", "{assign_to: sales, due_in: 4 hours}"),
        ],
        [
            "retention.rules.yaml:14:29: param 'assign_to': expected account_manager, "
            "team:<name> or person:<name>, not 'sales' (teams and their people are in "
            "teams.yaml)",
            "retention.rules.yaml:14:44: param 'due_in': expected business time like 4h or "
            "30m, not '4 hours'",
        ],
    ),
    "an occasion for a journey about a complaint is refused": (
        [
            ("- start: retention_offer", "- start: complaint_escalation"),
            ("[start retention_offer]", "[start complaint_escalation]"),
            ("{campaign: spring}", "{occasion: birthday}"),
        ],
        [
            "retention.rules.yaml:14:18: param 'occasion' is not used: complaint_escalation "
            "is about the event's own subject (its complaint); remove it"
        ],
    ),
    "reenter_after on a rule that starts no journey is refused": (
        [
            ("- start: retention_offer", "- tag: at-risk"),
            ("[start retention_offer]", "[tag at-risk]"),
            ("        params: {campaign: spring}\n", ""),
            ("    priority: 10\n", "    reenter_after: 30\n"),
        ],
        [
            "retention.rules.yaml:8:5: reenter_after is not used: it spaces out the journeys a "
            "rule starts, and this rule starts none; remove it"
        ],
    ),
    "failing example says why": (
        [("tier: regular}", "tier: vip}")],
        [
            "retention.rules.yaml:17:17: example 1 of rule 'declining-frequency': expected "
            "[start retention_offer], got [] because tier is not vip did not hold "
            "(actual: 'vip')"
        ],
    ),
    "exists false points to missing": (
        [("tier: {is_not: vip}", "last_csat_score: {exists: false}")],
        [
            "retention.rules.yaml:11:33: last_csat_score exists: expected true; to test the "
            "opposite write missing: true"
        ],
    ),
    "numeric test on a text fact": (
        [("tier: {is_not: vip}", "tier: {at_least: 3}")],
        [
            "retention.rules.yaml:11:14: tier is text: at_least compares numbers; use is, "
            "is_not or one_of"
        ],
    ),
    "unknown test names the closest one": (
        [("{at_most: -0.5}", "{atmost: -0.5}")],
        [
            "retention.rules.yaml:10:35: unknown test 'atmost'; did you mean 'at_most'? "
            "(expected one of: is, is_not, one_of, at_least, at_most, more_than, less_than, "
            "between, exists, missing)"
        ],
    ),
    "a list of values needs one_of": (
        [("tier: {is_not: vip}", "tier: [vip, regular]")],
        ["retention.rules.yaml:11:13: tier: to accept several values write {one_of: [...]}"],
    ),
    "a missing header field": (
        [("owner: marketing\n", "")],
        ["retention.rules.yaml:1:1: missing 'owner'"],
    ),
}


@pytest.mark.parametrize(("edits", "expected"), list(EXACT_ERRORS.values()), ids=list(EXACT_ERRORS))
def test_an_edit_gives_exactly_these_errors(
    tmp_path: Path, edits: list[tuple[str, str]], expected: list[str]
) -> None:
    text = VALID
    for old, new in edits:
        assert old in text, f"the edit {old!r} no longer applies to VALID"
        text = text.replace(old, new)
    assert errors_for(tmp_path, text) == expected


def test_yaml_on_for_a_boolean_fact(tmp_path: Path) -> None:
    errors = errors_for(tmp_path, VALID.replace("tier: {is_not: vip}", "has_email: on"))
    assert errors[0].startswith("retention.rules.yaml:11:18: has_email is true or false, but 'on'")


def test_bad_yaml_syntax(tmp_path: Path) -> None:
    errors = errors_for(tmp_path, VALID.replace("{at_most: -0.5}", "{at_most: -0.5"))
    assert len(errors) == 1
    assert errors[0].startswith("retention.rules.yaml:11:")
    assert "YAML syntax" in errors[0]


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    errors = errors_for(
        tmp_path, VALID.replace("    priority: 10\n", "    priority: 10\n    priority: 5\n")
    )
    assert len(errors) == 1
    assert errors[0].startswith("retention.rules.yaml:9:5: YAML syntax:")
    assert 'duplicate key "priority"' in errors[0]


def test_duplicate_rule_id(tmp_path: Path) -> None:
    rule = VALID[VALID.index("  - id:") :]
    errors = errors_for(tmp_path, VALID + rule)
    assert errors == [
        "retention.rules.yaml:18:9: duplicate rule id 'declining-frequency' (first used on "
        "line 6); rule ids must be unique in a ruleset"
    ]


def test_unknown_signal(tmp_path: Path) -> None:
    text = VALID.replace(
        "      - start: retention_offer\n        params: {campaign: spring}\n",
        "      - signal: order_placd\n        to: retention_offer\n",
    ).replace("[start retention_offer]", "[signal order_placd to retention_offer]")
    errors = errors_for(tmp_path, text)
    assert errors[0] == (
        "retention.rules.yaml:13:17: journey 'retention_offer' has no signal 'order_placd'; "
        "did you mean 'order_placed'? (it accepts: order_placed, opted_out)"
    )


@pytest.mark.parametrize(
    ("when", "where", "words"),
    [
        (
            "order_count: {between: [10, 5]}",
            "10:30",
            "order_count between 10 and 5 can never match",
        ),
        (
            "order_count: {at_least: 5, at_most: 3}",
            "10:34",
            "no value of order_count passes all of these tests together: "
            "order_count is at least 5; order_count is at most 3",
        ),
        (
            "all: [{tier: vip}, {tier: regular}]",
            "10:27",
            "no value of tier passes all of these tests together: tier is vip; tier is regular",
        ),
        (
            "order_count: {more_than: 4, less_than: 5}",
            "10:35",
            "no value of order_count passes",
        ),
        ("last_csat_score: {exists: true, missing: true}", "10:39", "no value of last_csat_score"),
    ],
)
def test_impossible_conditions(tmp_path: Path, when: str, where: str, words: str) -> None:
    text = VALID.replace("      tier: {is_not: vip}\n", "").replace(
        "purchase_frequency_change: {at_most: -0.5}", when
    )
    errors = errors_for(tmp_path, text)
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"retention.rules.yaml:{where}: ")
    assert words in errors[0]


SHADOWED = """\
name: birthdays
owner: care
description: One greeting per customer.
mode: first_match
rules:
  - id: any-birthday
    description: Everyone with a birthday in the next three days.
    priority: 10
    when:
      days_until_birthday: {between: [0, 3]}
    then: [{tag: birthday}]
    examples: [{given: {days_until_birthday: 1}, expect: [tag birthday]}]
  - id: vip-birthday
    description: VIPs get the special one.
    priority: 5
    when:
      days_until_birthday: {is: 0}
      tier: vip
    then: [{tag: vip-birthday}]
    examples: [{given: {days_until_birthday: 0, tier: vip}, expect: [tag vip-birthday]}]
"""


def test_first_match_shadowing(tmp_path: Path) -> None:
    errors = errors_for(tmp_path, SHADOWED)
    assert errors == [
        "retention.rules.yaml:13:9: rule 'vip-birthday' can never fire: whenever it "
        "matches, rule 'any-birthday' (line 6) matches too and wins (mode first_match, "
        "higher priority or earlier in the file); give 'vip-birthday' a higher priority "
        "or narrow 'any-birthday'"
    ]


def test_first_match_without_shadowing_when_the_special_rule_wins(tmp_path: Path) -> None:
    (tmp_path / "birthdays.rules.yaml").write_text(SHADOWED.replace("priority: 5", "priority: 20"))
    rulebook = load_rulebook(tmp_path, references=REFERENCES)
    tags = [i.tag for i in rulebook.evaluate({"days_until_birthday": 0, "tier": "vip"}).intents]
    assert tags == ["vip-birthday"]


def test_every_error_at_once(tmp_path: Path) -> None:
    text = (
        VALID.replace("mode: all_matches", "mode: all_match")
        .replace("tier: {is_not", "tire: {is_not")
        .replace("priority: 10", "priority: high")
        .replace("[start retention_offer]", "[start retention_offers]")
    )
    errors = errors_for(tmp_path, text)
    assert [error.split(": ")[0] for error in errors] == [
        "retention.rules.yaml:4:7",
        "retention.rules.yaml:8:15",
        "retention.rules.yaml:11:7",
        "retention.rules.yaml:17:18",
    ]
    assert "did you mean 'all_matches'?" in errors[0]


def test_unknown_rule_key_and_missing_examples(tmp_path: Path) -> None:
    text = VALID.replace("    priority: 10\n", "    priorty: 10\n")
    text = text[: text.index("    examples:")]
    errors = errors_for(tmp_path, text)
    assert errors[0].startswith("retention.rules.yaml:6:5: missing 'examples': add at least one")
    assert errors[1].startswith(
        "retention.rules.yaml:8:5: unknown rule key 'priorty'; did you mean 'priority'?"
    )


def test_duplicate_ruleset_names_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.rules.yaml").write_text(VALID)
    errors = errors_for(tmp_path, VALID)
    assert errors == [
        "retention.rules.yaml:1:1: ruleset name 'retention' is already used by a.rules.yaml"
    ]


def test_an_action_needs_exactly_one_verb(tmp_path: Path) -> None:
    errors = errors_for(
        tmp_path, VALID.replace("- start: retention_offer", "- begin: retention_offer")
    )
    assert errors[:2] == [
        "retention.rules.yaml:13:9: each action needs exactly one of start:, signal:, tag:, "
        "notify:, webhook:",
        "retention.rules.yaml:13:9: unknown action key 'begin' (expected one of: start, signal, "
        "tag, notify, webhook, to, params)",
    ]


def test_an_empty_file(tmp_path: Path) -> None:
    errors = errors_for(tmp_path, "")
    assert errors == [
        "retention.rules.yaml:1:1: expected a ruleset: name, owner, description, mode and rules"
    ]


def test_unknown_team(tmp_path: Path) -> None:
    text = VALID.replace(
        "      - start: retention_offer\n        params: {campaign: spring}\n",
        "      - notify: salse\n",
    ).replace("[start retention_offer]", "[notify salse]")
    (tmp_path / "retention.rules.yaml").write_text(text)
    references = replace(REFERENCES, teams=frozenset({"sales", "service"}))
    with pytest.raises(RuleFileError) as raised:
        load_rulebook(tmp_path, references=references)
    assert [str(error).replace(f"{tmp_path}/", "") for error in raised.value.errors] == [
        "retention.rules.yaml:13:17: unknown team 'salse'; did you mean 'sales'? (teams with "
        "an address under staff.teams in journeys.yaml: sales, service; or account-manager, "
        "the customer's own account manager)"
    ]


def test_teams_come_from_the_journey_config_next_to_the_rules() -> None:
    assert staff_teams(RULES_DIR) == {"sales", "service", "marketing"}
    assert staff_teams(RULES_DIR / "missing") is None


def test_examples_of_good_files_run_when_another_file_is_broken(tmp_path: Path) -> None:
    (tmp_path / "a.rules.yaml").write_text(
        VALID.replace("name: retention", "name: other").replace("tier: regular}", "tier: vip}")
    )
    errors = errors_for(tmp_path, VALID.replace("tier: {is_not", "tire: {is_not"))
    assert [error.split(": ")[0] for error in errors] == [
        "a.rules.yaml:17:17",  # the failing example of the good file
        "retention.rules.yaml:11:7",  # the unknown fact of the broken one
    ]


def test_a_webhook_action_names_an_endpoint_of_webhooks_yaml(tmp_path: Path) -> None:
    text = VALID.replace(
        "      - start: retention_offer\n        params: {campaign: spring}\n",
        "      - webhook: crn\n        params: {segment: lapsing}\n",
    ).replace("[start retention_offer]", "[webhook crn]")
    (tmp_path / "retention.rules.yaml").write_text(text)
    references = replace(REFERENCES, webhooks=frozenset({"crm", "help-desk"}))
    with pytest.raises(RuleFileError) as raised:
        load_rulebook(tmp_path, references=references)
    assert [str(error).replace(f"{tmp_path}/", "") for error in raised.value.errors] == [
        "retention.rules.yaml:13:18: unknown webhook 'crn'; did you mean 'crm'? (endpoints in "
        "webhooks.yaml: crm, help-desk)"
    ]
    (tmp_path / "retention.rules.yaml").write_text(
        text.replace("webhook: crn", "webhook: crm").replace("[webhook crn]", "[webhook crm]")
    )
    rulebook = load_rulebook(tmp_path, references=references)
    (rule,) = rulebook.rulesets[0].rules
    (intent,) = intents_of(rulebook.rulesets[0], rule)
    assert (intent.action, intent.webhook, intent.params) == (
        "call_webhook",
        "crm",
        {"segment": "lapsing"},
    )
    assert intent.label == "webhook crm"


def test_webhook_endpoints_come_from_webhooks_yaml_next_to_the_rules(tmp_path: Path) -> None:
    assert webhook_endpoints(RULES_DIR) == {"demo-crm"}
    assert webhook_endpoints(tmp_path) == frozenset()
    (tmp_path / "webhooks.yaml").write_text("endpoints: [crm]\n")
    assert webhook_endpoints(tmp_path) is None

"""The shipped rule files: they load, every example passes, the mission is covered."""

from __future__ import annotations

from careflow.generated_docs import generated_documents
from careflow.paths import RULES_DIR
from careflow.rule_references import shipped_references
from careflow.rules import RuleBook, load_rulebook
from careflow.rules.docs import TRIGGERS


def shipped() -> RuleBook:
    # Loading runs every example of every rule through its whole ruleset.
    return load_rulebook(RULES_DIR, references=shipped_references())


def test_every_shipped_rule_has_examples_and_they_pass() -> None:
    rulebook = shipped()
    assert {ruleset.name for ruleset in rulebook.rulesets} >= {
        "complaints",
        "retention",
        "occasions",
        "satisfaction",
        "contact",
    }
    for ruleset in rulebook.rulesets:
        for rule in ruleset.rules:
            assert rule.examples, f"{ruleset.name}/{rule.id} has no examples"


def test_a_new_complaint_starts_the_escalation_journey() -> None:
    evaluation = shipped().evaluate({"event_type": "complaint_opened", "tier": "regular"})
    assert [(i.action, i.workflow, i.rule_id) for i in evaluation.intents] == [
        ("start_workflow", "complaint_escalation", "acknowledge-new-complaint")
    ]
    intent = evaluation.intents[0]
    assert intent.ruleset == "complaints"
    assert len(intent.ruleset_hash) == 64
    assert evaluation.outcomes[0].matched_facts == {"event_type": "complaint_opened"}


def test_a_vip_gets_one_retention_offer_not_two() -> None:
    snapshot = {
        "event_type": "daily_scan",
        "tier": "vip",
        "lifecycle_stage": "dormant",
        "days_since_last_order": 200,
        "purchase_frequency_change": -1.0,
        "orders_prev_90d": 0,
        "email_marketing_consent": True,
    }
    intents = shipped().evaluate(snapshot).intents
    assert [(i.rule_id, i.label) for i in intents] == [
        ("vip-dormant-win-back", "start retention_offer"),
        ("vip-dormant-win-back", "notify sales"),
    ]
    assert intents[0].reenter_after_days == 120


def test_the_worked_examples_name_shipped_rules() -> None:
    rulebook = shipped()
    rules = {(ruleset.name, rule.id) for ruleset in rulebook.rulesets for rule in ruleset.rules}
    for trigger in TRIGGERS:
        assert (trigger.ruleset, trigger.rule_id) in rules, trigger


def test_generated_documents_are_up_to_date() -> None:
    for path, text in generated_documents().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path} is stale: run `python -m careflow.generated_docs`"
        )

"""Explain's words: why a rule did not fire for a snapshot, with the actual values.

`careflow rules explain` prints them in English and the console says them in the
reader's language, so each is a `Phrase` (see `rules.phrases`).
"""

from __future__ import annotations

from careflow.rules.intents import RuleOutcome
from careflow.rules.phrases import Phrase, Words

OUTCOME_WORDS = Words(
    {
        "outcome.disabled": "the rule is switched off (enabled: false)",
        "outcome.first_match": (
            "its conditions hold, but rule {winner!r} fired first (this ruleset is first_match)"
        ),
        "outcome.no_match": "the rules engine found no match",
        "outcome.failed": "failed: {condition} (actual: {actual})",
        "outcome.fact_value": "{fact} = {value}",
        "outcome.fact_values": ", ",
        "outcome.missing": "missing",
    }
)
# Reasons that are not a condition: shown as they are, without "failed: ... (actual: ...)".
_NOT_CONDITIONS = frozenset({"outcome.disabled", "outcome.first_match"})


def failure_words(outcome: RuleOutcome) -> str:
    """`failed: tier is vip (actual: regular)` (or missing); empty for a rule that fired."""
    condition = outcome.failed_condition
    if condition is None:
        return ""
    if isinstance(condition, Phrase) and condition.key in _NOT_CONDITIONS:
        return condition
    actual = outcome.actual_value
    if isinstance(actual, dict):
        shown: object = OUTCOME_WORDS.joined(
            "outcome.fact_values",
            (
                OUTCOME_WORDS("outcome.fact_value", fact=name, value=actual_words(value))
                for name, value in actual.items()
            ),
        )
    else:
        shown = actual_words(actual)
    return OUTCOME_WORDS("outcome.failed", condition=condition, actual=shown)


def actual_words(value: object) -> object:
    """A fact's actual value as explain shows it: `missing` when the fact is unknown."""
    return OUTCOME_WORDS("outcome.missing") if value is None else value

"""What conditions mean, in plain Python and in plain words.

This is the reference meaning of the rule language: `explain` uses it to find the
first condition that failed, and the compiled durable_rules rulesets are tested
against an independent oracle with the same meaning. In short: a test on a
missing fact fails, except `is_not` (a customer without a tier "is not vip") and
`missing`; `between` includes both ends; `not:` holds when its inside fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from careflow.rules.derived_facts import segment_of
from careflow.rules.model import AllOf, AnyOf, Condition, Leaf, NotOf, Scalar, leaves
from careflow.rules.phrases import Phrase, Words


def scalar(value: object) -> Scalar:
    """The operand of a single-value test (the parser guarantees its type)."""
    assert isinstance(value, str | int | float | bool)
    return value


def leaf_holds(leaf: Leaf, facts: Mapping[str, object]) -> bool:
    """Whether one test holds for a snapshot (missing facts are absent or None)."""
    actual = facts.get(leaf.fact)
    if leaf.op == "missing":
        return actual is None
    if leaf.op == "is_not":
        return actual is None or actual != leaf.value
    if actual is None:
        return False
    if leaf.op == "exists":
        return True
    if leaf.op == "is":
        return bool(actual == leaf.value)
    if leaf.op == "one_of":
        assert isinstance(leaf.value, tuple)
        return actual in leaf.value
    assert isinstance(actual, int | float)
    if leaf.op == "between":
        assert isinstance(leaf.value, tuple)
        low, high = leaf.value
        assert isinstance(low, int | float)
        assert isinstance(high, int | float)
        return low <= actual <= high
    bound = scalar(leaf.value)
    assert isinstance(bound, int | float)
    return {
        "at_least": actual >= bound,
        "at_most": actual <= bound,
        "more_than": actual > bound,
        "less_than": actual < bound,
    }[leaf.op]


def holds(condition: Condition, facts: Mapping[str, object]) -> bool:
    """Whether a whole condition holds for a snapshot."""
    if isinstance(condition, Leaf):
        return leaf_holds(condition, facts)
    if isinstance(condition, NotOf):
        return not holds(condition.item, facts)
    if isinstance(condition, AnyOf):
        return any(holds(item, facts) for item in condition.items)
    return all(holds(item, facts) for item in condition.items)


@dataclass(frozen=True)
class Failure:
    """The first condition that failed, in words, with the actual value(s) it saw."""

    condition: Phrase
    actual: object


def first_failure(condition: Condition, facts: Mapping[str, object]) -> Failure | None:
    """None when the condition holds; else the first failing test, as a person reads it."""
    if holds(condition, facts):
        return None
    if isinstance(condition, Leaf):
        return Failure(describe_leaf(condition), facts.get(condition.fact))
    if isinstance(condition, AllOf):
        for item in condition.items:
            failure = first_failure(item, facts)
            if failure is not None:
                return failure
    return Failure(describe(condition), _actual_values(condition, facts))


def _actual_values(condition: Condition, facts: Mapping[str, object]) -> dict[str, object]:
    return {leaf.fact: facts.get(leaf.fact) for leaf in leaves(condition)}


# The English words of conditions; the console says them in other languages too.
CONDITION_WORDS = Words(
    {
        "condition.exists": "{fact} is known",
        "condition.missing": "{fact} is missing",
        "condition.between": "{fact} between {low} and {high}",
        "condition.one_of": "{fact} is one of {values}",
        "condition.values": ", ",
        "condition.is": "{fact} is {value}",
        "condition.is_not": "{fact} is not {value}",
        "condition.at_least": "{fact} is at least {value}",
        "condition.at_most": "{fact} is at most {value}",
        "condition.more_than": "{fact} is more than {value}",
        "condition.less_than": "{fact} is less than {value}",
        "condition.in_segment": "in segment {segment}",
        "condition.not": "not ({condition})",
        "condition.any": "any of ({conditions})",
        "condition.all": "all of ({conditions})",
        "condition.list": "; ",
    }
)


def describe(condition: Condition) -> Phrase:
    """A whole condition in words, e.g. `any of (tier is vip; total_spent is at least 5000)`."""
    if isinstance(condition, Leaf):
        return describe_leaf(condition)
    if isinstance(condition, NotOf):
        return CONDITION_WORDS("condition.not", condition=describe(condition.item))
    joined = CONDITION_WORDS.joined("condition.list", (describe(item) for item in condition.items))
    kind = "condition.any" if isinstance(condition, AnyOf) else "condition.all"
    return CONDITION_WORDS(kind, conditions=joined)


def describe_leaf(leaf: Leaf) -> Phrase:
    """A test in plain words: `tier is vip`, `days_until_birthday between 0 and 3`."""
    value = leaf.value
    key = f"condition.{leaf.op}"
    segment = segment_of(leaf.fact)
    if segment is not None and leaf.op == "is" and value is True:
        return CONDITION_WORDS("condition.in_segment", segment=segment)
    if leaf.op in ("exists", "missing"):
        return CONDITION_WORDS(key, fact=leaf.fact)
    if leaf.op == "between":
        assert isinstance(value, tuple)
        return CONDITION_WORDS(key, fact=leaf.fact, low=value[0], high=value[1])
    if leaf.op == "one_of":
        assert isinstance(value, tuple)
        return CONDITION_WORDS(
            key, fact=leaf.fact, values=CONDITION_WORDS.joined("condition.values", value)
        )
    return CONDITION_WORDS(key, fact=leaf.fact, value=scalar(value))

"""What a parsed rule file is: rulesets, rules, conditions, intents and examples.

The parser builds these from YAML; the compiler, the checks and `explain` read them.
Every part keeps its Position so that any later check can point at the right line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from careflow.rules.errors import Position
from careflow.rules.intents import IntentAction, ParamValue, intent_label

Operator = Literal[
    "is",
    "is_not",
    "one_of",
    "at_least",
    "at_most",
    "more_than",
    "less_than",
    "between",
    "exists",
    "missing",
]
OPERATORS: tuple[Operator, ...] = (
    "is",
    "is_not",
    "one_of",
    "at_least",
    "at_most",
    "more_than",
    "less_than",
    "between",
    "exists",
    "missing",
)
NUMERIC_OPERATORS = frozenset({"at_least", "at_most", "more_than", "less_than", "between"})
Mode = Literal["all_matches", "first_match"]
Scalar = str | int | float | bool


@dataclass(frozen=True)
class Leaf:
    """One test of one fact, e.g. `days_since_last_order: {at_least: 60}`.

    `value` is a Scalar for is/is_not/comparisons, a tuple for one_of and between
    (low, high), and None for exists/missing.
    """

    fact: str
    op: Operator
    value: Scalar | tuple[Scalar, ...] | None
    pos: Position


@dataclass(frozen=True)
class AllOf:
    """Every condition inside holds (also what several keys in one mapping mean)."""

    items: tuple[Condition, ...]
    pos: Position


@dataclass(frozen=True)
class AnyOf:
    """At least one condition inside holds."""

    items: tuple[Condition, ...]
    pos: Position


@dataclass(frozen=True)
class NotOf:
    """The condition inside does not hold."""

    item: Condition
    pos: Position


Condition = Leaf | AllOf | AnyOf | NotOf


@dataclass(frozen=True)
class IntentSpec:
    """One `then` entry as written; `label` is how examples name it."""

    action: IntentAction
    pos: Position
    workflow: str | None = None
    signal: str | None = None
    tag: str | None = None
    team: str | None = None
    params: dict[str, ParamValue] = field(default_factory=dict)
    params_pos: dict[str, Position] = field(default_factory=dict)
    webhook: str | None = None

    @property
    def label(self) -> str:
        """`start retention_offer`, `signal opted_out to care_message`, `tag x`, `notify y`,
        `webhook z`."""
        return intent_label(
            self.action, self.workflow, self.signal, self.tag, self.team, webhook=self.webhook
        )


@dataclass(frozen=True)
class Example:
    """Given these facts, the rule produces exactly these intents (by label)."""

    given: dict[str, Scalar]
    expect: tuple[str, ...]
    pos: Position
    expect_pos: Position


@dataclass(frozen=True)
class Rule:
    """One rule of a ruleset."""

    id: str
    description: str
    enabled: bool
    priority: int
    when: Condition
    then: tuple[IntentSpec, ...]
    examples: tuple[Example, ...]
    reenter_after_days: int | None
    pos: Position
    order: int  # place in the file: breaks priority ties, earlier first


@dataclass(frozen=True)
class Ruleset:
    """One `*.rules.yaml` file."""

    name: str
    owner: str
    description: str
    mode: Mode
    rules: tuple[Rule, ...]
    path: str
    hash: str  # sha256 of the file's bytes
    pos: Position

    @cached_property
    def by_precedence(self) -> tuple[Rule, ...]:
        """Rules in the order they win: higher priority first, then file order."""
        return tuple(sorted(self.rules, key=lambda rule: (-rule.priority, rule.order)))


def leaves(condition: Condition) -> tuple[Leaf, ...]:
    """Every leaf test inside a condition, in file order."""
    if isinstance(condition, Leaf):
        return (condition,)
    if isinstance(condition, NotOf):
        return leaves(condition.item)
    return tuple(leaf for item in condition.items for leaf in leaves(item))

"""Rules that can never fire: impossible conditions, and shadowing in first_match sets.

Both checks reason about the *plain conjunction* of a rule: the fact tests that
must all hold (the top level of `when` and nested `all:` groups). Tests inside
`any:` and `not:` are left out, which keeps every report sound:

- a rule is impossible when the tests of its plain conjunction cannot all hold
  for any value of each fact (between 10 and 5; at_least 5 with at_most 3;
  is vip with is regular; exists with missing), so adding more tests cannot help;
- in a first_match set, rule B is shadowed by an earlier-winning rule A when A
  has no `any:`/`not:` and every value each fact may take under B's plain
  conjunction also satisfies A's tests on that fact: whenever B matches, A
  matches first. Leaving B's `any:`/`not:` tests out only widens what B allows,
  so a report is never wrong; some shadowing through `any:`/`not:` goes unseen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

from careflow.rules.conditions import describe_leaf, scalar
from careflow.rules.errors import RuleError
from careflow.rules.facts import FACTS_BY_NAME, FactDefinition
from careflow.rules.model import AllOf, Condition, Leaf, Rule, Ruleset, Scalar

INF = math.inf


@dataclass(frozen=True)
class Domain:
    """The values one fact may take under some tests: present values, and/or missing."""

    low: float = -INF
    low_open: bool = False
    high: float = INF
    high_open: bool = False
    allowed: frozenset[Scalar] | None = None  # None: any value of the fact's type
    excluded: frozenset[Scalar] = frozenset()
    present: bool = True  # may have a value
    absent: bool = True  # may be missing

    def meet(self, other: Domain) -> Domain:
        """The values allowed by both."""
        low, low_open = max((self.low, self.low_open), (other.low, other.low_open))
        high, high_open = min((self.high, not self.high_open), (other.high, not other.high_open))
        allowed = (
            other.allowed
            if self.allowed is None
            else self.allowed
            if other.allowed is None
            else self.allowed & other.allowed
        )
        return Domain(
            low,
            low_open,
            high,
            not high_open,
            allowed,
            self.excluded | other.excluded,
            self.present and other.present,
            self.absent and other.absent,
        )


def leaf_domain(leaf: Leaf) -> Domain:
    """The values of `leaf.fact` for which the test holds."""
    value = leaf.value
    if leaf.op == "exists":
        return Domain(absent=False)
    if leaf.op == "missing":
        return Domain(present=False)
    if leaf.op == "is_not":
        return Domain(excluded=frozenset({scalar(value)}))
    if leaf.op == "is":
        return Domain(allowed=frozenset({scalar(value)}), absent=False)
    if leaf.op == "one_of":
        assert isinstance(value, tuple)
        return Domain(allowed=frozenset(value), absent=False)
    if leaf.op == "between":
        assert isinstance(value, tuple)
        return Domain(low=float(value[0]), high=float(value[1]), absent=False)
    bound = float(scalar(value))
    return {
        "at_least": Domain(low=bound, absent=False),
        "more_than": Domain(low=bound, low_open=True, absent=False),
        "at_most": Domain(high=bound, absent=False),
        "less_than": Domain(high=bound, high_open=True, absent=False),
    }[leaf.op]


def _definition(fact: str) -> FactDefinition:
    """The built-in fact's definition; a derived fact (rules/derived_facts.yaml) is
    analysed as a plain number, which only makes the checks less precise, never wrong."""
    return FACTS_BY_NAME.get(fact) or FactDefinition(fact, "number", "")


def normalised(fact: str, domain: Domain) -> Domain:
    """Whole-number facts get closed whole-number bounds: more_than 5 is at_least 6."""
    if _definition(fact).type != "integer":
        return domain
    low, high = domain.low, domain.high
    if math.isfinite(low):
        low = math.floor(low) + 1 if domain.low_open else math.ceil(low)
    if math.isfinite(high):
        high = math.ceil(high) - 1 if domain.high_open else math.floor(high)
    return replace(domain, low=low, low_open=False, high=high, high_open=False)


def _in_interval(domain: Domain, value: Scalar) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return True  # bounds only constrain numbers
    above = value > domain.low or (value == domain.low and not domain.low_open)
    below = value < domain.high or (value == domain.high and not domain.high_open)
    return above and below


def _holds(domain: Domain, value: Scalar) -> bool:
    return (
        domain.present
        and _in_interval(domain, value)
        and (domain.allowed is None or value in domain.allowed)
        and value not in domain.excluded
    )


def _finite_values(fact: str, domain: Domain) -> frozenset[Scalar] | None:
    """Every present value the domain allows, when that is a finite list."""
    definition = _definition(fact)
    candidates: frozenset[Scalar] | None = domain.allowed
    if candidates is None and definition.type == "boolean":
        candidates = frozenset({True, False})
    if candidates is None and definition.values:
        candidates = frozenset(definition.values)
    if candidates is None and definition.type == "integer" and domain.high - domain.low <= 1000:
        candidates = frozenset(range(int(domain.low), int(domain.high) + 1))
    if candidates is None:
        return None
    return frozenset(value for value in candidates if _holds(domain, value))


def _present_is_empty(fact: str, domain: Domain) -> bool:
    if not domain.present:
        return True
    values = _finite_values(fact, domain)
    if values is not None:
        return not values
    if domain.low > domain.high:
        return True
    return domain.low == domain.high and (
        domain.low_open or domain.high_open or domain.low in domain.excluded
    )


def is_empty(fact: str, domain: Domain) -> bool:
    """No value, and not missing either: the tests on this fact can never all hold."""
    return not domain.absent and _present_is_empty(fact, normalised(fact, domain))


def is_subset(fact: str, inner: Domain, outer: Domain) -> bool:
    """Every value (or missing) allowed by `inner` is allowed by `outer`."""
    inner, outer = normalised(fact, inner), normalised(fact, outer)
    if inner.absent and not outer.absent:
        return False
    if _present_is_empty(fact, inner):
        return True
    values = _finite_values(fact, inner)
    if values is not None:
        return all(_holds(outer, value) for value in values)
    # An infinite set of numbers or texts: compare the shapes instead.
    if outer.allowed is not None or not outer.present:
        return False
    low_ok = (inner.low, inner.low_open) >= (outer.low, outer.low_open)
    high_ok = (inner.high, not inner.high_open) <= (outer.high, not outer.high_open)
    holes_ok = all(not _holds(inner, hole) for hole in outer.excluded)
    return low_ok and high_ok and holes_ok


def plain_conjunction(condition: Condition) -> tuple[list[Leaf], bool]:
    """The leaves that must all hold, and whether that is the whole condition."""
    if isinstance(condition, Leaf):
        return [condition], True
    if isinstance(condition, AllOf):
        leaves: list[Leaf] = []
        whole = True
        for item in condition.items:
            more, item_whole = plain_conjunction(item)
            leaves += more
            whole = whole and item_whole
        return leaves, whole
    return [], False


def domains(leaves: Iterable[Leaf]) -> dict[str, Domain]:
    """Per fact, the values all these tests allow together."""
    result: dict[str, Domain] = {}
    for leaf in leaves:
        result[leaf.fact] = result.get(leaf.fact, Domain()).meet(leaf_domain(leaf))
    return result


def impossible_rule(rule: Rule) -> RuleError | None:
    """An error at the test that makes the rule's plain conjunction impossible, if any."""
    leaves, _ = plain_conjunction(rule.when)
    seen: dict[str, Domain] = {}
    for leaf in leaves:
        seen[leaf.fact] = seen.get(leaf.fact, Domain()).meet(leaf_domain(leaf))
        if is_empty(leaf.fact, seen[leaf.fact]):
            tests = [other for other in leaves if other.fact == leaf.fact]
            described = "; ".join(describe_leaf(other) for other in tests)
            return leaf.pos.error(
                f"rule {rule.id!r} can never match: no value of {leaf.fact} passes all of "
                f"these tests together: {described}"
            )
    return None


def shadowed_rules(ruleset: Ruleset) -> list[RuleError]:
    """In a first_match set, rules that can never win because an earlier one always does."""
    if ruleset.mode != "first_match":
        return []
    errors: list[RuleError] = []
    ordered = [rule for rule in ruleset.by_precedence if rule.enabled]
    for index, later in enumerate(ordered):
        later_domains = domains(plain_conjunction(later.when)[0])
        for earlier in ordered[:index]:
            earlier_leaves, whole = plain_conjunction(earlier.when)
            if not whole:
                continue
            earlier_domains = domains(earlier_leaves)
            if all(
                is_subset(fact, later_domains.get(fact, Domain()), domain)
                for fact, domain in earlier_domains.items()
            ):
                errors.append(
                    later.pos.error(
                        f"rule {later.id!r} can never fire: whenever it matches, rule "
                        f"{earlier.id!r} (line {earlier.pos.line}) matches too and wins "
                        "(mode first_match, higher priority or earlier in the file); give "
                        f"{later.id!r} a higher priority or narrow {earlier.id!r}"
                    )
                )
                break
    return errors

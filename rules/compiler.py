"""Compiling a ruleset's conditions to durable_rules condition JSON (plain data).

durable_rules has no negation of a whole expression inside one fact, so `not:` is
pushed down to the tests (De Morgan), and each negated test says what happens when
the fact is missing, matching rules/conditions.py: `not (at_least 5)` holds for
`less_than 5` *or* a missing fact. A missing attribute never matches `$neq`, so
`is_not` also accepts a missing fact explicitly.
"""

from __future__ import annotations

from careflow.rules.conditions import scalar
from careflow.rules.model import AllOf, AnyOf, Condition, Leaf, NotOf, Ruleset

Json = dict[str, object]

COMPARISONS = {"at_least": "$gte", "at_most": "$lte", "more_than": "$gt", "less_than": "$lt"}
# The comparison that holds exactly when the original fails (for a present value).
OPPOSITES = {"$gte": "$lt", "$lte": "$gt", "$gt": "$lte", "$lt": "$gte"}


def compile_ruleset(ruleset: Ruleset) -> dict[str, Json]:
    """Rule id -> durable_rules condition for every enabled rule."""
    return {rule.id: compile_condition(rule.when) for rule in ruleset.rules if rule.enabled}


def compile_condition(condition: Condition, negate: bool = False) -> Json:
    """One condition as durable_rules JSON; `negate` compiles its opposite."""
    if isinstance(condition, Leaf):
        return _negated_leaf(condition) if negate else _leaf(condition)
    if isinstance(condition, NotOf):
        return compile_condition(condition.item, not negate)
    parts = [compile_condition(item, negate) for item in condition.items]
    # De Morgan: the opposite of all-of is any-of the opposites, and vice versa.
    conjunctive = isinstance(condition, AllOf) != negate
    assert isinstance(condition, AllOf | AnyOf)
    return _combine("$and" if conjunctive else "$or", parts)


def _combine(operator: str, parts: list[Json]) -> Json:
    return parts[0] if len(parts) == 1 else {operator: parts}


def _exists(fact: str) -> Json:
    return {"$ex": {fact: 1}}


def _missing(fact: str) -> Json:
    return {"$nex": {fact: 1}}


def _leaf(leaf: Leaf) -> Json:
    fact, value = leaf.fact, leaf.value
    if leaf.op == "exists":
        return _exists(fact)
    if leaf.op == "missing":
        return _missing(fact)
    if leaf.op == "is":
        return {"$eq": {fact: scalar(value)}}
    if leaf.op == "is_not":
        return {"$or": [{"$neq": {fact: scalar(value)}}, _missing(fact)]}
    if leaf.op == "one_of":
        assert isinstance(value, tuple)
        return _combine("$or", [{"$eq": {fact: item}} for item in value])
    if leaf.op == "between":
        assert isinstance(value, tuple)
        return {"$and": [{"$gte": {fact: value[0]}}, {"$lte": {fact: value[1]}}]}
    return {COMPARISONS[leaf.op]: {fact: scalar(value)}}


def _negated_leaf(leaf: Leaf) -> Json:
    fact, value = leaf.fact, leaf.value
    if leaf.op == "exists":
        return _missing(fact)
    if leaf.op == "missing":
        return _exists(fact)
    if leaf.op == "is":
        return _leaf(Leaf(fact, "is_not", value, leaf.pos))
    if leaf.op == "is_not":
        return _leaf(Leaf(fact, "is", value, leaf.pos))
    if leaf.op == "one_of":
        assert isinstance(value, tuple)
        differs = _combine("$and", [{"$neq": {fact: item}} for item in value])
        return {"$or": [differs, _missing(fact)]}
    if leaf.op == "between":
        assert isinstance(value, tuple)
        return {"$or": [{"$lt": {fact: value[0]}}, {"$gt": {fact: value[1]}}, _missing(fact)]}
    return {"$or": [{OPPOSITES[COMPARISONS[leaf.op]]: {fact: scalar(value)}}, _missing(fact)]}

"""From a rule file's YAML to a Ruleset, collecting every mistake instead of stopping.

Each check appends a RuleError pointing at the key or value to fix and saying what
was expected; parsing carries on with what is usable, so one run shows everything.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import cast, get_args

from careflow.assign_targets import due_in_hours, target_problem
from careflow.rules.derived_facts import segment_fact
from careflow.rules.errors import Position, RuleError
from careflow.rules.facts import FACTS_BY_NAME, FactDefinition
from careflow.rules.intents import ACCOUNT_MANAGER_TARGET, IntentAction, ParamValue
from careflow.rules.model import (
    NUMERIC_OPERATORS,
    OPERATORS,
    AllOf,
    AnyOf,
    Condition,
    Example,
    IntentSpec,
    Leaf,
    Mode,
    NotOf,
    Operator,
    Rule,
    Ruleset,
    Scalar,
)
from careflow.rules.references import References
from careflow.rules.values import closest, fact_value
from careflow.rules.yamlfile import (
    describe,
    is_yaml11_boolean_word,
    item_position,
    key_position,
    read_yaml,
    value_position,
)

RULE_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
HEADER_KEYS = ("name", "owner", "description", "mode", "rules")
RULE_KEYS = (
    "id",
    "description",
    "enabled",
    "priority",
    "when",
    "then",
    "examples",
    "reenter_after",
)
ACTION_KEYS: dict[str, IntentAction] = {
    "start": "start_workflow",
    "signal": "signal_workflow",
    "tag": "tag_customer",
    "notify": "notify_team",
    "webhook": "call_webhook",
}
INTENT_KEYS = (*ACTION_KEYS, "to", "params")
EXAMPLE_KEYS = ("given", "expect")
GROUPS = ("all", "any", "not")
IN_SEGMENT = "in_segment"
MODES = get_args(Mode)


# A condition names facts only: nothing outside the file to check it against.
_NO_REFERENCES = References(journeys={}, templates=frozenset(), templates_dir=Path("."))


def parse_ruleset(
    path: str,
    content: bytes,
    references: References,
    *,
    facts: Mapping[str, FactDefinition] = FACTS_BY_NAME,
    segments: Collection[str] = (),
) -> tuple[Ruleset | None, list[RuleError]]:
    """Parse one rule file; the Ruleset is None when the file is unusable as a whole.

    `facts` is every fact a rule may name: the built-in ones, and the derived facts
    of the folder's `derived_facts.yaml` (`DerivedFacts.schema`); `segments` the
    names of the folder's `segments.yaml` a rule may test with `in_segment:`.
    """
    parser = _FileParser(path, references, facts, segments)
    ruleset = parser.parse(content)
    return ruleset, parser.errors


def parse_condition(
    path: str,
    node: object,
    pos: Position,
    *,
    facts: Mapping[str, FactDefinition] = FACTS_BY_NAME,
    segments: Collection[str] | None = None,
) -> tuple[Condition | None, list[RuleError]]:
    """A condition written in the rule language somewhere else than a rule file (an
    outreach policy's suppression, a segment); every mistake at its line and column in
    `path`. `segments`: the names `in_segment:` may test; None: it may not be used here."""
    parser = _FileParser(path, _NO_REFERENCES, facts, segments)
    condition = parser.condition(node, pos)
    return condition, parser.errors


class _FileParser:
    """Parses one file, appending to `errors` as it goes."""

    def __init__(
        self,
        path: str,
        references: References,
        facts: Mapping[str, FactDefinition],
        segments: Collection[str] | None = (),
    ) -> None:
        self.path = path
        self.references = references
        self.facts = facts
        self.segments = segments
        self.errors: list[RuleError] = []

    def error(self, pos: Position, message: str) -> None:
        self.errors.append(pos.error(message))

    # --- the file and its header ------------------------------------------------------

    def parse(self, content: bytes) -> Ruleset | None:
        start = Position.start_of(self.path)
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as error:
            self.error(start, f"the file is not UTF-8 text ({error.reason})")
            return None
        document, syntax_errors = read_yaml(self.path, text)
        if syntax_errors:
            self.errors.extend(syntax_errors)
            return None
        if not isinstance(document, Mapping):
            self.error(start, "expected a ruleset: name, owner, description, mode and rules")
            return None
        self.unknown_keys(document, HEADER_KEYS, "ruleset")
        name = self.text(document, "name", start, pattern=NAME)
        owner = self.text(document, "owner", start)
        description = self.text(document, "description", start)
        mode = self.mode(document, start)
        rules = self.rules(document, start)
        if name is None or owner is None or description is None or mode is None:
            return None
        return Ruleset(
            name=name,
            owner=owner,
            description=description,
            mode=mode,
            rules=tuple(rules),
            path=self.path,
            hash=hashlib.sha256(content).hexdigest(),
            pos=key_position(self.path, document, "name"),
        )

    def unknown_keys(
        self, mapping: Mapping[object, object], known: Sequence[str], what: str
    ) -> None:
        for key in mapping:
            if key not in known:
                self.error(
                    key_position(self.path, mapping, key),
                    f"unknown {what} key {key!r}{closest(str(key), known)} "
                    f"(expected one of: {', '.join(known)})",
                )

    def text(
        self,
        mapping: Mapping[object, object],
        key: str,
        parent: Position,
        *,
        pattern: re.Pattern[str] | None = None,
        required: bool = True,
    ) -> str | None:
        if key not in mapping:
            if required:
                self.error(parent, f"missing {key!r}")
            return None
        value = mapping[key]
        pos = value_position(self.path, mapping, key)
        if not isinstance(value, str) or not value.strip():
            self.error(pos, f"{key!r}: expected text, got {describe(value)}")
            return None
        if pattern is not None and not pattern.match(value):
            self.error(
                pos,
                f"{key!r}: {value!r} must be lowercase letters, digits and dashes "
                "(kebab-case, e.g. vip-birthday-greeting)",
            )
            return None
        return str(value)

    def mode(self, document: Mapping[object, object], parent: Position) -> Mode | None:
        mode = self.text(document, "mode", parent)
        if mode is None:
            return None
        if mode not in MODES:
            self.error(
                value_position(self.path, document, "mode"),
                f"mode: expected all_matches or first_match, got {mode!r}{closest(mode, MODES)}",
            )
            return None
        return cast(Mode, mode)

    # --- rules ----------------------------------------------------------------------------

    def rules(self, document: Mapping[object, object], parent: Position) -> list[Rule]:
        if "rules" not in document:
            self.error(parent, "missing 'rules' (the list of rules)")
            return []
        items = document["rules"]
        pos = value_position(self.path, document, "rules")
        if not isinstance(items, Sequence) or isinstance(items, str):
            self.error(pos, f"rules: expected a list of rules, got {describe(items)}")
            return []
        rules: list[Rule] = []
        first_seen: dict[str, Position] = {}
        for index, item in enumerate(items):
            rule = self.rule(item, item_position(self.path, items, index, pos), index)
            if rule is None:
                continue
            if rule.id in first_seen:
                self.error(
                    rule.pos,
                    f"duplicate rule id {rule.id!r} (first used on line "
                    f"{first_seen[rule.id].line}); rule ids must be unique in a ruleset",
                )
                continue
            first_seen[rule.id] = rule.pos
            rules.append(rule)
        return rules

    def rule(self, item: object, pos: Position, order: int) -> Rule | None:
        if not isinstance(item, Mapping):
            self.error(
                pos, f"expected a rule (id, description, when, then, ...), got {describe(item)}"
            )
            return None
        self.unknown_keys(item, RULE_KEYS, "rule")
        errors_before = len(self.errors)
        rule_id = self.text(item, "id", pos, pattern=RULE_ID)
        id_pos = value_position(self.path, item, "id") if "id" in item else pos
        description = self.text(item, "description", pos)
        enabled = self.boolean(item, "enabled", default=True)
        priority = self.integer(item, "priority", default=0)
        reenter = self.integer(item, "reenter_after", default=None, minimum=1)
        when = self.when(item, pos)
        errors_before_then = len(self.errors)
        then = self.then(item, pos)
        then_ok = len(self.errors) == errors_before_then
        if reenter is not None and then_ok and all(i.action != "start_workflow" for i in then):
            # Only a journey start has a period to re-enter; anything else would ignore it.
            self.error(
                key_position(self.path, item, "reenter_after"),
                "reenter_after is not used: it spaces out the journeys a rule starts, and "
                "this rule starts none; remove it",
            )
        # Labels of a broken `then` would only repeat its errors as example errors.
        labels = [intent.label for intent in then] if then_ok else None
        examples = self.examples(item, pos, labels)
        if len(self.errors) > errors_before or rule_id is None or description is None:
            # Every mistake is already reported; a half-built rule would only add noise.
            return None
        assert when is not None
        return Rule(
            id=rule_id,
            description=description,
            enabled=enabled,
            priority=priority or 0,
            when=when,
            then=tuple(then),
            examples=tuple(examples),
            reenter_after_days=reenter,
            pos=id_pos,
            order=order,
        )

    def boolean(self, mapping: Mapping[object, object], key: str, *, default: bool) -> bool:
        if key not in mapping:
            return default
        value = mapping[key]
        if isinstance(value, bool):
            return value
        pos = value_position(self.path, mapping, key)
        if is_yaml11_boolean_word(value):
            self.error(
                pos,
                f"{key}: {value!r} is text, not true/false: careflow reads YAML 1.2, where only "
                "true and false are booleans; write true or false",
            )
        else:
            self.error(pos, f"{key}: expected true or false, got {describe(value)}")
        return default

    def integer(
        self,
        mapping: Mapping[object, object],
        key: str,
        *,
        default: int | None,
        minimum: int | None = None,
    ) -> int | None:
        if key not in mapping:
            return default
        value = mapping[key]
        pos = value_position(self.path, mapping, key)
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(pos, f"{key}: expected a whole number, got {describe(value)}")
            return default
        if minimum is not None and value < minimum:
            self.error(pos, f"{key}: expected a whole number of at least {minimum}, got {value}")
            return default
        return int(value)

    # --- when -------------------------------------------------------------------------------

    def when(self, rule: Mapping[object, object], parent: Position) -> Condition | None:
        if "when" not in rule:
            self.error(parent, "missing 'when' (the conditions that make this rule fire)")
            return None
        return self.condition(rule["when"], value_position(self.path, rule, "when"))

    def condition(self, node: object, pos: Position) -> Condition | None:
        """A mapping (facts and groups, all must hold) or a list (all items must hold)."""
        if isinstance(node, Sequence) and not isinstance(node, str):
            return self.group_items(node, pos, "all")
        if not isinstance(node, Mapping) or not node:
            self.error(
                pos,
                f"expected conditions (fact: test, or all:/any:/not:), got {describe(node)}",
            )
            return None
        parts: list[Condition] = []
        for key, value in node.items():
            key_pos = key_position(self.path, node, key)
            value_pos = value_position(self.path, node, key)
            if key in ("all", "any"):
                part = self.group_items(value, value_pos, str(key))
            elif key == "not":
                inner = self.condition(value, value_pos)
                part = NotOf(inner, key_pos) if inner is not None else None
            elif key == IN_SEGMENT:
                part = self.segment_test(value, key_pos, value_pos)
            elif key in self.facts:
                part = self.fact_test(self.facts[str(key)], value, key_pos, value_pos)
            else:
                self.error(
                    key_pos,
                    f"unknown fact {key!r}{closest(str(key), list(self.facts) + list(GROUPS))} "
                    "(facts are listed in rules/README.md; groups are all, any, not)",
                )
                part = None
            if part is not None:
                parts.append(part)
        if len(parts) != len(node):
            return None
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts), pos)

    def segment_test(self, node: object, key_pos: Position, value_pos: Position) -> Leaf | None:
        """`in_segment: NAME`: the customer is in that segment of segments.yaml."""
        name = self.segment_name(node, value_pos)
        return Leaf(segment_fact(name), "is", True, key_pos) if name is not None else None

    def segment_name(self, node: object, pos: Position) -> str | None:
        if self.segments is None:
            self.error(
                pos,
                "in_segment cannot be used here: a segment's conditions name facts only "
                "(repeat the other segment's conditions instead)",
            )
            return None
        known = sorted(self.segments)
        if not isinstance(node, str) or not node.strip():
            self.error(
                pos,
                f"in_segment: expected the name of a segment, got {describe(node)} "
                f"(segments in segments.yaml: {', '.join(known) or 'none'}; "
                "for any of several write any: [{in_segment: a}, {in_segment: b}])",
            )
            return None
        if node not in self.segments:
            self.error(
                pos,
                f"unknown segment {node!r}{closest(str(node), known)} "
                f"(segments in segments.yaml: {', '.join(known) or 'none'})",
            )
            return None
        return str(node)

    def group_items(self, node: object, pos: Position, kind: str) -> Condition | None:
        if not isinstance(node, Sequence) or isinstance(node, str) or not node:
            self.error(pos, f"{kind}: expected a list of conditions, got {describe(node)}")
            return None
        parts = [
            self.condition(item, item_position(self.path, node, index, pos))
            for index, item in enumerate(node)
        ]
        usable = [part for part in parts if part is not None]
        if len(usable) != len(parts):
            return None
        if kind == "any":
            return AnyOf(tuple(usable), pos)
        return usable[0] if len(usable) == 1 else AllOf(tuple(usable), pos)

    def fact_test(
        self, fact: FactDefinition, node: object, key_pos: Position, value_pos: Position
    ) -> Condition | None:
        """`fact: value` (is), or `fact: {operator: operand, ...}` (all must hold)."""
        if isinstance(node, Sequence) and not isinstance(node, str):
            self.error(
                value_pos,
                f"{fact.name}: to accept several values write {{one_of: [...]}}",
            )
            return None
        if not isinstance(node, Mapping):
            value = self.fact_value(fact, node, value_pos)
            return Leaf(fact.name, "is", value, key_pos) if value is not None else None
        if not node:
            self.error(value_pos, f"{fact.name}: expected a test such as {{is: ...}}")
            return None
        tests: list[Condition] = []
        for op, operand in node.items():
            op_pos = key_position(self.path, node, op)
            operand_pos = value_position(self.path, node, op)
            if op not in OPERATORS:
                self.error(
                    op_pos,
                    f"unknown test {op!r}{closest(str(op), OPERATORS)} "
                    f"(expected one of: {', '.join(OPERATORS)})",
                )
                continue
            leaf = self.leaf(fact, cast(Operator, op), operand, op_pos, operand_pos)
            if leaf is not None:
                tests.append(leaf)
        if len(tests) != len(node):
            return None
        return tests[0] if len(tests) == 1 else AllOf(tuple(tests), key_pos)

    def leaf(
        self,
        fact: FactDefinition,
        op: Operator,
        operand: object,
        op_pos: Position,
        operand_pos: Position,
    ) -> Leaf | None:
        if op in ("exists", "missing"):
            if operand is not True:
                other = "missing" if op == "exists" else "exists"
                hint = f"; to test the opposite write {other}: true" if operand is False else ""
                self.error(operand_pos, f"{fact.name} {op}: expected true{hint}")
                return None
            return Leaf(fact.name, op, None, op_pos)
        if op in NUMERIC_OPERATORS and fact.type not in ("integer", "number"):
            self.error(
                op_pos,
                f"{fact.name} is {fact.type}: {op} compares numbers; use is, is_not or one_of",
            )
            return None
        if op in ("one_of", "between"):
            if not isinstance(operand, Sequence) or isinstance(operand, str) or not operand:
                self.error(
                    operand_pos, f"{fact.name} {op}: expected a list, got {describe(operand)}"
                )
                return None
            values = [
                self.fact_value(fact, item, item_position(self.path, operand, index, operand_pos))
                for index, item in enumerate(operand)
            ]
            if any(value is None for value in values):
                return None
            if op == "between":
                if len(values) != 2:
                    self.error(
                        operand_pos,
                        f"{fact.name} between: expected two numbers [low, high], got {len(values)}",
                    )
                    return None
                low, high = cast(list[float], values)
                if low > high:
                    self.error(
                        operand_pos,
                        f"{fact.name} between {low} and {high} can never match: "
                        "write the low end first",
                    )
                    return None
            return Leaf(fact.name, op, tuple(cast(list[Scalar], values)), op_pos)
        value = self.fact_value(fact, operand, operand_pos)
        return Leaf(fact.name, op, value, op_pos) if value is not None else None

    def fact_value(self, fact: FactDefinition, raw: object, pos: Position) -> Scalar | None:
        value, problem = fact_value(fact, raw)
        if problem is not None:
            self.error(pos, problem)
        return value

    # --- then -------------------------------------------------------------------------------

    def then(self, rule: Mapping[object, object], parent: Position) -> list[IntentSpec]:
        if "then" not in rule:
            self.error(parent, "missing 'then' (what should happen when the rule fires)")
            return []
        items = rule["then"]
        pos = value_position(self.path, rule, "then")
        if isinstance(items, Mapping):
            items = [items]
        if not isinstance(items, Sequence) or isinstance(items, str) or not items:
            self.error(
                pos,
                "then: expected a list of actions (start:, signal: ... to:, tag:, notify:, "
                "webhook:), "
                f"got {describe(items)}",
            )
            return []
        intents = [
            self.intent(item, item_position(self.path, items, index, pos))
            for index, item in enumerate(items)
        ]
        return [intent for intent in intents if intent is not None]

    def intent(self, item: object, pos: Position) -> IntentSpec | None:
        if not isinstance(item, Mapping):
            self.error(
                pos, f"expected an action such as start: retention_offer, got {describe(item)}"
            )
            return None
        self.unknown_keys(item, INTENT_KEYS, "action")
        actions = [key for key in item if key in ACTION_KEYS]
        if len(actions) != 1:
            self.error(
                pos, "each action needs exactly one of start:, signal:, tag:, notify:, webhook:"
            )
            return None
        key = str(actions[0])
        target = self.text(item, key, pos)
        target_pos = value_position(self.path, item, key)
        journey_ok = target is None or key != "start" or self.known_journey(target, target_pos)
        params, params_pos = self.params(item, pos, key)
        if target is None or params is None or not journey_ok:
            return None
        action = ACTION_KEYS[key]
        if key == "start":
            if "to" in item:
                self.error(key_position(self.path, item, "to"), "'to' only goes with signal:")
                return None
            return IntentSpec(action, pos, workflow=target, params=params, params_pos=params_pos)
        if key == "signal":
            journey = self.text(item, "to", pos)
            if journey is None:
                return None
            journey_pos = value_position(self.path, item, "to")
            if not self.known_journey(journey, journey_pos):
                return None
            signals = self.references.journeys[journey]
            if target not in signals:
                accepted = ", ".join(signals) or "no signals"
                self.error(
                    target_pos,
                    f"journey {journey!r} has no signal {target!r}{closest(target, signals)} "
                    f"(it accepts: {accepted})",
                )
                return None
            return IntentSpec(
                action, pos, workflow=journey, signal=target, params=params, params_pos=params_pos
            )
        if not RULE_ID.match(target):
            self.error(target_pos, f"{key}: {target!r} must be kebab-case, e.g. at-risk")
            return None
        if key == "tag":
            return IntentSpec(action, pos, tag=target, params=params, params_pos=params_pos)
        if key == "webhook":
            endpoints = self.references.webhooks
            if endpoints is not None and target not in endpoints:
                known = ", ".join(sorted(endpoints)) or "none"
                self.error(
                    target_pos,
                    f"unknown webhook {target!r}{closest(target, endpoints)} (endpoints in "
                    f"webhooks.yaml: {known})",
                )
                return None
            return IntentSpec(action, pos, webhook=target, params=params, params_pos=params_pos)
        teams = self.references.teams
        if teams is not None and target not in teams and target != ACCOUNT_MANAGER_TARGET:
            self.error(
                target_pos,
                f"unknown team {target!r}{closest(target, teams)} (teams with an address "
                f"under staff.teams in journeys.yaml: {', '.join(sorted(teams))}; or "
                f"{ACCOUNT_MANAGER_TARGET}, the customer's own account manager)",
            )
            return None
        return IntentSpec(action, pos, team=target, params=params, params_pos=params_pos)

    def known_journey(self, name: str, pos: Position) -> bool:
        journeys = self.references.journeys
        if name in journeys:
            return True
        self.error(
            pos,
            f"unknown journey {name!r}{closest(name, journeys)} "
            f"(known journeys: {', '.join(sorted(journeys))})",
        )
        return False

    def params(
        self, item: Mapping[object, object], parent: Position, action: str
    ) -> tuple[dict[str, ParamValue] | None, dict[str, Position]]:
        """An action's `params`; one that careflow would not use is an error, never
        silently ignored (see `_unused_param`)."""
        if "params" not in item or item["params"] is None:
            return {}, {}
        node = item["params"]
        pos = value_position(self.path, item, "params")
        if not isinstance(node, Mapping):
            self.error(pos, f"params: expected key: value lines, got {describe(node)}")
            return None, {}
        params: dict[str, ParamValue] = {}
        positions: dict[str, Position] = {}
        ok = True
        for key, value in node.items():
            value_pos = value_position(self.path, node, key)
            if isinstance(value, bool | int | float) or (isinstance(value, str) and value):
                params[str(key)] = value if not isinstance(value, str) else str(value)
                positions[str(key)] = value_pos
            else:
                self.error(
                    value_pos,
                    f"param {key!r}: expected text, a number or true/false, got {describe(value)}",
                )
                ok = False
                continue
            wrong = _param_value_problem(action, str(key), value)
            if wrong is not None:
                self.error(value_pos, f"param {key!r}: {wrong}")
                ok = False
                continue
            unused = _unused_param(action, str(key))
            if unused is None and action == "start" and key == "occasion":
                unused = self._unused_occasion(item)
            if unused is not None:
                self.error(key_position(self.path, node, key), unused)
                ok = False
        return (params if ok else None), positions

    def _unused_occasion(self, item: Mapping[object, object]) -> str | None:
        journey = item.get("start")
        if journey in self.references.subject_journeys:
            return (
                f"param 'occasion' is not used: {journey} is about the event's own subject "
                "(its complaint); remove it"
            )
        return None

    # --- examples ---------------------------------------------------------------------------

    def examples(
        self, rule: Mapping[object, object], parent: Position, labels: list[str] | None
    ) -> list[Example]:
        if "examples" not in rule:
            self.error(
                parent,
                "missing 'examples': add at least one (given: facts, expect: [intents]) "
                "so `careflow rules check` can prove the rule does what it says",
            )
            return []
        items = rule["examples"]
        pos = value_position(self.path, rule, "examples")
        if not isinstance(items, Sequence) or isinstance(items, str) or not items:
            self.error(pos, f"examples: expected a list of examples, got {describe(items)}")
            return []
        examples = [
            self.example(item, item_position(self.path, items, index, pos), labels)
            for index, item in enumerate(items)
        ]
        return [example for example in examples if example is not None]

    def example(self, item: object, pos: Position, labels: list[str] | None) -> Example | None:
        if not isinstance(item, Mapping) or "given" not in item or "expect" not in item:
            self.error(pos, "an example needs given: (facts) and expect: (a list of intents)")
            return None
        self.unknown_keys(item, EXAMPLE_KEYS, "example")
        given_node = item["given"]
        given_pos = value_position(self.path, item, "given")
        given: dict[str, Scalar] = {}
        ok = True
        if not isinstance(given_node, Mapping):
            self.error(given_pos, f"given: expected fact: value lines, got {describe(given_node)}")
            ok = False
        else:
            for name, raw in given_node.items():
                name_pos = key_position(self.path, given_node, name)
                if name == IN_SEGMENT:
                    # `in_segment: vip_customers` or a list: the segments the customer is in.
                    members = self.example_segments(
                        raw, value_position(self.path, given_node, name)
                    )
                    if members is None:
                        ok = False
                    for member in members or ():
                        given[segment_fact(member)] = True
                    continue
                if name not in self.facts:
                    self.error(name_pos, f"unknown fact {name!r}{closest(str(name), self.facts)}")
                    ok = False
                    continue
                value = self.fact_value(
                    self.facts[str(name)], raw, value_position(self.path, given_node, name)
                )
                if value is None:
                    ok = False
                else:
                    given[str(name)] = value
        expect_node = item["expect"]
        expect_pos = value_position(self.path, item, "expect")
        expect: list[str] = []
        if not isinstance(expect_node, Sequence) or isinstance(expect_node, str):
            self.error(
                expect_pos,
                "expect: expected a list such as [start retention_offer] or [], "
                f"got {describe(expect_node)}",
            )
            ok = False
        else:
            for index, label in enumerate(expect_node):
                normal = " ".join(str(label).split())
                if labels is not None and normal not in labels:
                    self.error(
                        item_position(self.path, expect_node, index, expect_pos),
                        f"expect: this rule has no action {normal!r}{closest(normal, labels)} "
                        f"(its actions: {', '.join(labels) or 'none'})",
                    )
                    ok = False
                expect.append(normal)
        if not ok:
            return None
        return Example(given, tuple(expect), pos, expect_pos)

    def example_segments(self, raw: object, pos: Position) -> list[str] | None:
        items = raw if isinstance(raw, Sequence) and not isinstance(raw, str) else [raw]
        names = [
            self.segment_name(item, item_position(self.path, items, index, pos))
            for index, item in enumerate(items)
        ]
        return None if any(name is None for name in names) else [str(name) for name in names]


# What each action does with its params. A journey hands its params to its messages'
# templates (as variables; `occasion` also names what a greeting is for), so any name
# goes there except `template`: a journey's templates are set per message in
# journeys.yaml, and a `template` param used to be checked but never sent. `notify`
# uses `message` as the task's title, `assign_to` for whom it is (careflow/assignment.py)
# and `due_in` for its due time in business hours; `signal` and `tag` use none.
_PARAM_USE: dict[str, frozenset[str] | None] = {
    "start": None,
    "notify": frozenset({"message", "assign_to", "due_in"}),
    # A webhook's params go into its payload as they are.
    "webhook": None,
    "signal": frozenset(),
    "tag": frozenset(),
}


def _param_value_problem(action: str, name: str, value: object) -> str | None:
    """What is wrong with a `notify` param's value whose form careflow checks, if anything."""
    if action != "notify" or name not in ("assign_to", "due_in"):
        return None
    if not isinstance(value, str):
        return f"expected text, got {describe(value)}"
    if name == "assign_to":
        return target_problem(value)
    try:
        due_in_hours(value)
    except ValueError as problem:
        return str(problem)
    return None


def _unused_param(action: str, name: str) -> str | None:
    """Why `name` would be ignored in `action`'s params, or None when it is used."""
    if action == "start" and name == "template":
        return (
            "param 'template' is not used: a journey's messages and their templates are set "
            "in journeys.yaml (e.g. retention_offer.template, reminder_template); remove it "
            "here and change the template there"
        )
    used = _PARAM_USE.get(action)
    if used is None or name in used:
        return None
    if not used:
        return f"param {name!r} is not used: {action}: takes no params; remove it"
    return f"param {name!r} is not used: {action}: takes only {', '.join(sorted(used))}; remove it"

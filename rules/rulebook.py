"""A loaded, checked and compiled set of rule files: evaluate, explain, and its hash."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from rules.analysis import impossible_rule, shadowed_rules
from rules.compiler import compile_ruleset
from rules.conditions import first_failure
from rules.engine import CompiledRuleset
from rules.errors import RuleError, RuleFileError
from rules.facts import FACTS_BY_NAME
from rules.intents import Evaluation, Intent, RuleOutcome
from rules.model import Rule, Ruleset, leaves
from rules.parser import parse_ruleset
from rules.references import References, default_references

RULE_FILE_PATTERN = "*.rules.yaml"


@dataclass(frozen=True)
class _Loaded:
    """A ruleset with its compiled engine and the facts its rules read."""

    ruleset: Ruleset
    engine: CompiledRuleset
    facts: frozenset[str]
    rule_facts: Mapping[str, tuple[str, ...]]


class RuleBook:
    """Every ruleset of a rules folder, ready to evaluate. Safe to share between threads."""

    def __init__(self, rulesets: Sequence[Ruleset], content_hash: str) -> None:
        self.hash = content_hash
        self.rulesets = tuple(rulesets)
        self._loaded = tuple(
            _Loaded(
                ruleset,
                CompiledRuleset(ruleset.name, compile_ruleset(ruleset)),
                frozenset(leaf.fact for rule in ruleset.rules for leaf in leaves(rule.when)),
                {rule.id: _facts_of(rule) for rule in ruleset.rules},
            )
            for ruleset in self.rulesets
        )

    def evaluate(self, facts: Mapping[str, object]) -> Evaluation:
        """Every intent for this snapshot in priority order, and the fired rules to audit."""
        snapshot = clean_snapshot(facts)
        outcomes: list[tuple[int, RuleOutcome]] = []
        for loaded in self._loaded:
            for rule in _winners(loaded, _matching(loaded, snapshot)):
                outcomes.append((rule.priority, self._fired(loaded, rule, snapshot)))
        outcomes.sort(key=lambda item: -item[0])  # stable: ruleset and file order break ties
        return Evaluation(
            intents=tuple(intent for _, outcome in outcomes for intent in outcome.intents),
            outcomes=tuple(outcome for _, outcome in outcomes),
        )

    def explain(self, facts: Mapping[str, object]) -> list[RuleOutcome]:
        """Every rule: fired, or the first condition that failed with the actual value."""
        snapshot = clean_snapshot(facts)
        return [outcome for loaded in self._loaded for outcome in self._explain(loaded, snapshot)]

    def explain_ruleset(self, name: str, facts: Mapping[str, object]) -> list[RuleOutcome]:
        """`explain` for the rules of one ruleset only."""
        snapshot = clean_snapshot(facts)
        loaded = next(loaded for loaded in self._loaded if loaded.ruleset.name == name)
        return self._explain(loaded, snapshot)

    def _explain(self, loaded: _Loaded, snapshot: Mapping[str, object]) -> list[RuleOutcome]:
        matching = _matching(loaded, snapshot)
        winners = _winners(loaded, matching)
        winner_ids = {rule.id for rule in winners}
        return [
            self._fired(loaded, rule, snapshot)
            if rule.id in winner_ids
            else self._not_fired(loaded, rule, snapshot, matching, winners)
            for rule in loaded.ruleset.by_precedence
        ]

    def _fired(self, loaded: _Loaded, rule: Rule, snapshot: Mapping[str, object]) -> RuleOutcome:
        ruleset = loaded.ruleset
        return RuleOutcome(
            ruleset=ruleset.name,
            ruleset_hash=ruleset.hash,
            rule_id=rule.id,
            fired=True,
            intents=intents_of(ruleset, rule),
            matched_facts={name: snapshot.get(name) for name in loaded.rule_facts[rule.id]},
        )

    def _not_fired(
        self,
        loaded: _Loaded,
        rule: Rule,
        snapshot: Mapping[str, object],
        matching: frozenset[str],
        winners: list[Rule],
    ) -> RuleOutcome:
        ruleset = loaded.ruleset
        failed: str
        actual: object = None
        if not rule.enabled:
            failed = "the rule is switched off (enabled: false)"
        elif rule.id in matching and winners:
            failed = (
                f"its conditions hold, but rule {winners[0].id!r} fired first "
                "(this ruleset is first_match)"
            )
        else:
            failure = first_failure(rule.when, snapshot)
            failed = failure.condition if failure else "the rules engine found no match"
            actual = failure.actual if failure else None
        return RuleOutcome(
            ruleset=ruleset.name,
            ruleset_hash=ruleset.hash,
            rule_id=rule.id,
            fired=False,
            matched_facts={name: snapshot.get(name) for name in loaded.rule_facts[rule.id]},
            failed_condition=failed,
            actual_value=actual,
        )


def intents_of(ruleset: Ruleset, rule: Rule) -> tuple[Intent, ...]:
    """Fresh Intents for a fired rule (callers may keep or change their params)."""
    return tuple(
        Intent(
            action=spec.action,
            rule_id=rule.id,
            ruleset=ruleset.name,
            ruleset_hash=ruleset.hash,
            workflow=spec.workflow,
            signal=spec.signal,
            tag=spec.tag,
            team=spec.team,
            params=dict(spec.params),
            reenter_after_days=rule.reenter_after_days,
        )
        for spec in rule.then
    )


def _matching(loaded: _Loaded, snapshot: Mapping[str, object]) -> frozenset[str]:
    facts = {name: snapshot[name] for name in loaded.facts if name in snapshot}
    return loaded.engine.matching(facts)


def _winners(loaded: _Loaded, matching: frozenset[str]) -> list[Rule]:
    fired = [rule for rule in loaded.ruleset.by_precedence if rule.id in matching]
    return fired[:1] if loaded.ruleset.mode == "first_match" else fired


def _facts_of(rule: Rule) -> tuple[str, ...]:
    return tuple(dict.fromkeys(leaf.fact for leaf in leaves(rule.when)))


def clean_snapshot(facts: Mapping[str, object]) -> dict[str, object]:
    """Known facts with values of their declared type; None and NaN mean missing.

    A value of the wrong type is a fault in whatever computed the facts, so it
    raises TypeError naming the fact rather than silently never matching.
    """
    snapshot: dict[str, object] = {}
    for name, value in facts.items():
        definition = FACTS_BY_NAME.get(name)
        if definition is None or value is None:
            continue
        kind = definition.type
        if (kind == "boolean" and isinstance(value, bool)) or (
            kind == "text" and isinstance(value, str)
        ):
            snapshot[name] = value
        elif kind in ("integer", "number") and isinstance(value, int | float | Decimal):
            if isinstance(value, bool):
                raise TypeError(f"fact {name} is {kind}, got {value!r}")
            number = float(value) if isinstance(value, Decimal) else value
            if isinstance(number, float) and not math.isfinite(number):
                continue
            if kind == "integer" and isinstance(number, float):
                if not number.is_integer():
                    raise TypeError(f"fact {name} is a whole number, got {value!r}")
                number = int(number)
            snapshot[name] = number
        else:
            raise TypeError(f"fact {name} is {kind}, got {value!r}")
    return snapshot


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """Rule files named directly, and every `*.rules.yaml` inside folders named."""
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob(RULE_FILE_PATTERN)) if path.is_dir() else [path]
    return files


def load_rulebook(directory: Path, *, references: References | None = None) -> RuleBook:
    """Load, check and compile every `*.rules.yaml` in `directory`.

    Raises RuleFileError with every mistake (including failing examples).
    """
    return load_rule_files(rule_files([directory]), references=references)


def load_rule_files(files: Sequence[Path], *, references: References | None = None) -> RuleBook:
    """Load, check and compile the given rule files into one RuleBook."""
    references = references or default_references()
    errors: list[RuleError] = []
    rulesets: list[Ruleset] = []
    digest = hashlib.sha256()
    for path in files:
        try:
            content = path.read_bytes()
        except OSError as error:
            errors.append(RuleError(str(path), 1, 1, f"cannot read the file: {error.strerror}"))
            continue
        digest.update(path.name.encode() + b"\0" + content + b"\0")
        ruleset, file_errors = parse_ruleset(str(path), content, references)
        errors += file_errors
        if ruleset is not None:
            rulesets.append(ruleset)
    errors += _cross_file_errors(rulesets)
    for ruleset in rulesets:
        errors += [problem for rule in ruleset.rules if (problem := impossible_rule(rule))]
        errors += shadowed_rules(ruleset)
    if errors:
        raise RuleFileError(errors)
    rulebook = RuleBook(rulesets, digest.hexdigest())
    example_errors = failing_examples(rulebook)
    if example_errors:
        raise RuleFileError(example_errors)
    return rulebook


def _cross_file_errors(rulesets: list[Ruleset]) -> list[RuleError]:
    errors: list[RuleError] = []
    first: dict[str, Ruleset] = {}
    for ruleset in rulesets:
        if ruleset.name in first:
            errors.append(
                ruleset.pos.error(
                    f"ruleset name {ruleset.name!r} is already used by {first[ruleset.name].path}"
                )
            )
        first.setdefault(ruleset.name, ruleset)
    return errors


def failing_examples(rulebook: RuleBook) -> list[RuleError]:
    """Run every example of every enabled rule through its whole ruleset."""
    errors: list[RuleError] = []
    for ruleset in rulebook.rulesets:
        for rule in ruleset.rules:
            if not rule.enabled:
                continue
            for number, example in enumerate(rule.examples, start=1):
                outcomes = rulebook.explain_ruleset(ruleset.name, example.given)
                outcome = next(item for item in outcomes if item.rule_id == rule.id)
                got = sorted(spec.label for spec in rule.then) if outcome.fired else []
                if got == sorted(example.expect):
                    continue
                why = "" if outcome.fired else f" because {_because(outcome)}"
                errors.append(
                    example.expect_pos.error(
                        f"example {number} of rule {rule.id!r}: expected "
                        f"[{', '.join(example.expect)}], got [{', '.join(got)}]{why}"
                    )
                )
    return errors


def _because(outcome: RuleOutcome) -> str:
    text = f"{outcome.failed_condition} did not hold"
    if outcome.failed_condition and outcome.failed_condition.startswith("its conditions hold"):
        return outcome.failed_condition
    if isinstance(outcome.actual_value, dict):
        return text
    actual = "missing" if outcome.actual_value is None else repr(outcome.actual_value)
    return f"{text} (actual: {actual})"

"""A loaded, checked and compiled set of rule files: evaluate, explain, and its hash."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from careflow.config_files import OperatorFileTooLarge, read_operator_file
from careflow.custom_events import EVENTS_FILE_NAME
from careflow.rules.analysis import impossible_rule, shadowed_rules
from careflow.rules.compiler import compile_ruleset
from careflow.rules.conditions import first_failure, holds
from careflow.rules.derived_facts import (
    DERIVED_FACTS_FILE_NAME,
    NO_DERIVED_FACTS,
    DerivedFacts,
    DerivedFactsError,
    load_derived_facts,
    segment_fact,
    segment_of,
)
from careflow.rules.engine import CompiledRuleset
from careflow.rules.errors import RuleError, RuleFileError
from careflow.rules.explaining import OUTCOME_WORDS
from careflow.rules.facts import FACTS_BY_NAME, FactDefinition
from careflow.rules.intents import Evaluation, Intent, RuleOutcome
from careflow.rules.model import AllOf, Condition, Leaf, Rule, Ruleset, leaves
from careflow.rules.parser import parse_ruleset
from careflow.rules.phrases import Phrase
from careflow.rules.references import References
from careflow.rules.segments import SEGMENTS_FILE_NAME, SegmentBook, read_segments

RULE_FILE_PATTERN = "*.rules.yaml"
_NOTHING = Evaluation(intents=(), outcomes=())


@dataclass(frozen=True)
class FactNeeds:
    """What to compute for a snapshot that only some of a book's rules can match:
    the built-in facts (`compute_facts(only=)`) and the derived facts and segments."""

    builtin: frozenset[str]
    derived: DerivedFacts


@dataclass(frozen=True)
class _Loaded:
    """A ruleset, its rules in winning order with their engine keys, and what they read."""

    ruleset: Ruleset
    keyed: tuple[tuple[str, Rule], ...]  # (engine key, rule), highest precedence first
    rule_facts: Mapping[str, tuple[str, ...]]
    # What each rule asks for when it fires, built once: a daily scan fires the same
    # few rules for most customers every day. Shared by every outcome: read-only.
    rule_intents: Mapping[str, tuple[Intent, ...]]


class RuleBook:
    """Every ruleset of a rules folder, ready to evaluate. Safe to share between threads."""

    def __init__(
        self,
        rulesets: Sequence[Ruleset],
        content_hash: str,
        *,
        derived: DerivedFacts = NO_DERIVED_FACTS,
        segments: SegmentBook | None = None,
    ) -> None:
        self.hash = content_hash
        self.rulesets = tuple(rulesets)
        # The folder's segments (segments.yaml), all of them; those the rules name with
        # `in_segment:` travel in `derived`, so every snapshot carries their membership.
        self.segments = segments if segments is not None else SegmentBook({}, derived=derived)
        named = [
            name
            for name in self.segments.names()
            if any(name in _segments_of(rule) for ruleset in rulesets for rule in ruleset.rules)
        ]
        if named or derived.segments:
            derived = self.segments.derived_for(named)
        # The folder's derived facts: computed with the built-in ones for every snapshot.
        self.derived = derived
        self.facts = derived.schema
        self._loaded = tuple(
            _Loaded(
                ruleset,
                tuple((f"{index}/{rule.id}", rule) for rule in ruleset.by_precedence),
                {rule.id: _facts_of(rule) for rule in ruleset.rules},
                {rule.id: intents_of(ruleset, rule) for rule in ruleset.rules},
            )
            for index, ruleset in enumerate(self.rulesets)
        )
        # One durable_rules ruleset for the whole book: one assert per snapshot, however
        # many files there are; first_match is applied per file afterwards.
        self._engine = CompiledRuleset(
            "careflow",
            {
                f"{index}/{rule_id}": condition
                for index, ruleset in enumerate(self.rulesets)
                for rule_id, condition in compile_ruleset(ruleset).items()
            },
        )
        self._needs_by_event: dict[str, FactNeeds] = {}
        # Only the facts some rule reads are cleaned and given to the engine.
        self._kinds = fact_kinds(
            dict.fromkeys(
                leaf.fact
                for ruleset in self.rulesets
                for rule in ruleset.rules
                for leaf in leaves(rule.when)
            ),
            self.facts,
        )

    def evaluate(self, facts: Mapping[str, object]) -> Evaluation:
        """Every intent for this snapshot in priority order, and the fired rules to audit."""
        snapshot = _clean(facts, self._kinds)
        matching = self._matching(snapshot)
        if not matching:
            return _NOTHING  # the common case in a daily scan
        outcomes: list[tuple[int, RuleOutcome]] = []
        for loaded in self._loaded:
            for rule in _winners(loaded, matching):
                outcomes.append((rule.priority, self._fired(loaded, rule, snapshot)))
        outcomes.sort(key=lambda item: -item[0])  # stable: ruleset and file order break ties
        return Evaluation(
            intents=tuple(intent for _, outcome in outcomes for intent in outcome.intents),
            outcomes=tuple(outcome for _, outcome in outcomes),
        )

    def needs_for_event(self, event_type: str) -> FactNeeds:
        """The facts an event of `event_type` can need: those read by every rule that
        may fire on it (all but the rules whose conditions require another event type),
        with the segments those rules name and the facts the segments read.

        An event's rules are a few of the book's (most are the daily scan's); the other
        rules cannot fire on its snapshot whatever their facts are, so computing their
        facts is work with no effect on the evaluation (a derived fact is a query).
        Worked out once per event type: a RuleBook never changes.
        """
        needs = self._needs_by_event.get(event_type)
        if needs is None:
            needs = self._needs_by_event[event_type] = self._work_out_needs(event_type)
        return needs

    def _work_out_needs(self, event_type: str) -> FactNeeds:
        read: set[str] = set()
        for ruleset in self.rulesets:
            for rule in ruleset.rules:
                if _may_fire_on(rule.when, event_type):
                    read.update(leaf.fact for leaf in leaves(rule.when))
        segments = {
            name: condition
            for name, condition in self.derived.segments.items()
            if segment_fact(name) in read
        }
        for condition in segments.values():
            read.update(leaf.fact for leaf in leaves(condition))
        derived = replace(
            self.derived,
            specs={name: spec for name, spec in self.derived.specs.items() if name in read},
            segments=segments,
        )
        return FactNeeds(frozenset(read & FACTS_BY_NAME.keys()), derived)

    def explain(self, facts: Mapping[str, object]) -> list[RuleOutcome]:
        """Every rule: fired, or the first condition that failed with the actual value."""
        snapshot = _clean(facts, self._kinds)
        matching = self._matching(snapshot)
        return [
            outcome
            for loaded in self._loaded
            for outcome in self._explain(loaded, snapshot, matching)
        ]

    def explain_ruleset(self, name: str, facts: Mapping[str, object]) -> list[RuleOutcome]:
        """`explain` for the rules of one ruleset only."""
        snapshot = _clean(facts, self._kinds)
        loaded = next(loaded for loaded in self._loaded if loaded.ruleset.name == name)
        return self._explain(loaded, snapshot, self._matching(snapshot))

    def _matching(self, snapshot: Mapping[str, object]) -> frozenset[str]:
        """Engine keys of every rule whose conditions hold, in any ruleset.

        `snapshot` holds only facts some rule reads, so the engine sees no more.
        """
        return self._engine.matching(snapshot)

    def _explain(
        self, loaded: _Loaded, snapshot: Mapping[str, object], matching: frozenset[str]
    ) -> list[RuleOutcome]:
        winners = _winners(loaded, matching)
        winner_ids = {rule.id for rule in winners}
        return [
            self._fired(loaded, rule, snapshot)
            if rule.id in winner_ids
            else self._not_fired(loaded, rule, snapshot, key in matching, winners)
            for key, rule in loaded.keyed
        ]

    def _fired(self, loaded: _Loaded, rule: Rule, snapshot: Mapping[str, object]) -> RuleOutcome:
        ruleset = loaded.ruleset
        return RuleOutcome(
            ruleset=ruleset.name,
            ruleset_hash=ruleset.hash,
            rule_id=rule.id,
            fired=True,
            intents=loaded.rule_intents[rule.id],
            matched_facts={name: snapshot.get(name) for name in loaded.rule_facts[rule.id]},
        )

    def _not_fired(
        self,
        loaded: _Loaded,
        rule: Rule,
        snapshot: Mapping[str, object],
        holds: bool,
        winners: list[Rule],
    ) -> RuleOutcome:
        ruleset = loaded.ruleset
        failed: Phrase
        actual: object = None
        if not rule.enabled:
            failed = OUTCOME_WORDS("outcome.disabled")
        elif holds and winners:
            failed = OUTCOME_WORDS("outcome.first_match", winner=winners[0].id)
        else:
            failure = first_failure(rule.when, snapshot)
            failed = failure.condition if failure else OUTCOME_WORDS("outcome.no_match")
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
    """The Intents of a fired rule."""
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
            webhook=spec.webhook,
            params=dict(spec.params),
            reenter_after_days=rule.reenter_after_days,
        )
        for spec in rule.then
    )


def _winners(loaded: _Loaded, matching: frozenset[str]) -> list[Rule]:
    fired = [rule for key, rule in loaded.keyed if key in matching]
    return fired[:1] if loaded.ruleset.mode == "first_match" else fired


def _may_fire_on(condition: Condition, event_type: str) -> bool:
    """False when the condition requires an event type other than `event_type`: a
    test of `event_type` among the tests that must all hold fails for it. (A test
    inside `any` or `not` is not required, so such a rule is kept.)"""
    required = _required_tests(condition)
    return all(
        holds(test, {"event_type": event_type}) for test in required if test.fact == "event_type"
    )


def _required_tests(condition: Condition) -> list[Leaf]:
    """The leaf tests that hold whenever the condition does (those of nested `all`s)."""
    if isinstance(condition, Leaf):
        return [condition]
    if isinstance(condition, AllOf):
        return [test for item in condition.items for test in _required_tests(item)]
    return []


def _facts_of(rule: Rule) -> tuple[str, ...]:
    return tuple(dict.fromkeys(leaf.fact for leaf in leaves(rule.when)))


def _segments_of(rule: Rule) -> set[str]:
    return {name for leaf in leaves(rule.when) if (name := segment_of(leaf.fact)) is not None}


# The types a fact's value already has when it comes straight from careflow.facts.
_PLAIN_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "text": (str,),
    "integer": (int,),
    "number": (int, float),
}


def clean_snapshot(
    facts: Mapping[str, object],
    names: Iterable[str] | None = None,
    *,
    schema: Mapping[str, FactDefinition] = FACTS_BY_NAME,
) -> dict[str, object]:
    """Known facts (only `names`, if given) with values of their declared type.

    None and NaN mean missing; Decimal money becomes float. A value of the wrong
    type is a fault in whatever computed the facts, so it raises TypeError naming
    the fact rather than silently never matching.
    """
    return _clean(facts, fact_kinds(facts if names is None else names, schema))


FactKinds = tuple[tuple[str, str, tuple[type, ...]], ...]


def fact_kinds(
    names: Iterable[str], facts: Mapping[str, FactDefinition] = FACTS_BY_NAME
) -> FactKinds:
    """(name, type, plain Python types) of the known facts among `names`."""
    return tuple(
        (name, facts[name].type, _PLAIN_TYPES[facts[name].type]) for name in names if name in facts
    )


def _clean(facts: Mapping[str, object], kinds: FactKinds) -> dict[str, object]:
    snapshot: dict[str, object] = {}
    for name, kind, plain in kinds:
        value = facts.get(name)
        if value is None:
            continue
        if type(value) in plain and (type(value) is not float or math.isfinite(value)):
            snapshot[name] = value
            continue
        converted = _converted(name, kind, value)
        if converted is not None:
            snapshot[name] = converted
    return snapshot


def _converted(name: str, kind: str, value: object) -> object:
    """The slow path of clean_snapshot: Decimals, whole floats, NaN, and faults."""
    if kind in ("integer", "number") and isinstance(value, int | float | Decimal):
        if isinstance(value, bool):
            raise TypeError(f"fact {name} is {kind}, got {value!r}")
        number = float(value) if isinstance(value, Decimal) else value
        if isinstance(number, float) and not math.isfinite(number):
            return None
        if kind == "integer" and isinstance(number, float):
            if not number.is_integer():
                raise TypeError(f"fact {name} is a whole number, got {value!r}")
            return int(number)
        return number
    raise TypeError(f"fact {name} is {kind}, got {value!r}")


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """Rule files named directly, and every `*.rules.yaml` inside folders named."""
    files: list[Path] = []
    for path in paths:
        files += sorted(path.glob(RULE_FILE_PATTERN)) if path.is_dir() else [path]
    return files


def load_rulebook(directory: Path, *, references: References) -> RuleBook:
    """Load, check and compile every `*.rules.yaml` in `directory`.

    Raises RuleFileError with every mistake (including failing examples). The
    references come from the process that loads the rules (careflow/rule_references.py).
    """
    return load_rule_files(rule_files([directory]), references=references, folder=directory)


def load_rule_files(
    files: Sequence[Path], *, references: References, folder: Path | None = None
) -> RuleBook:
    """Load, check and compile the given rule files into one RuleBook.

    The derived facts (and declared events) the rules may name come from `folder`,
    by default the folder of the first file.
    """
    errors: list[RuleError] = []
    rulesets: list[Ruleset] = []
    digest = hashlib.sha256()
    if folder is None and files:
        folder = files[0].parent
    derived = NO_DERIVED_FACTS
    segments = SegmentBook({}, derived=derived)
    if folder is not None:
        try:
            derived = load_derived_facts(folder)
        except DerivedFactsError as error:
            errors += error.errors
        segments, segment_errors = read_segments(folder, derived)
        errors += segment_errors
        # What a derived fact or a segment means is part of what the rules decide on.
        for name in (DERIVED_FACTS_FILE_NAME, EVENTS_FILE_NAME, SEGMENTS_FILE_NAME):
            if (folder / name).is_file():
                digest.update(name.encode() + b"\0" + (folder / name).read_bytes() + b"\0")
    for path in files:
        try:
            content = read_operator_file(path)
        except OSError as error:
            errors.append(RuleError(str(path), 1, 1, f"cannot read the file: {error.strerror}"))
            continue
        except OperatorFileTooLarge as error:
            errors.append(RuleError(str(path), 1, 1, str(error)))
            continue
        digest.update(path.name.encode() + b"\0" + content + b"\0")
        ruleset, file_errors = parse_ruleset(
            str(path), content, references, facts=derived.schema, segments=segments.names()
        )
        errors += file_errors
        if ruleset is not None:
            rulesets.append(ruleset)
    errors += _cross_file_errors(rulesets)
    for ruleset in rulesets:
        errors += [problem for rule in ruleset.rules if (problem := impossible_rule(rule))]
        errors += shadowed_rules(ruleset)
    # Examples run for every file without other mistakes, so one check shows everything.
    broken = {error.path for error in errors}
    usable = [ruleset for ruleset in rulesets if ruleset.path not in broken]
    rulebook = RuleBook(usable, digest.hexdigest(), derived=derived, segments=segments)
    errors += failing_examples(rulebook)
    if errors:
        raise RuleFileError(errors)
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

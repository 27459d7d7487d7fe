"""Suppression: outreach held back while a condition over the customer's facts holds.

`rules/outreach_policy.yaml` lists suppressions, each a condition in the rule
condition language over any fact (built-in, or derived in `derived_facts.yaml`), the
topics (and optionally templates) it holds back, and whether a held message is
deferred (looked at again after `recheck_after_hours`) or skipped:

    suppression:
      - id: no-marketing-during-complaint
        topics: [marketing]
        when:
          any:
            - open_complaints: {at_least: 1}
            - complaints_resolved_last_7d: {at_least: 1}
        action: defer

The send step asks `suppression_decision` right before sending, like consent: the
customer's facts are computed as of that moment, so a complaint opened a second
before a coupon is due stops the coupon. The answer is a `PolicyDecision` with
reason `suppressed` and the suppression's id and description, recorded in the
ledger, shown on the timeline and counted in the KPIs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from careflow.config_files import file_version
from careflow.facts.config import TIERS_FILE_NAME, FactsConfig, load_facts_config
from careflow.outreach.decisions import PolicyDecision, Reason, Topic
from careflow.outreach.policy_config import (
    POLICY_FILE_NAME,
    OutreachPolicy,
    OutreachPolicyError,
    load_outreach_policy,
)
from careflow.rules.conditions import holds
from careflow.rules.derived_facts import (
    NO_DERIVED_FACTS,
    DerivedFacts,
    DerivedFactsError,
    load_derived_facts,
)
from careflow.rules.errors import Position, RuleError
from careflow.rules.model import Condition, leaves
from careflow.rules.parser import parse_condition
from careflow.rules.yamlfile import value_position


@dataclass(frozen=True)
class Suppression:
    """One suppression of the policy, its condition parsed."""

    id: str
    description: str
    topics: frozenset[Topic]
    templates: frozenset[str]
    condition: Condition
    action: str  # "defer" or "skip"
    recheck_after: timedelta

    def applies_to(self, topic: Topic, template_id: str) -> bool:
        return topic in self.topics and (not self.templates or template_id in self.templates)


@dataclass(frozen=True)
class Suppressions:
    """The policy's suppressions, the derived facts their conditions name and the
    facts configuration (tiers.yaml) of the same folder, to compute them with."""

    rules: tuple[Suppression, ...]
    derived: DerivedFacts
    # None: the configured folder's tiers.yaml (a folder without one, in tests).
    facts_config: FactsConfig | None = None
    # Every fact the conditions name: the send step computes only these.
    facts: frozenset[str] = frozenset()

    def applying_to(self, topic: Topic, template_id: str) -> list[Suppression]:
        return [rule for rule in self.rules if rule.applies_to(topic, template_id)]


def suppression_decision(
    rules: list[Suppression], facts: Mapping[str, object], now: datetime
) -> PolicyDecision | None:
    """The first suppression that holds for these facts, as a decision; None when none does."""
    for rule in rules:
        if not holds(rule.condition, facts):
            continue
        why = f"{rule.id}" + (f" ({rule.description})" if rule.description else "")
        if rule.action == "skip":
            return PolicyDecision.skip(Reason.SUPPRESSED, why)
        until = now + rule.recheck_after
        return PolicyDecision.defer(
            until, Reason.SUPPRESSED, f"{why}; looked at again {until:%Y-%m-%d %H:%M} UTC"
        )
    return None


def compile_suppressions(
    policy: OutreachPolicy, derived: DerivedFacts, path: Path
) -> tuple[tuple[Suppression, ...], list[RuleError]]:
    """Each suppression with its condition parsed against the fact schema; every
    mistake at its line and column in `path`."""
    rules: list[Suppression] = []
    errors: list[RuleError] = []
    schema = derived.schema
    for index, item in enumerate(policy.suppression):
        pos = _when_position(path, item.when, index)
        condition, problems = parse_condition(str(path), item.when, pos, facts=schema)
        errors += problems
        if condition is None or problems:
            continue
        rules.append(
            Suppression(
                id=item.id,
                description=item.description,
                topics=frozenset(item.topics),
                templates=frozenset(item.templates),
                condition=condition,
                action=item.action,
                recheck_after=item.recheck_after,
            )
        )
    return tuple(rules), errors


def _when_position(path: Path, when: object, index: int) -> Position:
    """Where a suppression's `when` starts (its first key), for a message about all of it."""
    lc = getattr(when, "lc", None)
    if lc is not None and isinstance(when, Mapping) and when:
        first = next(iter(when))
        return value_position(str(path), when, first)
    return Position(str(path), 1, 1)


def load_suppressions(policy: OutreachPolicy, rules_dir: Path) -> Suppressions:
    """The suppressions of `policy` (the outreach policy of `rules_dir`), their
    conditions parsed against that folder's facts; OutreachPolicyError naming every
    mistake (in the conditions, or the derived facts they may name).

    The send step asks this for every message, so the answer is kept while the policy,
    the derived facts (both cached per file version, so the same objects while their
    files are unchanged) and tiers.yaml stay the same: parsing the conditions again
    cost 0.15-0.3 ms a message. Only the facts the conditions name are computed: the
    send step computes them for every message a suppression applies to, and the
    folder may define many more derived facts (each a query of its own).
    """
    path = rules_dir / POLICY_FILE_NAME
    if not policy.suppression:
        return Suppressions((), NO_DERIVED_FACTS)
    try:
        derived = load_derived_facts(rules_dir)
    except DerivedFactsError as error:
        raise OutreachPolicyError(path, [str(problem) for problem in error.errors]) from None
    tiers = rules_dir / TIERS_FILE_NAME
    tiers_version = file_version(tiers)
    kept = _compiled.get(rules_dir)
    if kept is not None and kept.made_from(policy, derived, tiers_version):
        return kept.suppressions
    suppressions = _compile(policy, derived, path, tiers)
    _compiled[rules_dir] = _Compiled(policy, derived, tiers_version, suppressions)
    return suppressions


@dataclass(frozen=True)
class _Compiled:
    """The last answer for a folder and what it was computed from (held, so that an
    object compared with `is` cannot be collected and its id reused)."""

    policy: OutreachPolicy
    derived: DerivedFacts
    tiers_version: tuple[int, ...] | None
    suppressions: Suppressions

    def made_from(
        self, policy: OutreachPolicy, derived: DerivedFacts, tiers_version: tuple[int, ...] | None
    ) -> bool:
        return (
            self.policy is policy
            and self.derived is derived
            and self.tiers_version == tiers_version
        )


_compiled: dict[Path, _Compiled] = {}


def _compile(
    policy: OutreachPolicy, derived: DerivedFacts, path: Path, tiers: Path
) -> Suppressions:
    rules, errors = compile_suppressions(policy, derived, path)
    if errors:
        raise OutreachPolicyError(path, [str(problem) for problem in errors])
    named = frozenset(leaf.fact for rule in rules for leaf in leaves(rule.condition))
    needed = replace(
        derived, specs={name: spec for name, spec in derived.specs.items() if name in named}
    )
    config = load_facts_config(tiers) if tiers.is_file() else None
    return Suppressions(rules, needed, config, named)


def suppression_problems(rules_dir: Path) -> list[str]:
    """Every mistake in the suppression conditions of the folder's outreach policy, as
    `path:line:col: message` (for `careflow rules check`); none when there is no policy."""
    path = rules_dir / POLICY_FILE_NAME
    if not path.is_file():
        return []
    try:
        load_suppressions(load_outreach_policy(path), rules_dir)
    except OutreachPolicyError as error:
        return list(error.problems)
    return []

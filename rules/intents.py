"""What a rule can ask for: the closed list of intents, and the result of an evaluation.

Rules decide *what* should happen; the dispatcher (activities/dispatch.py) turns
intents into workflow starts, signals, tags and notifications, and outreach
policies decide *whether and when* a message goes out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

IntentAction = Literal[
    "start_workflow", "signal_workflow", "tag_customer", "notify_team", "call_webhook"
]
ParamValue = str | int | float | bool
# `notify: account-manager` is a call task for the customer's own account manager
# (the service team when none is on file), not a team's notification.
ACCOUNT_MANAGER_TARGET = "account-manager"


@dataclass(frozen=True)
class Intent:
    """One thing a rule asks for, with the rule that asked and the ruleset's content hash."""

    action: IntentAction
    rule_id: str
    ruleset: str
    ruleset_hash: str
    workflow: str | None = None  # journey name from workflows.registry, for start/signal
    signal: str | None = None  # for signal_workflow
    tag: str | None = None  # for tag_customer
    team: str | None = None  # for notify_team
    params: dict[str, ParamValue] = field(default_factory=dict)
    reenter_after_days: int | None = None  # None: never re-enter once a journey ran
    # The release (careflow/releases/) whose rules asked; stamped by the activity that
    # evaluated them, None when rules were read from files outside any release.
    release_id: str | None = None
    webhook: str | None = None  # endpoint of webhooks.yaml, for call_webhook

    @property
    def label(self) -> str:
        """How rule examples and `careflow rules explain` name it: `start retention_offer`."""
        return intent_label(
            self.action, self.workflow, self.signal, self.tag, self.team, webhook=self.webhook
        )


def intent_label(
    action: IntentAction,
    workflow: str | None,
    signal: str | None,
    tag: str | None,
    team: str | None,
    *,
    webhook: str | None = None,
) -> str:
    """`start X`, `signal S to X`, `tag T`, `notify TEAM` or `webhook NAME`."""
    if action == "start_workflow":
        return f"start {workflow}"
    if action == "signal_workflow":
        return f"signal {signal} to {workflow}"
    if action == "tag_customer":
        return f"tag {tag}"
    if action == "call_webhook":
        return f"webhook {webhook}"
    return f"notify {team}"


@dataclass(frozen=True)
class RuleOutcome:
    """Whether one rule fired for one snapshot; if not, the first condition that failed."""

    ruleset: str
    ruleset_hash: str
    rule_id: str
    fired: bool
    intents: tuple[Intent, ...] = ()
    matched_facts: dict[str, object] = field(default_factory=dict)
    failed_condition: str | None = None  # plain words, e.g. "tier is vip"
    actual_value: object = None


@dataclass(frozen=True)
class Evaluation:
    """Every intent for one snapshot, in priority order, and the decisions to audit."""

    intents: tuple[Intent, ...]
    outcomes: tuple[RuleOutcome, ...]

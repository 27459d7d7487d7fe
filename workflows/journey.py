"""What every journey is started with: ids and the rule that started it, never personal data."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class JourneyInput:
    """The one argument of every journey workflow.

    `subject` is the business key the journey is about when a customer can have
    several at once (a complaint id, an occasion such as `birthday-2026`).
    """

    customer_id: str
    rule_id: str = ""
    ruleset_hash: str = ""
    subject: str = ""
    params: dict[str, str | int | float | bool] = field(default_factory=dict)

"""Every workflow id is built here, from business keys.

A repeated trigger for the same business key yields the same id, so Temporal
itself refuses a second journey: no duplicate sends, whatever rescans or replays
happen upstream. Ids carry external customer ids (the business's own keys),
never names or addresses.
"""

from __future__ import annotations

from datetime import date

# Ids are limited to a safe alphabet so they read well in the Temporal UI and
# cannot smuggle separators from customer-supplied keys.
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:@")


def _key(value: str) -> str:
    return "".join(ch if ch in _SAFE else "_" for ch in value)


def event_workflow_id(event_id: str) -> str:
    """The workflow that evaluates rules for one intake event."""
    return f"event-{_key(event_id)}"


def journey_workflow_id(
    journey: str,
    customer_id: str,
    rule_id: str,
    *,
    subject: str | None = None,
    on: date | None = None,
    reenter_after_days: int | None = None,
) -> str:
    """The id of a journey started by a rule.

    `subject` names what the journey is about when a customer can have several at
    once (a complaint id, an occasion such as `birthday-2026`). Without re-entry a
    journey runs once per business key, ever; with `reenter_after_days` the key
    includes the period, so the journey can start again in the next period.
    """
    parts = [journey, _key(customer_id), _key(rule_id)]
    if subject:
        parts.append(_key(subject))
    if reenter_after_days and on is not None:
        parts.append(f"p{on.toordinal() // reenter_after_days}")
    return "-".join(parts)


def complaint_workflow_id(customer_id: str, complaint_id: str) -> str:
    """One escalation per complaint, whichever rule starts it, so signals can find it."""
    return f"complaint-{_key(customer_id)}-{_key(complaint_id)}"


def scan_workflow_id(day: date) -> str:
    """One daily scan per calendar day."""
    return f"daily-scan-{day.isoformat()}"


def care_message_workflow_id(customer_id: str, rule_id: str, occasion: str) -> str:
    """One greeting per customer, rule and occasion-with-year (`birthday-2026`), ever."""
    return f"care_message-{_key(customer_id)}-{_key(rule_id)}-{_key(occasion)}"


def contact_change_workflow_id(customer_id: str, rule_id: str, on: date) -> str:
    """At most one contact-change notice per customer and day: staff get one email a day."""
    return f"contact_change_notice-{_key(customer_id)}-{_key(rule_id)}-{on.isoformat()}"

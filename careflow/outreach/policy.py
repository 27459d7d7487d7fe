"""Whether and when one message may go out: consent, contact budget, quiet hours.

`decide_outreach` is the single entry point the send step calls immediately before
sending (and again after every deferral). It is pure: the customer's consent,
erasure flag, time zone and message history come in as data, `now` is an argument,
and the answer is a `PolicyDecision` - send, defer until a time, or skip with a
reason. The checks run in this order because each later one only makes sense if the
earlier one passed:

1. consent - a skip here is final (see `consent.py`);
1a. suppression - a condition of the policy over the customer's facts (an open
   complaint) defers or skips the message (see `suppression.py`);
2. contact budget - the earliest slot with room, or a skip when the message kind
   says `skip` or the slot is further away than `max_delay_days` (see `budget.py`);
3. quiet hours in the customer's zone, applied to that slot (see `quiet_hours.py`).

Budget room only grows while nothing is sent, so moving the budget slot forward
out of quiet hours keeps it inside the budget: the deferral is the earliest time
both allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from careflow.outreach.budget import SentMessage, next_budget_slot
from careflow.outreach.consent import consent_decision
from careflow.outreach.decisions import PolicyDecision, Reason, Topic
from careflow.outreach.policy_config import OutreachPolicy, OverBudget
from careflow.outreach.quiet_hours import next_allowed_time
from careflow.outreach.zones import customer_zone


@dataclass(frozen=True)
class OutreachRequest:
    """One intended message and what the store knows about its customer right now."""

    template_id: str
    topic: Topic
    consent: bool | None  # recorded choice for this channel and topic; None: never asked
    erased: bool = False
    time_zone: str | None = None  # IANA name from the customer's record
    history: Sequence[SentMessage] = ()  # messages sent within at least the budget window
    # What a suppression of the policy says for this message now, when one holds
    # (computed from the customer's facts before deciding: see suppression.py).
    suppressed: PolicyDecision | None = None


def decide_outreach(
    request: OutreachRequest, policy: OutreachPolicy, now: datetime
) -> PolicyDecision:
    """Send now, defer until an aware-UTC time, or skip with a reason."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    now = now.astimezone(UTC)
    consent = consent_decision(
        request.topic, request.consent, erased=request.erased, care=policy.consent.care
    )
    if not consent.allowed:
        return consent
    if request.suppressed is not None:
        return request.suppressed

    slot = next_budget_slot(request.topic, request.history, now, policy.contact_budget.budget())
    if slot is None:
        return PolicyDecision.skip(
            Reason.BUDGET_DISABLED, f"the contact budget allows no {request.topic} messages"
        )
    if slot > now:
        handling = policy.handling(request.template_id)
        if handling.over_budget is OverBudget.SKIP:
            return PolicyDecision.skip(
                Reason.OVER_BUDGET, f"contact budget used up until {slot:%Y-%m-%d %H:%M} UTC"
            )
        if handling.max_delay is not None and slot - now > handling.max_delay:
            return PolicyDecision.skip(
                Reason.OVER_BUDGET,
                f"next budget slot {slot:%Y-%m-%d %H:%M} UTC is more than "
                f"{handling.max_delay} away, the limit for {request.template_id}",
            )

    send_at = slot
    if request.topic in policy.quiet_hours.applies_to:
        zone = customer_zone(request.time_zone, policy.default_timezone)
        send_at = next_allowed_time(slot, zone, policy.quiet_hours.hours())
    if send_at == now:
        return PolicyDecision.send()
    if slot > now:
        return PolicyDecision.defer(
            send_at,
            Reason.OVER_BUDGET,
            f"contact budget used up; next slot outside quiet hours {send_at:%Y-%m-%d %H:%M} UTC",
        )
    return PolicyDecision.defer(
        send_at,
        Reason.QUIET_HOURS,
        f"quiet hours in the customer's time zone until {send_at:%Y-%m-%d %H:%M} UTC",
    )

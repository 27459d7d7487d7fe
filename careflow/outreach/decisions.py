"""What the outreach policies answer: send now, defer until a time, or skip with a reason.

Expected outcomes are values, never exceptions, and never silent: every decision
carries a machine-readable reason for the audit and a sentence for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Topic(StrEnum):
    """What a message is about; decides consent, budget and quiet hours.

    The topic of a message is fixed by its journey in code, never by an operator's
    file, so no configuration can turn a marketing message into a transactional one.
    """

    TRANSACTIONAL = "transactional"  # complaint acknowledgements, case updates
    CARE = "care"  # surveys, onboarding, greetings without an offer
    MARKETING = "marketing"  # offers, coupons, win-back


class Action(StrEnum):
    SEND = "send"
    DEFER = "defer"
    SKIP = "skip"


class Reason(StrEnum):
    """Why a decision was taken; stored in the ledger and shown in the timeline."""

    ALLOWED = "allowed"
    ERASED = "customer_erased"
    NO_ADDRESS = "no_address"  # nothing to send to on this channel
    NO_MARKETING_CONSENT = "no_marketing_consent"
    NO_CARE_CONSENT = "no_care_consent"
    OPTED_OUT = "opted_out"
    QUIET_HOURS = "quiet_hours"
    OVER_BUDGET = "over_budget"
    BUDGET_DISABLED = "budget_disabled"
    # A suppression of outreach_policy.yaml holds (an open complaint, say).
    SUPPRESSED = "suppressed"
    # Only a preview says this: the step's ledger row is already final (sent or skipped).
    ALREADY_DONE = "already_done"


@dataclass(frozen=True)
class PolicyDecision:
    """The answer for one intended message at one moment."""

    action: Action
    reason: Reason
    detail: str = ""
    until: datetime | None = None  # for DEFER: the earliest aware-UTC time to try again

    @classmethod
    def send(cls) -> PolicyDecision:
        return cls(Action.SEND, Reason.ALLOWED)

    @classmethod
    def defer(cls, until: datetime, reason: Reason, detail: str) -> PolicyDecision:
        return cls(Action.DEFER, reason, detail, until)

    @classmethod
    def skip(cls, reason: Reason, detail: str) -> PolicyDecision:
        return cls(Action.SKIP, reason, detail)

    @property
    def allowed(self) -> bool:
        return self.action is Action.SEND


def reason_code(stored: str | None) -> str:
    """The reason code a stored reason starts with (`no_marketing_consent: ...` -> its
    code), for counting skips by reason."""
    return (stored or "unknown").split(":", 1)[0].strip() or "unknown"

"""The contact budget: how many non-transactional messages a customer may get.

Counted over a rolling window across all journeys:

- transactional messages are never counted and never held back;
- at most `marketing_max` marketing messages in any window;
- at most `total_max` care and marketing messages together in any window. Because
  marketing can use at most `marketing_max` of them, care always keeps
  `total_max - marketing_max` slots: offers can never starve care messages.

A message is counted in a window `(t - window, t]`, so it stops counting exactly
`window` after it was sent. Pure: history and `now` are arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from careflow.outreach.decisions import Topic


@dataclass(frozen=True)
class ContactBudget:
    """Limits per customer per rolling `window`; see the module docstring."""

    window: timedelta
    marketing_max: int
    total_max: int

    def __post_init__(self) -> None:
        if self.window <= timedelta(0):
            raise ValueError("the budget window must be positive")
        if not 0 <= self.marketing_max <= self.total_max:
            raise ValueError("need 0 <= marketing_max <= total_max")


@dataclass(frozen=True)
class SentMessage:
    """One message already sent to the customer (from the outreach ledger)."""

    topic: Topic
    sent_at: datetime


def next_budget_slot(
    topic: Topic, history: Iterable[SentMessage], now: datetime, budget: ContactBudget
) -> datetime | None:
    """The earliest time at or after `now` when a `topic` message fits the budget.

    `now` itself when it fits now; None when it can never fit (a limit of zero).
    Assumes nothing else is sent meanwhile: the send step asks again before sending.
    """
    if topic is Topic.TRANSACTIONAL:
        return now
    counted = [m.sent_at for m in history if m.topic is not Topic.TRANSACTIONAL]
    limits: list[tuple[int, Sequence[datetime]]] = [(budget.total_max, counted)]
    if topic is Topic.MARKETING:
        marketing = [m.sent_at for m in history if m.topic is Topic.MARKETING]
        limits.append((budget.marketing_max, marketing))
    slot = now
    for limit, sent in limits:
        if limit <= 0:
            return None
        room_from = _room_from(sent, limit, budget.window)
        if room_from is not None and room_from > slot:
            slot = room_from
    return slot


def _room_from(sent: Sequence[datetime], limit: int, window: timedelta) -> datetime | None:
    """When fewer than `limit` of `sent` count, assuming no new sends; None: always.

    A send at `s` counts while `t < s + window`; for fewer than `limit` to count,
    the `limit`-th most recent must have dropped out.
    """
    if len(sent) < limit:
        return None
    return sorted(sent, reverse=True)[limit - 1] + window

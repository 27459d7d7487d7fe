"""The contact budget: never more than allowed in any window, and care is never starved."""

from __future__ import annotations

import heapq
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from careflow.outreach import ContactBudget, SentMessage, Topic, next_budget_slot

T0 = datetime(2026, 11, 1, tzinfo=UTC)
WEEK = timedelta(days=7)
BUDGET = ContactBudget(window=WEEK, marketing_max=2, total_max=3)


def sent(topic: Topic, days: float) -> SentMessage:
    return SentMessage(topic, T0 + timedelta(days=days))


def test_transactional_is_never_counted_nor_held_back() -> None:
    history = [sent(Topic.MARKETING, 0), sent(Topic.CARE, 0), sent(Topic.CARE, 0)]
    history += [sent(Topic.TRANSACTIONAL, 0)] * 50
    now = T0 + timedelta(hours=1)
    assert next_budget_slot(Topic.TRANSACTIONAL, history, now, BUDGET) == now
    # The 50 transactional mails did not use up anything: 3 counted, total_max is 3.
    assert next_budget_slot(Topic.CARE, history, now, BUDGET) == T0 + WEEK


def test_marketing_waits_until_the_oldest_counted_send_leaves_the_window() -> None:
    history = [sent(Topic.MARKETING, 1), sent(Topic.MARKETING, 3)]
    now = T0 + timedelta(days=4)
    assert next_budget_slot(Topic.MARKETING, history, now, BUDGET) == T0 + timedelta(days=8)
    # At exactly that instant the first send no longer counts.
    later = T0 + timedelta(days=8)
    assert next_budget_slot(Topic.MARKETING, history, later, BUDGET) == later


def test_marketing_cannot_starve_care() -> None:
    history = [sent(Topic.MARKETING, 1), sent(Topic.MARKETING, 2)]
    now = T0 + timedelta(days=3)
    assert next_budget_slot(Topic.MARKETING, history, now, BUDGET) > now
    assert next_budget_slot(Topic.CARE, history, now, BUDGET) == now


def test_a_zero_budget_never_has_room() -> None:
    closed = ContactBudget(window=WEEK, marketing_max=0, total_max=2)
    assert next_budget_slot(Topic.MARKETING, [], T0, closed) is None
    assert next_budget_slot(Topic.CARE, [], T0, closed) == T0


TOPICS = st.sampled_from(list(Topic))
ATTEMPTS = st.lists(
    st.tuples(TOPICS, st.integers(0, 60 * 24 * 30)),  # minute offsets within 30 days
    max_size=60,
)
BUDGETS = st.builds(
    lambda window_hours, marketing, extra: ContactBudget(
        timedelta(hours=window_hours), marketing, marketing + extra
    ),
    st.integers(1, 24 * 10),
    st.integers(0, 4),
    st.integers(0, 3),
)


@settings(max_examples=300, deadline=None)
@given(ATTEMPTS, BUDGETS)
def test_deferring_to_the_slot_never_exceeds_the_budget_in_any_window(
    attempts: list[tuple[Topic, int]], budget: ContactBudget
) -> None:
    """Journeys try to send at random times; each deferred message retries at its slot."""
    queue = [(T0 + timedelta(minutes=m), i, topic) for i, (topic, m) in enumerate(attempts)]
    heapq.heapify(queue)
    history: list[SentMessage] = []
    while queue:
        now, i, topic = heapq.heappop(queue)
        slot = next_budget_slot(topic, history, now, budget)
        if slot is None:
            assert limit_of(topic, budget) == 0
            continue
        assert slot >= now
        if slot == now:
            history.append(SentMessage(topic, now))
        else:
            # The slot is the earliest: a moment earlier there is still no room.
            assert next_budget_slot(topic, history, slot - timedelta(microseconds=1), budget) != (
                slot - timedelta(microseconds=1)
            )
            assert next_budget_slot(topic, history, slot, budget) == slot
            heapq.heappush(queue, (slot, i, topic))

    for message in history:
        window = [
            m for m in history if message.sent_at - budget.window < m.sent_at <= message.sent_at
        ]
        marketing = sum(m.topic is Topic.MARKETING for m in window)
        counted = sum(m.topic is not Topic.TRANSACTIONAL for m in window)
        assert marketing <= budget.marketing_max
        assert counted <= budget.total_max
    # Nothing is lost: with any room at all, every attempt is eventually sent.
    for topic in Topic:
        attempted = sum(t is topic for t, _ in attempts)
        delivered = sum(m.topic is topic for m in history)
        assert delivered == (0 if limit_of(topic, budget) == 0 else attempted)


def limit_of(topic: Topic, budget: ContactBudget) -> int | None:
    if topic is Topic.TRANSACTIONAL:
        return None
    return budget.marketing_max if topic is Topic.MARKETING else budget.total_max

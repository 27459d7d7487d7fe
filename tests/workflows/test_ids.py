"""Workflow ids are injective: different business keys never share an id.

The first version replaced unsafe characters with `_` and let `-` through inside
parts, so `c/1` and `c_1`, or customer `a-b` with complaint `c` and customer `a`
with complaint `b-c`, shared one id and the second journey was never started.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflows import ids

# Any text, lone surrogates included: business ids come from other systems.
keys = st.text(st.characters(codec=None), max_size=12)
# Biased towards the characters that matter: the separator, the escape, the old
# replacement character and the safe ones.
tricky = st.text(st.sampled_from("a-_%p/ 2D.:@é名"), max_size=8)
any_key = keys | tricky
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1))


@given(any_key)
def test_encode_key_round_trips(key: str) -> None:
    assert ids.decode_key(ids.encode_key(key)) == key
    assert ids.decode_key(ids.encode_key(key, keep_separator=True)) == key


@given(any_key, any_key)
def test_event_ids_are_injective(first: str, second: str) -> None:
    assert (ids.event_workflow_id(first) == ids.event_workflow_id(second)) == (first == second)


@given(st.tuples(any_key, any_key), st.tuples(any_key, any_key))
def test_complaint_ids_are_injective(first: tuple[str, str], second: tuple[str, str]) -> None:
    same = ids.complaint_workflow_id(*first) == ids.complaint_workflow_id(*second)
    assert same == (first == second)


@given(st.tuples(any_key, any_key, any_key), st.tuples(any_key, any_key, any_key))
def test_care_message_ids_are_injective(
    first: tuple[str, str, str], second: tuple[str, str, str]
) -> None:
    same = ids.care_message_workflow_id(*first) == ids.care_message_workflow_id(*second)
    assert same == (first == second)


@given(st.tuples(any_key, any_key, days), st.tuples(any_key, any_key, days))
def test_contact_change_ids_are_injective(
    first: tuple[str, str, date], second: tuple[str, str, date]
) -> None:
    same = ids.contact_change_workflow_id(*first) == ids.contact_change_workflow_id(*second)
    assert same == (first == second)


journey_keys = st.tuples(
    st.sampled_from(["retention_offer", "onboarding", "satisfaction_survey", "a-b", "a"]),
    any_key,
    any_key,
    st.none() | any_key.filter(bool),
    st.none() | st.integers(min_value=0, max_value=10**6),
)


def _journey_id(key: tuple[str, str, str, str | None, int | None]) -> str:
    journey, customer, rule, subject, period = key
    # A period is `on.toordinal() // reenter_after_days`; with one day per period the
    # period number is the day's ordinal.
    on = None if period is None else date.fromordinal(period + 1)
    return ids.journey_workflow_id(
        journey, customer, rule, subject=subject, on=on, reenter_after_days=period and 1
    )


@given(journey_keys, journey_keys)
def test_journey_ids_are_injective(
    first: tuple[str, str, str, str | None, int | None],
    second: tuple[str, str, str, str | None, int | None],
) -> None:
    def business_key(key: tuple[str, str, str, str | None, int | None]) -> tuple[object, ...]:
        # Period 0 means "no re-entry" to journey_workflow_id (reenter_after_days=0).
        return (*key[:4], key[4] or None)

    same = _journey_id(first) == _journey_id(second)
    assert same == (business_key(first) == business_key(second))


def test_ids_of_every_kind_differ() -> None:
    made = {
        ids.event_workflow_id("complaint-a-b"),
        ids.complaint_workflow_id("a", "b"),
        ids.care_message_workflow_id("a", "b", "c"),
        ids.contact_change_workflow_id("a", "b", date(2026, 1, 2)),
        ids.journey_workflow_id("retention_offer", "a", "b"),
        ids.scan_workflow_id(date(2026, 1, 2)),
    }
    assert len(made) == 6
    with pytest.raises(ValueError, match="reserved"):
        ids.journey_workflow_id("complaint", "a", "b")


def test_the_examples_that_collided_before() -> None:
    assert ids.complaint_workflow_id("a-b", "c") != ids.complaint_workflow_id("a", "b-c")
    assert ids.complaint_workflow_id("c/1", "k") != ids.complaint_workflow_id("c_1", "k")
    assert ids.event_workflow_id("e 1") != ids.event_workflow_id("e_1")
    assert ids.complaint_workflow_id("名", "k") != ids.complaint_workflow_id("字", "k")


def test_keys_without_separator_or_unsafe_characters_keep_their_old_ids() -> None:
    # Ids of the first version for keys it did not alter: journeys started with them
    # are found under the same id.
    assert ids.complaint_workflow_id("C1", "K_9") == "complaint-C1-K_9"
    assert ids.event_workflow_id("auto-1234-abcd") == "event-auto-1234-abcd"
    assert ids.contact_change_workflow_id("c.1@x", "notify", date(2026, 1, 2)) == (
        "contact_change_notice-c.1@x-notify-2026-01-02"
    )
    assert ids.complaint_workflow_id("demo-c002", "k-42") == "complaint-demo%2Dc002-k%2D42"

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

from careflow.workflows import ids

# Any text, lone surrogates included: business ids come from other systems.
keys = st.text(st.characters(codec=None), max_size=12)
# Short keys over the characters that matter (the separator, the escape, the old
# replacement character, characters it replaced): pairs of them collide often under
# a non-injective scheme, so the pairwise properties below get real chances to fail.
tricky = st.text(st.sampled_from("a-_%p/ é2D"), max_size=4)
any_key = keys | tricky
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1))


def parts(workflow_id: str) -> list[str]:
    """An id's parts, decoded: the left inverse that proves the ids injective."""
    return [ids.decode_key(part) for part in workflow_id.split("-")]


@given(any_key)
def test_encode_key_round_trips(key: str) -> None:
    assert ids.decode_key(ids.encode_key(key)) == key
    assert ids.decode_key(ids.encode_key(key, keep_separator=True)) == key


def escaped_one_by_one(key: str, safe: str) -> str:
    """What `encode_key` means, character by character (its fast path must agree)."""
    return "".join(
        ch if ch in safe else "".join(f"%{b:02X}" for b in ch.encode("utf-8", "surrogatepass"))
        for ch in key
    )


SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@"
# Keys of safe characters (and the separator) only take the fast path.
plain = st.text(st.sampled_from(SAFE + "-"), max_size=12)


@given(any_key | plain)
def test_encode_key_escapes_exactly_the_unsafe_characters(key: str) -> None:
    assert ids.encode_key(key) == escaped_one_by_one(key, SAFE)
    assert ids.encode_key(key, keep_separator=True) == escaped_one_by_one(key, SAFE + "-")


@given(any_key)
def test_event_ids_round_trip(event_id: str) -> None:
    kind, _, key = ids.event_workflow_id(event_id).partition("-")
    assert (kind, ids.decode_key(key)) == ("event", event_id)


@given(any_key, any_key)
def test_complaint_ids_round_trip(customer: str, complaint: str) -> None:
    assert parts(ids.complaint_workflow_id(customer, complaint)) == [
        "complaint",
        customer,
        complaint,
    ]


@given(any_key, any_key, any_key)
def test_care_message_ids_round_trip(customer: str, rule: str, occasion: str) -> None:
    assert parts(ids.care_message_workflow_id(customer, rule, occasion)) == [
        "care_message",
        customer,
        rule,
        occasion,
    ]


@given(any_key, any_key, days)
def test_contact_change_ids_round_trip(customer: str, rule: str, day: date) -> None:
    made = parts(ids.contact_change_workflow_id(customer, rule, day))
    assert made[:3] == ["contact_change_notice", customer, rule]
    assert date.fromisoformat("-".join(made[3:])) == day


JourneyKey = tuple[str, str, str, str | None, int | None]
journey_keys = st.tuples(
    st.sampled_from(["retention_offer", "onboarding", "satisfaction_survey", "a-b", "a"]),
    any_key,
    any_key,
    st.none() | any_key.filter(bool),
    st.none() | st.integers(min_value=1, max_value=10**6),
)


def _journey_id(key: JourneyKey) -> str:
    journey, customer, rule, subject, period = key
    # A period is `on.toordinal() // reenter_after_days`: with one day per period the
    # period number is the day's ordinal.
    on = None if period is None else date.fromordinal(period)
    return ids.journey_workflow_id(
        journey, customer, rule, subject=subject, on=on, reenter_after_days=1 if period else None
    )


def _parse_journey(workflow_id: str) -> JourneyKey:
    raw = workflow_id.split("-")
    journey, customer, rule = (ids.decode_key(part) for part in raw[:3])
    # The period is `p<digits>`; a subject's first character never reads `p` raw.
    period = next((int(part[1:]) for part in raw[3:] if part.startswith("p")), None)
    subject = next((ids.decode_key(part) for part in raw[3:] if not part.startswith("p")), None)
    return journey, customer, rule, subject, period


@given(journey_keys)
def test_journey_ids_round_trip(key: JourneyKey) -> None:
    assert _parse_journey(_journey_id(key)) == key


# The same properties pairwise, over the collision-prone keys: different business
# keys, different ids (what the round trips prove, checked directly).
@given(tricky, tricky)
def test_event_ids_are_injective(first: str, second: str) -> None:
    assert (ids.event_workflow_id(first) == ids.event_workflow_id(second)) == (first == second)


@given(st.tuples(tricky, tricky), st.tuples(tricky, tricky))
def test_complaint_ids_are_injective(first: tuple[str, str], second: tuple[str, str]) -> None:
    same = ids.complaint_workflow_id(*first) == ids.complaint_workflow_id(*second)
    assert same == (first == second)


@given(st.tuples(tricky, tricky, tricky), st.tuples(tricky, tricky, tricky))
def test_care_message_ids_are_injective(
    first: tuple[str, str, str], second: tuple[str, str, str]
) -> None:
    same = ids.care_message_workflow_id(*first) == ids.care_message_workflow_id(*second)
    assert same == (first == second)


small_journey_keys = st.tuples(
    st.sampled_from(["retention_offer", "a-b", "a"]),
    tricky,
    tricky,
    st.none() | tricky.filter(bool),
    st.none() | st.integers(min_value=1, max_value=3),
)


@given(small_journey_keys, small_journey_keys)
def test_journey_ids_are_injective(first: JourneyKey, second: JourneyKey) -> None:
    assert (_journey_id(first) == _journey_id(second)) == (first == second)


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

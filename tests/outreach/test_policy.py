"""decide_outreach: consent first, then budget, then quiet hours; typed decisions."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careflow.outreach import (
    Action,
    CareConsent,
    OutreachPolicy,
    OutreachRequest,
    Reason,
    SentMessage,
    Topic,
    consent_decision,
    decide_outreach,
    load_outreach_policy,
)
from careflow.paths import RULES_DIR

SHANGHAI_NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
SHANGHAI_LATE = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
NEXT_MORNING = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@pytest.fixture(scope="module")
def policy() -> OutreachPolicy:
    return load_outreach_policy(RULES_DIR / "outreach_policy.yaml")


def request(
    topic: Topic = Topic.MARKETING,
    template_id: str = "retention_offer",
    *,
    consent: bool | None = True,
    history: tuple[SentMessage, ...] = (),
    time_zone: str | None = "Asia/Shanghai",
    erased: bool = False,
) -> OutreachRequest:
    return OutreachRequest(
        template_id=template_id,
        topic=topic,
        consent=consent,
        erased=erased,
        time_zone=time_zone,
        history=history,
    )


@pytest.mark.parametrize(
    ("topic", "granted", "erased", "care", "expected"),
    [
        (Topic.TRANSACTIONAL, None, False, CareConsent.OPT_OUT, Reason.ALLOWED),
        (Topic.TRANSACTIONAL, False, False, CareConsent.OPT_IN, Reason.ALLOWED),
        (Topic.TRANSACTIONAL, True, True, CareConsent.OPT_OUT, Reason.ERASED),
        (Topic.MARKETING, None, False, CareConsent.OPT_OUT, Reason.NO_MARKETING_CONSENT),
        (Topic.MARKETING, False, False, CareConsent.OPT_OUT, Reason.OPTED_OUT),
        (Topic.MARKETING, True, False, CareConsent.OPT_OUT, Reason.ALLOWED),
        (Topic.MARKETING, True, True, CareConsent.OPT_OUT, Reason.ERASED),
        (Topic.CARE, None, False, CareConsent.OPT_OUT, Reason.ALLOWED),
        (Topic.CARE, False, False, CareConsent.OPT_OUT, Reason.OPTED_OUT),
        (Topic.CARE, None, False, CareConsent.OPT_IN, Reason.NO_CARE_CONSENT),
        (Topic.CARE, True, False, CareConsent.OPT_IN, Reason.ALLOWED),
    ],
)
def test_consent(
    topic: Topic, granted: bool | None, erased: bool, care: CareConsent, expected: Reason
) -> None:
    decision = consent_decision(topic, granted, erased=erased, care=care)
    assert decision.reason is expected
    assert decision.action is (Action.SEND if expected is Reason.ALLOWED else Action.SKIP)
    assert decision.detail or decision.allowed


def test_marketing_by_day_is_sent(policy: OutreachPolicy) -> None:
    assert decide_outreach(request(), policy, SHANGHAI_NOON).action is Action.SEND


def test_marketing_at_night_waits_for_the_customers_morning(policy: OutreachPolicy) -> None:
    decision = decide_outreach(request(), policy, SHANGHAI_LATE)
    assert decision.action is Action.DEFER
    assert decision.reason is Reason.QUIET_HOURS
    assert decision.until == NEXT_MORNING


def test_a_complaint_acknowledgement_is_not_held_back_at_night(policy: OutreachPolicy) -> None:
    ack = request(Topic.TRANSACTIONAL, "complaint_ack", consent=None)
    assert decide_outreach(ack, policy, SHANGHAI_LATE).action is Action.SEND


def test_no_consent_is_skipped_even_at_night(policy: OutreachPolicy) -> None:
    decision = decide_outreach(request(consent=None), policy, SHANGHAI_LATE)
    assert (decision.action, decision.reason) == (Action.SKIP, Reason.NO_MARKETING_CONSENT)


def test_unknown_zone_uses_the_policys_default(policy: OutreachPolicy) -> None:
    decision = decide_outreach(request(time_zone="Nowhere/Atlantis"), policy, SHANGHAI_LATE)
    assert decision.until == NEXT_MORNING  # default_timezone is Asia/Shanghai


def test_over_budget_is_deferred_to_a_slot_outside_quiet_hours(policy: OutreachPolicy) -> None:
    # Two offers were sent on 17 November at 22:30 Shanghai time: the budget has room
    # again a week later, at 22:30 on the 24th - at night, so the 25th at 09:00.
    first = SHANGHAI_LATE - timedelta(days=6, minutes=30)
    history = (SentMessage(Topic.MARKETING, first), SentMessage(Topic.MARKETING, first))
    decision = decide_outreach(request(history=history), policy, SHANGHAI_NOON)
    assert decision.action is Action.DEFER
    assert decision.reason is Reason.OVER_BUDGET
    assert decision.until == NEXT_MORNING + timedelta(days=1)


def test_greetings_over_budget_are_skipped_not_sent_late(policy: OutreachPolicy) -> None:
    history = (SentMessage(Topic.MARKETING, SHANGHAI_NOON - timedelta(days=1)),) * 2
    greeting = request(template_id="birthday_greeting", history=history)
    decision = decide_outreach(greeting, policy, SHANGHAI_NOON)
    assert (decision.action, decision.reason) == (Action.SKIP, Reason.OVER_BUDGET)
    assert "2026-11-29" in decision.detail


def test_a_slot_too_far_away_is_a_skip(policy: OutreachPolicy) -> None:
    # survey_reminder waits at most 3 days; the budget (4 counted per 7 days) is full.
    history = tuple(
        SentMessage(Topic.CARE, SHANGHAI_NOON - timedelta(hours=h)) for h in (1, 2, 3, 4)
    )
    reminder = request(Topic.CARE, "survey_reminder", consent=None, history=history)
    decision = decide_outreach(reminder, policy, SHANGHAI_NOON)
    assert (decision.action, decision.reason) == (Action.SKIP, Reason.OVER_BUDGET)
    survey = request(Topic.CARE, "satisfaction_survey", consent=None, history=history)
    assert decide_outreach(survey, policy, SHANGHAI_NOON).action is Action.DEFER


def test_naive_now_is_refused(policy: OutreachPolicy) -> None:
    with pytest.raises(ValueError, match="aware"):
        decide_outreach(request(), policy, datetime(2026, 1, 1))  # noqa: DTZ001


ZONE_NAMES = st.sampled_from(
    ["Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe", "UTC"]
)


@settings(max_examples=300, deadline=None)
@given(
    topic=st.sampled_from(list(Topic)),
    template_id=st.sampled_from(["retention_offer", "birthday_greeting", "onboarding_tips"]),
    zone_name=ZONE_NAMES,
    now_minutes=st.integers(0, 60 * 24 * 365),
    sent_minutes=st.lists(st.tuples(st.sampled_from(list(Topic)), st.integers(0, 60 * 24 * 14))),
)
def test_a_deferred_message_is_allowed_at_its_time_and_never_at_night(
    policy: OutreachPolicy,
    topic: Topic,
    template_id: str,
    zone_name: str,
    now_minutes: int,
    sent_minutes: list[tuple[Topic, int]],
) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=now_minutes)
    history = tuple(SentMessage(t, now - timedelta(minutes=m)) for t, m in sent_minutes)
    req = request(topic, template_id, consent=True, history=history, time_zone=zone_name)
    decision = decide_outreach(req, policy, now)
    if decision.action is Action.SKIP:
        assert decision.reason is Reason.OVER_BUDGET
        return
    send_at = now if decision.action is Action.SEND else decision.until
    assert send_at is not None
    assert send_at >= now
    if topic is not Topic.TRANSACTIONAL:
        local = send_at.astimezone(ZoneInfo(zone_name)).time()
        assert time(9) <= local < time(21)
    if decision.action is Action.DEFER:
        # Asked again at the promised time, with nothing sent meanwhile: send.
        assert decide_outreach(req, policy, send_at).action is Action.SEND

"""Signed links: they verify, and cannot be forged, altered, reused elsewhere or kept forever."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from careflow.outreach import (
    ExpiredLinkToken,
    InvalidLinkToken,
    survey_url,
    unsubscribe_url,
    verify_survey_token,
    verify_unsubscribe_token,
)
from careflow.outreach.links import survey_token, unsubscribe_token

SECRET = "test-secret"


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def with_payload(token: str, payload: dict[str, str]) -> str:
    """The token with its payload replaced and the original signature kept."""
    _, timestamp, signature = token.split(".")
    data = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
    return ".".join([data.decode().rstrip("="), timestamp, signature])


def test_unsubscribe_link_round_trip() -> None:
    url = unsubscribe_url("https://care.example.com/", SECRET, "C-1", "marketing")
    assert url.startswith("https://care.example.com/unsubscribe/")
    claim = verify_unsubscribe_token(SECRET, token_of(url))
    assert (claim.customer_external_id, claim.topic) == ("C-1", "marketing")
    assert claim.issued_at.tzinfo is not None


def test_survey_link_round_trip() -> None:
    url = survey_url("https://care.example.com", SECRET, "complaint-C-1-42", "C-1")
    assert url.startswith("https://care.example.com/survey/")
    claim = verify_survey_token(SECRET, token_of(url))
    assert (claim.workflow_id, claim.customer_external_id) == ("complaint-C-1-42", "C-1")


def test_a_token_cannot_be_rewritten_for_another_customer_or_topic() -> None:
    token = unsubscribe_token(SECRET, "C-1", "marketing")
    for payload in ({"c": "C-2", "t": "marketing"}, {"c": "C-1", "t": "care"}):
        with pytest.raises(InvalidLinkToken):
            verify_unsubscribe_token(SECRET, with_payload(token, payload))
    # The unchanged payload still verifies: the rewrite itself is what broke it.
    original = {"c": "C-1", "t": "marketing"}
    assert verify_unsubscribe_token(SECRET, with_payload(token, original)).topic == "marketing"


def test_a_token_cannot_be_forged_without_the_secret() -> None:
    forged = unsubscribe_token("guessed-secret", "C-1", "marketing")
    with pytest.raises(InvalidLinkToken, match="not valid"):
        verify_unsubscribe_token(SECRET, forged)


def test_survey_and_unsubscribe_tokens_are_not_interchangeable() -> None:
    # Same secret, same customer: the purpose (salt) still tells them apart.
    with pytest.raises(InvalidLinkToken):
        verify_unsubscribe_token(SECRET, survey_token(SECRET, "wf-1", "C-1"))
    with pytest.raises(InvalidLinkToken):
        verify_survey_token(SECRET, unsubscribe_token(SECRET, "C-1", "marketing"))


def test_an_old_token_expires() -> None:
    token = unsubscribe_token(SECRET, "C-1", "marketing")
    issued = verify_unsubscribe_token(SECRET, token).issued_at
    later = issued + timedelta(days=399)
    assert verify_unsubscribe_token(SECRET, token, now=later).customer_external_id == "C-1"
    with pytest.raises(ExpiredLinkToken, match="expired"):
        verify_unsubscribe_token(SECRET, token, now=issued + timedelta(days=401))
    with pytest.raises(ExpiredLinkToken):
        verify_survey_token(
            SECRET, survey_token(SECRET, "wf", "C-1"), now=datetime.now(UTC) + timedelta(days=61)
        )


def test_secrets_can_be_rotated() -> None:
    old_token = unsubscribe_token("old", "C-1", "marketing")
    assert verify_unsubscribe_token(["old", "new"], old_token).customer_external_id == "C-1"
    new_token = unsubscribe_token(["old", "new"], "C-1", "marketing")
    assert verify_unsubscribe_token("new", new_token).customer_external_id == "C-1"
    with pytest.raises(InvalidLinkToken):
        verify_unsubscribe_token("old", new_token)


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        unsubscribe_token("", "C-1", "marketing")


@given(st.text(max_size=200))
def test_any_garbage_is_an_invalid_token_never_a_crash(garbage: str) -> None:
    with pytest.raises(InvalidLinkToken):
        verify_unsubscribe_token(SECRET, garbage)

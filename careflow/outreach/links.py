"""Signed links in emails: one-click unsubscribe (RFC 8058) and satisfaction surveys.

A token is the claim (who, which topic or journey) signed with the server's secret
(`CAREFLOW_SECRET_KEY`) and a time stamp. Each kind of link signs with its own salt,
so a survey token is never accepted as an unsubscribe token or the other way round,
and changing the customer id inside a token breaks its signature: a link for one
customer cannot be replayed for another, nor forged without the secret.

Tokens are signed, not encrypted: anyone holding one can read the customer's external
id and topic in it (ids only, never personal data), but cannot change them.

Tokens travel in the URL path (`/unsubscribe/<token>`), so a mail client's one-click
`POST` (body `List-Unsubscribe=One-Click`) needs nothing but the URL itself.
Secret rotation: pass several secrets, newest last; tokens signed with any of them
verify, new ones are signed with the newest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadData, BadSignature, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode

UNSUBSCRIBE_PATH = "/unsubscribe"
SURVEY_PATH = "/survey"
# CAN-SPAM wants an unsubscribe link to keep working for 30 days after sending;
# people also unsubscribe from old mail, so it stays valid for more than a year.
UNSUBSCRIBE_MAX_AGE = timedelta(days=400)
SURVEY_MAX_AGE = timedelta(days=60)

_UNSUBSCRIBE_SALT = "careflow.unsubscribe.v1"
_SURVEY_SALT = "careflow.survey.v1"

Secret = str | Sequence[str]


class InvalidLinkToken(Exception):
    """A link token that was forged, altered, meant for another purpose, or expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ExpiredLinkToken(InvalidLinkToken):
    """A genuine token that is older than its kind of link may be."""


@dataclass(frozen=True)
class UnsubscribeClaim:
    """What a verified unsubscribe link says: this customer leaves this topic."""

    customer_external_id: str
    topic: str
    issued_at: datetime


@dataclass(frozen=True)
class SurveyClaim:
    """What a verified survey link says: this customer answers for this journey."""

    workflow_id: str
    customer_external_id: str
    issued_at: datetime


def unsubscribe_token(secret: Secret, customer_external_id: str, topic: str) -> str:
    """A signed token for unsubscribing `customer_external_id` from `topic` emails."""
    return _serializer(secret, _UNSUBSCRIBE_SALT).dumps({"c": customer_external_id, "t": topic})


def unsubscribe_url(base_url: str, secret: Secret, customer_external_id: str, topic: str) -> str:
    """The one-click unsubscribe link for a message (also the `List-Unsubscribe` URL)."""
    token = unsubscribe_token(secret, customer_external_id, topic)
    return f"{base_url.rstrip('/')}{UNSUBSCRIBE_PATH}/{token}"


def verify_unsubscribe_token(
    secret: Secret,
    token: str,
    *,
    max_age: timedelta = UNSUBSCRIBE_MAX_AGE,
    now: datetime | None = None,
) -> UnsubscribeClaim:
    """The claim in a genuine, unexpired token; raises `InvalidLinkToken` otherwise."""
    payload, issued_at = _load(secret, _UNSUBSCRIBE_SALT, token, max_age, now)
    customer, topic = _strings(payload, "c", "t")
    return UnsubscribeClaim(customer_external_id=customer, topic=topic, issued_at=issued_at)


def survey_token(secret: Secret, workflow_id: str, customer_external_id: str) -> str:
    """A signed token letting `customer_external_id` answer the survey of `workflow_id`."""
    return _serializer(secret, _SURVEY_SALT).dumps({"w": workflow_id, "c": customer_external_id})


def survey_url(base_url: str, secret: Secret, workflow_id: str, customer_external_id: str) -> str:
    """The link to the satisfaction survey of one journey for one customer."""
    token = survey_token(secret, workflow_id, customer_external_id)
    return f"{base_url.rstrip('/')}{SURVEY_PATH}/{token}"


def verify_survey_token(
    secret: Secret,
    token: str,
    *,
    max_age: timedelta = SURVEY_MAX_AGE,
    now: datetime | None = None,
) -> SurveyClaim:
    """The claim in a genuine, unexpired survey token; raises `InvalidLinkToken` otherwise."""
    payload, issued_at = _load(secret, _SURVEY_SALT, token, max_age, now)
    workflow_id, customer = _strings(payload, "w", "c")
    return SurveyClaim(workflow_id=workflow_id, customer_external_id=customer, issued_at=issued_at)


def _serializer(secret: Secret, salt: str) -> URLSafeTimedSerializer:
    if isinstance(secret, str):
        secret = [secret]
    if not secret or not all(secret):
        raise ValueError("a link secret must not be empty")
    return URLSafeTimedSerializer(list(secret), salt=salt)


def _load(
    secret: Secret, salt: str, token: str, max_age: timedelta, now: datetime | None
) -> tuple[Any, datetime]:
    # The age is checked here rather than by itsdangerous so that `now` can be given
    # (tests, and callers that already hold the request time).
    if not _canonical(token):
        raise InvalidLinkToken("the link is not valid (it was altered or not issued here)")
    try:
        payload, issued_at = _serializer(secret, salt).loads(token, return_timestamp=True)
    except BadSignature as error:
        raise InvalidLinkToken(
            "the link is not valid (it was altered or not issued here)"
        ) from error
    current = now or datetime.now(UTC)
    if current - issued_at > max_age:
        raise ExpiredLinkToken(f"the link expired (it was issued on {issued_at:%Y-%m-%d})")
    return payload, issued_at


def _canonical(token: str) -> bool:
    """Is the signature spelled exactly as careflow writes it?

    base64 decoding ignores the unused low bits of the last character, so every
    signature has a few spellings that verify. One link must be one token: the
    survey accepts one answer per token, and a respelled link would answer again.
    """
    signature = token.rpartition(".")[2]
    try:
        return base64_encode(base64_decode(signature)).decode() == signature
    except BadData:
        return False


def _strings(payload: Any, *keys: str) -> tuple[str, ...]:
    if not isinstance(payload, dict) or not all(isinstance(payload.get(k), str) for k in keys):
        raise InvalidLinkToken("the link does not carry the expected fields")
    return tuple(payload[k] for k in keys)

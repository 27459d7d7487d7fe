"""Signed links through the real API: no link acts for a customer it was not issued to,
and one link acts once.

tests/outreach/test_links.py checks the tokens themselves; here the pages that
act on them are attacked as a customer holding a genuine link would attack them.
"""

from __future__ import annotations

import base64
import json
import string

from sqlalchemy import select

from careflow.config import Settings
from careflow.outreach.links import survey_token, unsubscribe_token
from careflow.store import Database, SurveyResponse
from tests.security.conftest import ON_SQLITE, ApiFactory, marketing_consent

pytestmark = ON_SQLITE
URL_SAFE = string.ascii_letters + string.digits + "-_"


def with_payload(token: str, payload: dict[str, str]) -> str:
    """The token with its claim replaced and its time stamp and signature kept."""
    _, stamp, signature = token.split(".")
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode())
    return ".".join((body.decode().rstrip("="), stamp, signature))


def respellings(token: str) -> list[str]:
    """Other spellings of the token's last character (base64 ignores its low bits)."""
    return [token[:-1] + other for other in URL_SAFE if other != token[-1]]


async def test_an_unsubscribe_link_cannot_be_turned_on_another_customer(
    api: ApiFactory, db: Database, settings: Settings, customers: tuple[str, ...]
) -> None:
    mine, theirs = customers
    genuine = unsubscribe_token(settings.secret_key, mine, "marketing")
    async with api() as http:
        for forged in (
            with_payload(genuine, {"c": theirs, "t": "marketing"}),
            unsubscribe_token("a-guessed-key", theirs, "marketing"),
        ):
            refused = await http.post(f"/unsubscribe/{forged}")
            assert refused.status_code == 400
        assert await marketing_consent(db, theirs) is True
        assert (await http.post(f"/unsubscribe/{genuine}")).status_code == 200
    # The genuine link acted for its own customer, and only for them.
    assert await marketing_consent(db, mine) is False
    assert await marketing_consent(db, theirs) is True


async def test_a_survey_link_cannot_answer_for_another_journey_or_customer(
    api: ApiFactory, db: Database, settings: Settings, customers: tuple[str, ...]
) -> None:
    mine, theirs = customers
    genuine = survey_token(settings.secret_key, f"complaint-{mine}-k1", mine)
    async with api() as http:
        for claim in (
            {"w": f"complaint-{theirs}-k2", "c": theirs},
            {"w": f"complaint-{theirs}-k2", "c": mine},
            {"w": f"complaint-{mine}-k1", "c": theirs},
        ):
            answer = await http.post(f"/survey/{with_payload(genuine, claim)}", data={"score": "1"})
            assert answer.status_code == 400
    async with db.session() as session:
        assert list(await session.scalars(select(SurveyResponse))) == []


async def test_a_survey_link_answers_once_however_it_is_spelled(
    api: ApiFactory, db: Database, settings: Settings, customers: tuple[str, ...]
) -> None:
    # Found here: three other spellings of every token verified, and each answered
    # again (the one-answer rule is keyed on the token). Now only careflow's own
    # spelling is accepted.
    token = survey_token(settings.secret_key, f"complaint-{customers[0]}-k1", customers[0])
    async with api() as http:
        assert (await http.post(f"/survey/{token}", data={"score": "5"})).status_code == 200
        for respelled in respellings(token):
            answer = await http.post(f"/survey/{respelled}", data={"score": "1"})
            assert answer.status_code == 400, respelled
    async with db.session() as session:
        assert list(await session.scalars(select(SurveyResponse.score))) == [5]

"""CAREFLOW_API_TOKEN: with it set, the staff API refuses whoever does not present it.

Events in and customer data out (customers, timelines, tasks, KPIs) need
`Authorization: Bearer <token>`; the customers' own pages are authorised by their
signed links, and /health stays open. Unset, the API behaves as before (the
embedded default listens on loopback only; tests/api covers that).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from careflow.config import Settings
from careflow.outreach.links import unsubscribe_token
from tests.security.conftest import ON_SQLITE, ApiFactory

TOKEN = "token-for-the-access-tests"
STAFF_READS = ("/customers/c-1", "/customers/c-1/timeline", "/tasks", "/kpis")


def consent_event(event_id: str) -> dict[str, object]:
    # An event whose workflow needs no worker to be accepted.
    return {
        "type": "consent_changed",
        "customer_id": "c-1",
        "occurred_at": datetime.now(UTC).isoformat(),
        "data": {"topic": "care", "granted": True},
        "event_id": event_id,
    }


@ON_SQLITE
@pytest.mark.usefixtures("customers")
async def test_without_the_token_nothing_is_posted_or_read(api: ApiFactory) -> None:
    async with api(api_token=TOKEN) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            refused = await http.post("/events", json=consent_event("t-1"), headers=headers)
            assert refused.status_code == 401
            assert refused.headers["WWW-Authenticate"] == "Bearer"
            for path in STAFF_READS:
                assert (await http.get(path, headers=headers)).status_code == 401, path
        # Nothing was stored: the same event id is new when posted with the token.
        accepted = await http.post(
            "/events", json=consent_event("t-1"), headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert accepted.status_code == 202
        assert accepted.json()["duplicate"] is False


@ON_SQLITE
@pytest.mark.usefixtures("customers")
async def test_with_the_token_the_staff_api_answers(api: ApiFactory) -> None:
    async with api(api_token=TOKEN) as http:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        for path in STAFF_READS:
            assert (await http.get(path, headers=headers)).status_code == 200, path


@ON_SQLITE
@pytest.mark.usefixtures("customers")
async def test_public_pages_need_no_token(api: ApiFactory, settings: Settings) -> None:
    async with api(api_token=TOKEN) as http:
        assert (await http.get("/health")).status_code == 200
        link = unsubscribe_token(settings.secret_key, "c-1", "marketing")
        assert (await http.post(f"/unsubscribe/{link}")).status_code == 200
        schema = (await http.get("/openapi.json")).json()
    # The token is part of the published contract, so clients know to send it.
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert schema["paths"]["/events"]["post"]["security"] == [{"HTTPBearer": []}]


@ON_SQLITE
@pytest.mark.usefixtures("customers")
async def test_without_a_configured_token_the_api_is_open(api: ApiFactory) -> None:
    async with api() as http:
        assert (await http.post("/events", json=consent_event("t-2"))).status_code == 202
        assert (await http.get("/customers/c-1")).status_code == 200


def test_the_token_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREFLOW_API_TOKEN", TOKEN)
    assert Settings().api_token == TOKEN

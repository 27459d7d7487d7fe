"""Every console page, refusal and public page is sent with a Content-Security-Policy
that runs no script and forbids framing; the JSON API is left as it was."""

from __future__ import annotations

import httpx
import pytest

from careflow.api.headers import CONTENT_SECURITY_POLICY
from tests.console.seed import Seeded

PAGES = [
    "/console/",
    "/console/rules",
    "/console/customers",
    "/console/customers/c-alice",
    "/console/customers/c-alice/explain",
    "/console/tasks",
    "/console/users",
    "/console/audit",
    "/console/customers/no-such-customer",
]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_console_pages_carry_the_policy(
    logged_in: dict[str, httpx.AsyncClient], anonymous: httpx.AsyncClient, seeded: Seeded
) -> None:
    responses = [await logged_in["ada"].get(page) for page in PAGES]
    # A refusal (a viewer on the users page) and the login form, too.
    responses.append(await logged_in["vera"].get("/console/users"))
    responses.append(await anonymous.get("/console/login"))
    responses.append(await anonymous.get("/unsubscribe/not-a-valid-token"))
    for response in responses:
        assert response.headers["content-type"].startswith("text/html"), response.url
        policy = response.headers["content-security-policy"]
        assert policy == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in policy
        assert "script-src 'none'" in policy
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
    # No page of the console needs a script: none is written into one.
    assert all("<script" not in response.text for response in responses)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_json_answers_and_the_docs_are_left_alone(anonymous: httpx.AsyncClient) -> None:
    health = await anonymous.get("/health")
    assert "content-security-policy" not in health.headers
    docs = await anonymous.get("/docs")
    # Swagger UI loads its scripts from a CDN: it keeps them, but cannot be framed either.
    assert "content-security-policy" not in docs.headers
    assert docs.headers["x-frame-options"] == "DENY"

"""Every console page, refusal and public page is sent with a Content-Security-Policy
that forbids framing; console pages run scripts from careflow itself only (the
vendored chart library), never inline, and the public pages none at all; the JSON API
is left as it was."""

from __future__ import annotations

import re

import httpx
import pytest

from careflow.api.headers import CONSOLE_CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY
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
    "/console/segments",
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
    public = await anonymous.get("/unsubscribe/not-a-valid-token")
    for response in [*responses, public]:
        assert response.headers["content-type"].startswith("text/html"), response.url
        policy = response.headers["content-security-policy"]
        assert policy == (
            CONTENT_SECURITY_POLICY if response is public else CONSOLE_CONTENT_SECURITY_POLICY
        )
        assert "frame-ancestors 'none'" in policy
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert "script-src 'none'" in public.headers["content-security-policy"]
    assert "<script" not in public.text
    # Console scripts come from careflow's own static files, never written inline.
    assert "script-src 'self'" in CONSOLE_CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONSOLE_CONTENT_SECURITY_POLICY.split("script-src", 1)[1].split(";")[0]
    for response in responses:
        scripts = re.findall(r"<script[^>]*>", response.text)
        assert all(
            re.fullmatch(r'<script src="/console/static/[\w./-]+" defer>', s) for s in scripts
        )
    overview = responses[0].text
    assert '<script src="/console/static/echarts/echarts.common.min.js" defer>' in overview
    served = await anonymous.get("/console/static/echarts/echarts.common.min.js")
    assert served.status_code == 200
    assert "javascript" in served.headers["content-type"]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_json_answers_and_the_docs_are_left_alone(anonymous: httpx.AsyncClient) -> None:
    health = await anonymous.get("/health")
    assert "content-security-policy" not in health.headers
    docs = await anonymous.get("/docs")
    # Swagger UI loads its scripts from a CDN: it keeps them, but cannot be framed either.
    assert "content-security-policy" not in docs.headers
    assert docs.headers["x-frame-options"] == "DENY"

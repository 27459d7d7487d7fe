"""The Webhooks page shows a paused endpoint first, with why it was paused."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from careflow.store import Database, WebhookEndpointState


async def test_a_paused_endpoint_is_shown_with_its_last_error(
    db: Database, logged_in: dict[str, httpx.AsyncClient]
) -> None:
    async with db.session() as session:
        session.add(
            WebhookEndpointState(
                name="crm",
                consecutive_failures=10,
                paused_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
                last_error="HTTP 503: upstream gone",
            )
        )
    page = await logged_in["vera"].get("/console/webhooks", params={"lang": "en"})
    assert page.status_code == 200
    assert 'data-testid="paused-endpoints" data-value="1"' in page.text
    assert '<tr data-endpoint="crm" data-paused="yes">' in page.text
    assert "HTTP 503: upstream gone" in page.text
    # The shipped files' endpoint and robot are listed too, not paused.
    assert '<tr data-endpoint="demo-crm" data-paused="no">' in page.text
    assert '<tr data-endpoint="staff-service-1-wecom" data-paused="no">' in page.text

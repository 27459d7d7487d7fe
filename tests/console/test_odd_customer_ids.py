"""Every customer id intake accepts can be opened in the console: from the customers
list, its own page, the explain page and the consent form, spaces, `?`, `#`, `%` and
unicode included (a `/` is refused at intake, tests/intake/test_business_ids.py)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import httpx
import pytest

from careflow.intake.events import EventIn, record_event
from careflow.store import Database
from tests.console.conftest import csrf_token

ODD_IDS = ["名字 with space", "a?b#c", "100%&x=1", "é:@.-_"]


@pytest.mark.parametrize("customer_id", ODD_IDS)
async def test_an_odd_customer_id_reads_back_everywhere(
    db: Database, logged_in: dict[str, httpx.AsyncClient], customer_id: str
) -> None:
    event = EventIn(
        type="customer_upserted",
        customer_id=customer_id,
        occurred_at=datetime.now(UTC),
        data={"name": "Odd"},
        event_id="odd-1",
    )
    await record_event(db, event)
    otto = logged_in["otto"]
    listing = (await otto.get("/console/customers", params={"q": customer_id})).text
    links = re.findall(r'<a href="(/console/customers/[^"]+)">', listing)
    assert len(links) == 1, listing
    page = await otto.get(html.unescape(links[0]))
    assert page.status_code == 200
    assert html.escape(customer_id) in page.text
    assert "odd-1" in page.text  # the customer's own timeline
    explain = re.search(r'<a href="(/console/customers/[^"]+/explain)">', page.text)
    assert explain is not None
    assert (await otto.get(html.unescape(explain[1]))).status_code == 200
    form = re.search(r'<form method="post" action="([^"]+/consent)"', page.text)
    assert form is not None
    changed = await otto.post(
        html.unescape(form[1]),
        data={
            "channel": "email",
            "topic": "marketing",
            "granted": "no",
            "note": "asked by phone",
            "csrf": await csrf_token(otto, html.unescape(links[0])),
        },
    )
    assert changed.status_code == 303, changed.text

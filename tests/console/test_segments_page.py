"""The Segments page lists each shipped segment with its description, its conditions in
the visitor's language and its size now, counted as `careflow segments count` counts."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from careflow.paths import RULES_DIR
from careflow.segments import count_segment, load_segments
from careflow.store import Database
from tests.console.seed import Seeded


async def test_each_segment_with_its_size(
    db: Database, logged_in: dict[str, httpx.AsyncClient], seeded: Seeded
) -> None:
    page = await logged_in["vera"].get("/console/segments", params={"lang": "en"})
    assert page.status_code == 200
    # The seed's one VIP (a tier set by staff) is the one member of vip_customers.
    assert '<tr data-segment="vip_customers" data-size="1">' in page.text
    assert "Every VIP customer." in page.text
    assert "tier is vip" in page.text
    book = load_segments(RULES_DIR)
    for name in book.names():
        expected = await count_segment(db, book, name, at=datetime.now(UTC))
        assert f'<tr data-segment="{name}" data-size="{expected.total}">' in page.text
    assert 'href="/console/segments"' in page.text  # in the navigation

    chinese = await logged_in["vera"].get("/console/segments", params={"lang": "zh-CN"})
    assert chinese.status_code == 200
    assert "客户分群" in chinese.text
    assert "tier 为 vip" in chinese.text

"""The customer page's timeline shows each entry's details as named fields a person can
read, not as raw JSON full of nulls."""

from __future__ import annotations

import re

import httpx


async def test_timeline_details_are_named_fields_without_empty_ones(
    logged_in: dict[str, httpx.AsyncClient],
) -> None:
    page = (await logged_in["otto"].get("/console/customers/c-alice")).text
    timeline = page[page.index('id="table-timeline"') :]
    deferred = re.search(
        r'<tr data-kind="message">(?:(?!</tr>).)*deferred(?:(?!</tr>).)*</tr>', timeline, re.S
    )
    assert deferred is not None
    fields = dict(
        re.findall(
            r'<span class="name">([^<]+)</span> <span class="mono">([^<]*)</span>', deferred[0]
        )
    )
    assert fields["status"] == "deferred"
    assert fields["reason"].startswith("quiet_hours: until 08:00")
    # The seeded message has no rule and no ruleset hash: those lines are left out.
    assert "rule_id" not in fields
    assert "ruleset_hash" not in fields
    assert "null" not in timeline
    # Nested event data reads as dotted names.
    assert '<span class="name">data.severity</span> <span class="mono">high</span>' in timeline

"""Segment membership on SQLite and PostgreSQL against plain-Python expectations,
and paging that returns every member exactly once."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import careflow.segments.members as members_module
from careflow.segments import (
    SegmentBook,
    UnknownSegment,
    count_segment,
    load_segments,
    segment_page,
)
from careflow.store import Database
from tests.facts.store_rows import CONFIG, add_complaint, add_customer, add_orders

AT = datetime(2026, 11, 11, 9, 0, tzinfo=UTC)
SEGMENTS = """\
segments:
  big_spenders:
    description: Spent at least 300 in the last year.
    when:
      spend_last_365d: {at_least: 300}
  unhappy_regulars:
    description: At least two orders and a complaint in the last week.
    when:
      order_count: {at_least: 2}
      complaints_last_7d: {at_least: 1}
  joined_later:
    description: Everyone known.
    when:
      days_since_signup: {at_least: 0}
"""
DERIVED = """\
facts:
  complaints_last_7d:
    count: complaint_opened
    within: 7d
"""


def _book(tmp_path: Path) -> SegmentBook:
    (tmp_path / "segments.yaml").write_text(SEGMENTS, encoding="utf-8")
    (tmp_path / "derived_facts.yaml").write_text(DERIVED, encoding="utf-8")
    return load_segments(tmp_path)


async def _populate(db: Database) -> dict[str, dict[str, object]]:
    """47 customers with seeded orders and complaints; what each one is, in plain Python."""
    chosen = random.Random(20)
    truth: dict[str, dict[str, object]] = {}
    async with db.session() as session:
        for _ in range(47):
            created = AT - timedelta(days=chosen.randint(-200, 800))
            customer = await add_customer(session, created_at=created)
            orders = [
                (AT - timedelta(days=chosen.randint(-30, 500)), f"{chosen.randint(10, 250)}.00")
                for _ in range(chosen.randint(0, 4))
            ]
            if orders:
                await add_orders(session, customer, *orders)
            complaint_days = chosen.choice([None, 3, 12, -2])
            if complaint_days is not None:
                await add_complaint(
                    session, customer, opened_at=AT - timedelta(days=complaint_days)
                )
            past = [(when, float(amount)) for when, amount in orders if when <= AT]
            truth[customer.external_id] = {
                "spend": sum(a for when, a in past if when > AT - timedelta(days=365)),
                "orders": len(past),
                "complaint_last_7d": complaint_days is not None and 0 <= complaint_days < 7,
                "known": created <= AT or bool(past),
            }
    return truth


def _expected(truth: dict[str, dict[str, object]], name: str) -> list[str]:
    test = {
        "big_spenders": lambda t: t["spend"] >= 300,
        "unhappy_regulars": lambda t: t["orders"] >= 2 and t["complaint_last_7d"],
        "joined_later": lambda t: True,
    }[name]
    return sorted(cid for cid, t in truth.items() if t["known"] and test(t))


@pytest.mark.parametrize("name", ["big_spenders", "unhappy_regulars", "joined_later"])
async def test_members_match_plain_python_and_every_page_holds_each_once(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setattr(members_module, "BATCH_SIZE", 7)  # many batches per page
    truth = await _populate(db)
    book = _book(tmp_path)
    expected = _expected(truth, name)
    assert expected, "the seeded data should put someone in each segment"
    assert len(expected) < len(truth)  # ... and leave someone out

    paged: list[str] = []
    after: str | None = None
    while True:
        page = await segment_page(db, book, name, at=AT, after=after, limit=4, config=CONFIG)
        assert page == sorted(page)
        assert after is None or all(customer_id > after for customer_id in page)
        paged += page
        if len(page) < 4:
            break
        after = page[-1]
    assert paged == expected

    counted = await count_segment(db, book, name, at=AT, sample=3, config=CONFIG)
    assert counted.total == len(expected)
    assert len(counted.sample) == min(3, len(expected))
    assert set(counted.sample) <= set(expected)
    assert counted.sample == sorted(counted.sample)
    again = await count_segment(db, book, name, at=AT, sample=3, config=CONFIG)
    assert again.sample == counted.sample


async def test_progress_reports_every_customer_looked_at(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(members_module, "BATCH_SIZE", 10)
    truth = await _populate(db)
    seen: list[tuple[int, int]] = []
    counted = await count_segment(
        db,
        _book(tmp_path),
        "joined_later",
        at=AT,
        config=CONFIG,
        progress=lambda done, total: seen.append((done, total)),
    )
    known = sum(1 for t in truth.values() if t["known"])
    assert counted.customers == known
    assert seen[-1] == (known, known)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


async def test_an_unknown_segment_names_the_known_ones(db: Database, tmp_path: Path) -> None:
    book = _book(tmp_path)
    with pytest.raises(UnknownSegment) as raised:
        await segment_page(db, book, "vips", at=AT, config=CONFIG)
    assert raised.value.known == ["big_spenders", "unhappy_regulars", "joined_later"]
    assert "big_spenders" in str(raised.value)
    with pytest.raises(UnknownSegment):
        await count_segment(db, book, "vips", at=AT, config=CONFIG)

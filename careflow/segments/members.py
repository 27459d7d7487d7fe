"""Who is in a segment as of a time: pages of customer ids, and counts with a sample.

Membership is computed exactly as the daily scan computes facts
(careflow.facts.compute_facts, windowed facts included), a batch of customers at a
time in ascending customer-id (external id) order, so memory stays bounded however
large the customer base. Customers erased, or not yet known at `at` (created later,
with no order by then), are never members.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, or_, select

from careflow.facts import MAX_IDS_PER_QUERY, FactsConfig, compute_facts, load_facts_config
from careflow.rules.derived_facts import segment_fact
from careflow.segments.book import SegmentBook
from careflow.store import Customer, Database, Order

# Customers whose facts are computed per query: the scan's page, large enough to
# amortise the grouped fact queries, small enough to keep memory flat.
BATCH_SIZE = MAX_IDS_PER_QUERY
TIERS_FILE_NAME = "tiers.yaml"


class UnknownSegment(LookupError):
    """A segment name that the book does not have; `known` lists those it has."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        self.known = known
        super().__init__(
            f"unknown segment {name!r} (segments in segments.yaml: {', '.join(known) or 'none'})"
        )


@dataclass(frozen=True)
class SegmentCount:
    """How many customers are in a segment as of `at`, and a deterministic sample."""

    name: str
    at: datetime
    total: int
    sample: list[str] = field(default_factory=list)
    customers: int = 0  # customers looked at


Progress = Callable[[int, int], None]  # (customers looked at, customers in all)


async def segment_page(
    db: Database,
    book: SegmentBook,
    name: str,
    *,
    at: datetime,
    after: str | None = None,
    limit: int = 500,
    config: FactsConfig | None = None,
) -> list[str]:
    """Up to `limit` ids of customers in segment `name` as of `at`, ascending, each
    strictly greater than `after`. Pass the last id back as `after` for the next page;
    an empty or short page is the end."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    members: list[str] = []
    async for batch, _ in _batches(db, book, [name], at=at, after=after, config=config):
        members += batch[name]
        if len(members) >= limit:
            break
    return members[:limit]


async def count_segment(
    db: Database,
    book: SegmentBook,
    name: str,
    *,
    at: datetime,
    sample: int = 0,
    config: FactsConfig | None = None,
    progress: Progress | None = None,
) -> SegmentCount:
    """The number of customers in segment `name` as of `at`, with up to `sample` of
    their ids: the same ids for the same members on every run, spread over the whole
    segment (those whose ids hash lowest), in ascending order."""
    total = looked_at = 0
    everyone = await _known_customers(db, at) if progress is not None else 0
    chosen: list[tuple[bytes, str]] = []  # a max-heap by hash (negated), at most `sample`
    async for batches, visited in _batches(db, book, [name], at=at, config=config, by_id=False):
        batch = batches[name]
        total += len(batch)
        looked_at += visited
        for customer_id in batch if sample > 0 else ():
            key = _inverted(hashlib.sha256(customer_id.encode()).digest())
            if len(chosen) < sample:
                heapq.heappush(chosen, (key, customer_id))
            elif key > chosen[0][0]:
                heapq.heapreplace(chosen, (key, customer_id))
        if progress is not None:
            progress(looked_at, max(everyone, looked_at))
    return SegmentCount(
        name=name,
        at=at,
        total=total,
        sample=sorted(customer_id for _, customer_id in chosen),
        customers=looked_at,
    )


async def count_segments(
    db: Database,
    book: SegmentBook,
    *,
    at: datetime,
    names: list[str] | None = None,
    config: FactsConfig | None = None,
) -> dict[str, int]:
    """The size of each segment (every one of the book when `names` is None) as of
    `at`, in one pass over the customers: what the console's Segments page shows."""
    wanted = book.names() if names is None else names
    sizes = dict.fromkeys(wanted, 0)
    if not wanted:
        return sizes
    async for batches, _ in _batches(db, book, wanted, at=at, config=config, by_id=False):
        for name, members in batches.items():
            sizes[name] += len(members)
    return sizes


def _inverted(digest: bytes) -> bytes:
    # heapq keeps the smallest on top; inverting keeps the largest hash there, the one
    # to drop when a lower hash comes along.
    return bytes(255 - byte for byte in digest)


def _known(at: datetime) -> ColumnElement[bool]:
    """Customers careflow knew as of `at`: not erased, created by then or with an order."""
    ordered = exists().where(Order.customer_id == Customer.id, Order.ordered_at <= at)
    return and_(Customer.erased_at.is_(None), or_(Customer.created_at <= at, ordered))


async def _known_customers(db: Database, at: datetime) -> int:
    async with db.session() as session:
        counted = await session.scalar(select(func.count()).select_from(Customer).where(_known(at)))
    return int(counted or 0)


async def _batches(
    db: Database,
    book: SegmentBook,
    names: list[str],
    *,
    at: datetime,
    after: str | None = None,
    config: FactsConfig | None = None,
    by_id: bool = True,
) -> AsyncIterator[tuple[dict[str, list[str]], int]]:
    """(members of each segment, customers looked at) per batch, in ascending
    customer-id order (`by_id`), or in the store's key order, which is what the scan
    pages by and cheaper (each batch a key range): for counts, where order is moot."""
    for name in names:
        if name not in book:
            raise UnknownSegment(name, book.names())
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: membership is computed as of an aware time")
    if config is None:
        tiers = book.rules_dir / TIERS_FILE_NAME if book.rules_dir else None
        # A folder without its own tiers.yaml uses the configured one, as the scan does.
        config = load_facts_config(tiers if tiers is not None and tiers.is_file() else None)
    derived = book.derived_for(names)
    facts_of = [(name, segment_fact(name)) for name in names]
    cursor: str | None = after
    last_pk = 0
    while True:
        statement = select(Customer.id, Customer.external_id).where(_known(at))
        if by_id:
            statement = statement.order_by(Customer.external_id).limit(BATCH_SIZE)
            if cursor is not None:
                statement = statement.where(Customer.external_id > cursor)
        else:
            statement = (
                statement.where(Customer.id > last_pk).order_by(Customer.id).limit(BATCH_SIZE)
            )
        async with db.session() as session:
            rows = (await session.execute(statement)).all()
            if not rows:
                return
            facts = await compute_facts(
                session, [pk for pk, _ in rows], at, config=config, derived=derived
            )
        yield (
            {
                name: [external for pk, external in rows if facts.get(pk, {}).get(fact) is True]
                for name, fact in facts_of
            },
            len(rows),
        )
        if len(rows) < BATCH_SIZE:
            return
        last_pk, cursor = rows[-1]

"""Assemble the fact snapshot of each customer from the per-table summaries.

The SQL modules each return a few numbers per customer for a whole page; this
module turns them into the facts of `rules/facts.py`, leaving out any fact that is
unknown for the customer (rules test for that with `missing`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.facts.config import FactsConfig, load_facts_config
from careflow.facts.customers import CustomerProfile, customer_profiles
from careflow.facts.occasions import (
    HolidayCalendar,
    country_of,
    days_until_birthday,
    local_date,
    zone_or_none,
)
from careflow.facts.pages import epoch_microseconds_of
from careflow.facts.purchases import PurchaseSummary, purchase_summaries
from careflow.facts.segments import lifecycle_stage_of, tier_of
from careflow.facts.service import OpenComplaints, last_csat_scores, open_complaints
from careflow.facts.windowed import windowed_facts
from careflow.rules.conditions import holds
from careflow.rules.derived_facts import NO_DERIVED_FACTS, DerivedFacts, segment_fact
from careflow.rules.model import Condition
from careflow.store.models import Customer

Facts = dict[str, object]

# Well under SQLite's and asyncpg's limits on bound parameters per statement.
MAX_IDS_PER_QUERY = 5000
_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US


async def compute_facts(
    session: AsyncSession,
    customer_ids: Sequence[int],
    at: datetime,
    *,
    config: FactsConfig | None = None,
    derived: DerivedFacts = NO_DERIVED_FACTS,
    only: Collection[str] | None = None,
    orders_session: AsyncSession | None = None,
) -> dict[int, Facts]:
    """Facts as of `at` for each existing customer among `customer_ids`, by id.

    Set-based: a handful of grouped queries per page of up to MAX_IDS_PER_QUERY
    customers. `config` defaults to `rules/tiers.yaml` (`CAREFLOW_RULES_DIR`);
    `derived` are the windowed facts of `rules/derived_facts.yaml` to add (those of
    the RuleBook that will read the snapshots: `RuleBook.derived`), with the segments
    whose membership each snapshot carries (`in_segment:` in rules). `only` names the
    built-in facts wanted (all when None): the others are left out of the snapshots,
    and a table none of the wanted facts comes from is not read.

    `orders_session`, a second session on the same store (`Database.side_session`),
    reads the orders' summaries, the heaviest query, while `session` reads the rest:
    the two run side by side, each connection in a thread (SQLite) or a server
    process (PostgreSQL) of its own. For callers whose `session` holds nothing
    uncommitted that facts depend on (the daily scan's pages): the second session
    sees only what is committed. Without it, everything is read in `session`.
    """
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: facts are computed as of an aware time")
    config = config or load_facts_config()
    facts: dict[int, Facts] = {}
    for start in range(0, len(customer_ids), MAX_IDS_PER_QUERY):
        page = customer_ids[start : start + MAX_IDS_PER_QUERY]
        facts.update(await _compute_page(session, page, at, config, only, orders_session))
        windowed = await windowed_facts(session, page, at, derived)
        for customer_id, values in windowed.items():
            if customer_id in facts:
                facts[customer_id].update(values)
    if derived.segments:
        _add_segments(facts.values(), derived.segments)
    return facts


def _add_segments(snapshots: Iterable[Facts], segments: Mapping[str, Condition]) -> None:
    """Each segment's membership as a boolean fact, from the facts already computed
    (rules/segments.yaml: a segment's conditions name built-in and derived facts only)."""
    named = [(segment_fact(name), condition) for name, condition in segments.items()]
    for facts in snapshots:
        for fact, condition in named:
            facts[fact] = holds(condition, facts)


async def customer_key(session: AsyncSession, external_id: str) -> int | None:
    """The store's key of the customer with this external id; None if unknown."""
    key: int | None = await session.scalar(_KEY_OF_EXTERNAL_ID, {"external_id": external_id})
    return key


# Built once: asked for every event evaluated, message sent and journey dispatched,
# where building the statement and its cache key cost as much as running it.
_KEY_OF_EXTERNAL_ID = select(Customer.id).where(
    Customer.external_id == bindparam("external_id", type_=Customer.__table__.c.external_id.type)
)


async def facts_for_customer(
    session: AsyncSession,
    external_id: str,
    at: datetime,
    *,
    config: FactsConfig | None = None,
    derived: DerivedFacts = NO_DERIVED_FACTS,
    only: Collection[str] | None = None,
) -> Facts | None:
    """Facts as of `at` for the customer with this external id; None if unknown.
    `only`: the built-in facts wanted, as `compute_facts` takes it."""
    customer_id = await customer_key(session, external_id)
    if customer_id is None:
        return None
    computed = await compute_facts(
        session, [customer_id], at, config=config, derived=derived, only=only
    )
    return computed.get(customer_id)


async def _compute_page(
    session: AsyncSession,
    customer_ids: Sequence[int],
    at: datetime,
    config: FactsConfig,
    only: Collection[str] | None,
    orders_session: AsyncSession | None,
) -> dict[int, Facts]:
    def wanted(table_facts: frozenset[str]) -> bool:
        return only is None or not table_facts.isdisjoint(only)

    purchases: dict[int, PurchaseSummary] = {}
    # Started first, so that its query is under way while the others run.
    purchases_read = (
        asyncio.ensure_future(purchase_summaries(orders_session, customer_ids, at))
        if orders_session is not None and wanted(_FROM_ORDERS)
        else None
    )
    try:
        profiles = await customer_profiles(session, customer_ids, at)
        if purchases_read is None and wanted(_FROM_ORDERS):
            purchases = await purchase_summaries(session, customer_ids, at)
        complaints = (
            await open_complaints(session, customer_ids, at) if wanted(_FROM_COMPLAINTS) else {}
        )
        csat = await last_csat_scores(session, customer_ids, at) if wanted(_FROM_SURVEYS) else {}
    except BaseException:
        # The caller gets this error as it is; the orders' read is not left running.
        if purchases_read is not None:
            purchases_read.cancel()
            await asyncio.wait([purchases_read])
            if not purchases_read.cancelled():
                purchases_read.exception()  # retrieved: its own failure is not logged twice
        raise
    if purchases_read is not None:
        purchases = await purchases_read
    assembler = _Assembler(at, config)
    snapshots = {
        profile.id: assembler.facts(
            profile, purchases.get(profile.id), complaints.get(profile.id), csat.get(profile.id)
        )
        for profile in profiles
    }
    if only is None:
        return snapshots
    # A table left unread gave defaults: they must not pass for the customer's facts.
    return {
        customer_id: {name: value for name, value in facts.items() if name in only}
        for customer_id, facts in snapshots.items()
    }


class _Assembler:
    """Builds snapshots for one page; memoises what a page's customers share.

    Thousands of customers share a few zones, locales and birthdays, so the local
    date, country and holiday are worked out once per (locale, zone) pair.
    """

    def __init__(self, at: datetime, config: FactsConfig) -> None:
        self.at_us = epoch_microseconds_of(at)
        self.at = at
        self.config = config
        self.default_zone = zone_or_none(config.occasions.default_timezone) or ZoneInfo("UTC")
        self.holidays = HolidayCalendar(config.occasions)
        self._dates: dict[str | None, date] = {}
        self._places: dict[tuple[str | None, str | None], tuple[date, str | None]] = {}

    def facts(
        self,
        profile: CustomerProfile,
        purchases: PurchaseSummary | None,
        complaints: OpenComplaints | None,
        csat: int | None,
    ) -> Facts:
        """One customer's snapshot; facts unknown for them are left out."""
        at_us = self.at_us
        if purchases is None:
            facts = dict(_NO_PURCHASES)
            days_since_last_order = None
            joined_us = profile.created_us
            spend_last_365d = total_spent = 0.0
            order_count = 0
        else:
            facts, days_since_last_order = self._purchase_facts(purchases)
            # A customer imported today with orders from years ago joined no later
            # than their first order.
            joined_us = min(profile.created_us, purchases.first_order_us)
            spend_last_365d = purchases.spend_last_365d
            total_spent = purchases.total_spent
            order_count = purchases.order_count
        days_since_signup = max(0, (at_us - joined_us) // _DAY_US)
        facts["days_since_signup"] = days_since_signup
        facts["tier"] = tier_of(
            self.config.tiers,
            stored_tier=profile.tier,
            spend_last_365d=spend_last_365d,
            total_spent=total_spent,
            order_count=order_count,
        )
        facts["lifecycle_stage"] = lifecycle_stage_of(
            self.config.lifecycle,
            days_since_signup=days_since_signup,
            days_since_last_order=days_since_last_order,
        )
        facts["has_email"] = profile.has_email
        facts["email_marketing_consent"] = profile.email_marketing_consent
        if profile.locale:
            facts["locale"] = profile.locale
        today, holiday = self._place(profile.locale, profile.timezone)
        if profile.birthday_month is not None and profile.birthday_day is not None:
            facts["days_until_birthday"] = days_until_birthday(
                profile.birthday_month, profile.birthday_day, profile.birthday_calendar, today
            )
        if holiday is not None:
            facts["holiday_today"] = holiday
        if complaints is None:
            facts["open_complaints"] = 0
        else:
            facts["open_complaints"] = complaints.open_count
            age_hours = (at_us - complaints.oldest_opened_us) / _HOUR_US
            facts["oldest_open_complaint_age_hours"] = round(age_hours, 1)
            if complaints.max_severity is not None:
                facts["max_open_complaint_severity"] = complaints.max_severity
        if csat is not None:
            facts["last_csat_score"] = csat
        return facts

    def _purchase_facts(self, purchases: PurchaseSummary) -> tuple[Facts, int]:
        """The purchase facts of a customer who ordered, and days since the last order."""
        days_since_last_order = (self.at_us - purchases.last_order_us) // _DAY_US
        facts: Facts = {
            "order_count": purchases.order_count,
            "total_spent": purchases.total_spent,
            "spend_last_365d": purchases.spend_last_365d,
            "orders_last_90d": purchases.orders_last_90d,
            "orders_prev_90d": purchases.orders_prev_90d,
            "spend_last_90d": purchases.spend_last_90d,
            "spend_prev_90d": purchases.spend_prev_90d,
            "days_since_last_order": days_since_last_order,
        }
        if purchases.orders_prev_90d:
            change = purchases.orders_last_90d / purchases.orders_prev_90d - 1
            facts["purchase_frequency_change"] = round(change, 4)
        if purchases.order_count >= 2:
            # The mean of consecutive gaps telescopes to (last - first) / (n - 1).
            span_us = purchases.last_order_us - purchases.first_order_us
            interval = span_us / _DAY_US / (purchases.order_count - 1)
            facts["avg_order_interval_days"] = round(interval, 2)
            if interval > 0:  # all orders at one instant: there is no usual gap
                facts["order_gap_ratio"] = round(days_since_last_order / interval, 2)
        return facts, days_since_last_order

    def _place(self, locale: str | None, zone_name: str | None) -> tuple[date, str | None]:
        """The customer's local date and the holiday there today, if any."""
        key = (locale, zone_name)
        place = self._places.get(key)
        if place is None:
            today = self._today(zone_name)
            country = country_of(locale, zone_name) or self.config.occasions.default_country
            holiday = self.holidays.holiday_on(country, today) if country else None
            place = self._places[key] = (today, holiday)
        return place

    def _today(self, zone_name: str | None) -> date:
        """The customer's local date; an unknown zone falls back to the default one."""
        if zone_name not in self._dates:
            zone = (zone_or_none(zone_name) if zone_name else None) or self.default_zone
            self._dates[zone_name] = local_date(self.at, zone)
        return self._dates[zone_name]


# A customer with no orders (yet, as of `at`) has counted nothing and spent nothing;
# the facts that need an order (days since the last one, intervals) stay missing.
_NO_PURCHASES: Facts = {
    "order_count": 0,
    "total_spent": 0.0,
    "spend_last_365d": 0.0,
    "orders_last_90d": 0,
    "orders_prev_90d": 0,
    "spend_last_90d": 0.0,
    "spend_prev_90d": 0.0,
}

# The facts each table besides customers gives, or that depend on it (`days_since_signup`:
# a customer joined no later than their first order; tiers and stages use spending).
_FROM_ORDERS = frozenset(
    {
        *_NO_PURCHASES,
        "days_since_last_order",
        "purchase_frequency_change",
        "avg_order_interval_days",
        "order_gap_ratio",
        "days_since_signup",
        "tier",
        "lifecycle_stage",
    }
)
_FROM_COMPLAINTS = frozenset(
    {"open_complaints", "oldest_open_complaint_age_hours", "max_open_complaint_severity"}
)
_FROM_SURVEYS = frozenset({"last_csat_score"})

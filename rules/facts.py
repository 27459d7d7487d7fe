"""The fact schema: every fact a rule may name, defined once, with its meaning.

Rule files are checked against this schema, `rules/README.md` is generated from
it, and `careflow.facts` computes exactly these facts for a customer as of a time.
Facts that are unknown for a customer (no orders yet, no birthday on file) are
left out of the snapshot; rules test for that with `missing`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FactType = Literal["integer", "number", "text", "boolean"]


@dataclass(frozen=True)
class FactDefinition:
    """One fact: its name in rule files, its type, and what it means in plain words."""

    name: str
    type: FactType
    description: str
    values: tuple[str, ...] = ()  # the closed list of values, for text facts that have one
    unit: str = ""
    example: object = None


TIERS = ("vip", "regular", "potential")
LIFECYCLE_STAGES = ("new", "active", "dormant", "churned")
SEVERITIES = ("low", "medium", "high", "critical")
EVENT_TYPES = (
    "daily_scan",
    "customer_upserted",
    "order_placed",
    "complaint_opened",
    "complaint_resolved",
    "survey_answered",
    "consent_changed",
)
HOLIDAYS = (
    "new_year",
    "spring_festival",
    "lantern_festival",
    "qingming",
    "labour_day",
    "dragon_boat",
    "mid_autumn",
    "national_day",
    "christmas",
)

FACTS: tuple[FactDefinition, ...] = (
    # --- what happened just now ---------------------------------------------------
    FactDefinition(
        "event_type",
        "text",
        "What made careflow look at this customer now: an incoming event, or the daily scan.",
        values=EVENT_TYPES,
        example="complaint_opened",
    ),
    FactDefinition(
        "complaint_severity",
        "text",
        "Severity of the complaint in the current complaint event.",
        values=SEVERITIES,
        example="high",
    ),
    FactDefinition(
        "survey_score",
        "integer",
        "Score (1-5) given in the current survey_answered event.",
        example=2,
    ),
    FactDefinition(
        "changed_fields",
        "text",
        "Comma-separated contact fields changed by the current customer_upserted event "
        "(email, phone, name, account_manager); missing when nothing changed.",
        example="email,phone",
    ),
    # --- purchases -------------------------------------------------------------------
    FactDefinition(
        "days_since_last_order",
        "integer",
        "Whole days since the customer's most recent order; missing if they never ordered.",
        unit="days",
        example=45,
    ),
    FactDefinition(
        "orders_last_90d", "integer", "Orders in the last 90 days.", unit="orders", example=2
    ),
    FactDefinition(
        "orders_prev_90d",
        "integer",
        "Orders in the 90 days before that (91 to 180 days ago).",
        unit="orders",
        example=5,
    ),
    FactDefinition(
        "spend_last_90d", "number", "Money spent in the last 90 days.", unit="money", example=320.0
    ),
    FactDefinition(
        "spend_prev_90d",
        "number",
        "Money spent in the 90 days before that (91 to 180 days ago).",
        unit="money",
        example=810.5,
    ),
    FactDefinition(
        "purchase_frequency_change",
        "number",
        "Change in order count from the previous 90 days to the last 90 days, as a fraction: "
        "-0.5 means half as many orders; missing when there were no orders in the previous "
        "90 days.",
        example=-0.6,
    ),
    FactDefinition(
        "avg_order_interval_days",
        "number",
        "Average days between consecutive orders; missing with fewer than two orders.",
        unit="days",
        example=21.5,
    ),
    FactDefinition(
        "order_gap_ratio",
        "number",
        "Days since the last order divided by the average interval: 2.0 means the current "
        "gap is twice the customer's usual one; missing with fewer than two orders, or when "
        "all orders were placed at the same moment.",
        example=2.4,
    ),
    FactDefinition("order_count", "integer", "Orders ever.", unit="orders", example=12),
    FactDefinition("total_spent", "number", "Money spent ever.", unit="money", example=5230.0),
    FactDefinition(
        "spend_last_365d",
        "number",
        "Money spent in the last 365 days.",
        unit="money",
        example=1900.0,
    ),
    FactDefinition(
        "tier",
        "text",
        "Customer tier from spend thresholds in rules/tiers.yaml (or set by hand on the customer).",
        values=TIERS,
        example="vip",
    ),
    FactDefinition(
        "lifecycle_stage",
        "text",
        "new (joined recently), active (ordering), dormant (no order for a while), churned "
        "(no order for a long while); thresholds in rules/tiers.yaml.",
        values=LIFECYCLE_STAGES,
        example="dormant",
    ),
    FactDefinition(
        "days_since_signup",
        "integer",
        "Whole days since the customer joined: the earlier of their creation and their first "
        "order, so customers imported with a history are not counted as new.",
        unit="days",
    ),
    # --- occasions -------------------------------------------------------------------
    FactDefinition(
        "days_until_birthday",
        "integer",
        "Days until the next birthday in the customer's own time zone (0 = today); lunar "
        "birthdays are converted to this year's date; a 29 February birthday is on 28 February "
        "in common years, and a lunar 30th on the 29th in short months; missing when no "
        "birthday is on file.",
        unit="days",
        example=0,
    ),
    FactDefinition(
        "holiday_today",
        "text",
        "Today's holiday in the customer's country and time zone; missing on ordinary days.",
        values=HOLIDAYS,
        example="mid_autumn",
    ),
    # --- service -----------------------------------------------------------------------
    FactDefinition(
        "open_complaints",
        "integer",
        "Complaints opened and not yet resolved at the time of evaluation.",
        example=1,
    ),
    FactDefinition(
        "oldest_open_complaint_age_hours",
        "number",
        "Hours since the oldest unresolved complaint was opened; missing with none open.",
        unit="hours",
    ),
    FactDefinition(
        "max_open_complaint_severity",
        "text",
        "Highest severity among unresolved complaints; missing with none open.",
        values=SEVERITIES,
    ),
    FactDefinition(
        "last_csat_score",
        "integer",
        "The most recent satisfaction score (1-5); missing if never answered.",
        example=2,
    ),
    # --- contact ----------------------------------------------------------------------
    FactDefinition("has_email", "boolean", "The customer has an email address on file."),
    FactDefinition(
        "email_marketing_consent",
        "boolean",
        "The customer had agreed to marketing email (offers, win-back) at the time of "
        "evaluation; false when unknown.",
    ),
    FactDefinition("locale", "text", "The customer's language, e.g. zh-CN or en.", example="zh-CN"),
)

FACTS_BY_NAME: dict[str, FactDefinition] = {fact.name: fact for fact in FACTS}

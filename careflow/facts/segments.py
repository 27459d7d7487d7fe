"""Tier and lifecycle stage from a customer's figures and `rules/tiers.yaml`."""

from __future__ import annotations

from careflow.facts.config import LifecycleRules, TierRules
from careflow.rules.facts import TIERS


def tier_of(
    rules: TierRules,
    *,
    stored_tier: str | None,
    spend_last_365d: float,
    total_spent: float,
    order_count: int,
) -> str:
    """The stored tier when staff set a known one, else the highest tier reached."""
    if stored_tier:
        stored = stored_tier.strip().lower()
        if stored in TIERS:
            return stored
    if rules.vip.reached_by(spend_last_365d, total_spent, order_count):
        return "vip"
    if rules.regular.reached_by(spend_last_365d, total_spent, order_count):
        return "regular"
    return "potential"


def lifecycle_stage_of(
    rules: LifecycleRules, *, days_since_signup: int, days_since_last_order: int | None
) -> str:
    """new, active, dormant or churned.

    A customer who never ordered is idle since joining, so one who signed up long
    ago and never bought is dormant or churned, not active.
    """
    if days_since_signup < rules.new_customer_days:
        return "new"
    idle_days = days_since_signup if days_since_last_order is None else days_since_last_order
    if idle_days >= rules.churned_after_days:
        return "churned"
    if idle_days >= rules.dormant_after_days:
        return "dormant"
    return "active"

"""What the rules are doing: the live rule files' status and how often each rule fired.

The console follows the rule files as the worker does (a LiveRuleBook on the same
folder, built the same way): a broken edit shows its mistakes with `file:line:col`
while the last good version, and when it was loaded, stays listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select

from careflow.rules import LiveRuleBook, RuleBook, RuleError, RuleFileError
from careflow.store import Customer, Database, RuleDecision

# The windows the rules page counts firings in, in days.
FIRING_WINDOWS = (7, 30)


@dataclass(frozen=True)
class RulesStatus:
    rulebook: RuleBook | None
    loaded_at: datetime | None
    errors: list[RuleError]


@dataclass(frozen=True)
class RecentDecision:
    decided_at: datetime
    customer_id: str | None
    event_id: str | None
    ruleset_hash: str
    matched_facts: dict[str, object]


def rules_status(live: LiveRuleBook) -> RulesStatus:
    """The rules now serving (None if none ever loaded) and the mistakes of the newest edit."""
    try:
        rulebook: RuleBook | None = live.current()
    except RuleFileError:
        rulebook = None
    return RulesStatus(rulebook, live.loaded_at, list(live.last_errors))


async def firing_counts(db: Database, now: datetime) -> dict[str, dict[int, int]]:
    """rule id -> {days: decisions in the last `days` days} for each of FIRING_WINDOWS."""
    oldest = now - timedelta(days=max(FIRING_WINDOWS))
    columns = [
        func.coalesce(
            func.sum(case((RuleDecision.decided_at >= now - timedelta(days=days), 1), else_=0)), 0
        )
        for days in FIRING_WINDOWS
    ]
    async with db.session() as session:
        rows = await session.execute(
            select(RuleDecision.rule_id, *columns)
            .where(RuleDecision.decided_at >= oldest, RuleDecision.decided_at <= now)
            .group_by(RuleDecision.rule_id)
        )
        return {
            str(rule_id): dict(zip(FIRING_WINDOWS, (int(n) for n in counts), strict=True))
            for rule_id, *counts in rows.all()
        }


async def recent_decisions(db: Database, rule_id: str, *, limit: int = 20) -> list[RecentDecision]:
    """The rule's newest decisions, with the customer and the facts that matched."""
    async with db.session() as session:
        rows = await session.execute(
            select(RuleDecision, Customer.external_id)
            .outerjoin(Customer, Customer.id == RuleDecision.customer_id)
            .where(RuleDecision.rule_id == rule_id)
            .order_by(RuleDecision.decided_at.desc(), RuleDecision.id.desc())
            .limit(limit)
        )
        return [
            RecentDecision(
                decision.decided_at,
                customer,
                decision.event_id,
                decision.ruleset_hash,
                dict(decision.matched_facts),
            )
            for decision, customer in rows.all()
        ]

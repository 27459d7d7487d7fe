"""`careflow simulate --campaign NAME`: what a campaign would have done over history.

At the campaign's start time (or another day's, to try it on old data) every member
of its segment, as the segment stood then, goes through the decisions of a launch:
the holdout draw, the variant draw (careflow/experiments/assign.py, the same draws
as the real send), then the send step's own policy decision (consent, suppressions,
address, contact budget; `OutreachActivities.decide_only`, as the campaign preview
asks it). Members the send step would skip are excluded, by reason; the others
would have received it (some after a wait: quiet hours, the budget, their window).

The goal (`goal: {event, within}`) is then read from the history after the start:
whether each receiver, and each held-out member, had the goal event within the
window after the start. Per variant: receivers and how many reached the goal, next
to the holdout's rate, so two designs (`--campaign A --campaign B`) can be compared
on the same customers. Nothing is recorded or sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from careflow.activities.outreach import OutreachActivities
from careflow.campaigns.members import decided_pages
from careflow.campaigns.spec import CampaignSpec
from careflow.experiments.assign import HOLDOUT_VARIANT
from careflow.facts.windowed import windowed_facts
from careflow.outreach.decisions import Action
from careflow.rules.derived_facts import DerivedFacts, DerivedFactSpec
from careflow.rules.facts import FactDefinition
from careflow.segments import SegmentBook
from careflow.store import Customer, Database

_GOAL_FACT = "campaign_goal"


@dataclass
class GroupOutcome:
    """Customers of one variant (or the holdout) and how many reached the goal."""

    customers: int = 0
    reached_goal: int = 0

    @property
    def rate(self) -> float | None:
        return self.reached_goal / self.customers if self.customers else None


@dataclass
class CampaignSimulation:
    """One campaign design over history: who would have received it, and what followed."""

    campaign: str
    segment: str
    at: datetime
    goal: str | None  # "order_placed within 7 days", None without a goal
    audience: int = 0  # segment members at `at`
    # reason -> members (a plain dict: dataclasses.asdict rebuilds a Counter wrongly)
    excluded: dict[str, int] = field(default_factory=dict)
    variants: dict[str, GroupOutcome] = field(default_factory=dict)  # receivers by variant
    holdout: GroupOutcome = field(default_factory=GroupOutcome)
    templates: dict[str, str] = field(default_factory=dict)  # variant -> template

    @property
    def received(self) -> int:
        return sum(group.customers for group in self.variants.values())

    def lift(self, variant: str) -> float | None:
        """The variant's goal rate minus the holdout's (None when either is unknown)."""
        rate, baseline = self.variants[variant].rate, self.holdout.rate
        return None if rate is None or baseline is None else rate - baseline


async def simulate_campaign(
    db: Database,
    outreach: OutreachActivities,
    spec: CampaignSpec,
    book: SegmentBook,
    *,
    at: datetime,
) -> CampaignSimulation:
    """`spec` launched at `at` over the store's history (see the module's docstring)."""
    goal = spec.goal
    result = CampaignSimulation(
        campaign=spec.name,
        segment=spec.segment,
        at=at,
        goal=None if goal is None else f"{goal.event} within {_words(goal.within)}",
        variants={name: GroupOutcome() for name in sorted(spec.weights)},
        templates={name: spec.template_for(name) for name in sorted(spec.weights)},
    )
    async for page in decided_pages(db, outreach, spec, book, at=at):
        groups: dict[str, str] = {}  # customer -> variant or HOLDOUT_VARIANT
        for member in page:
            result.audience += 1
            if member.decision is not None and member.decision.action is Action.SKIP:
                reason = member.decision.reason.value
                result.excluded[reason] = result.excluded.get(reason, 0) + 1
                continue
            groups[member.customer_id] = member.group
        reached = await _reached_goal(db, spec, book, list(groups), at)
        for customer_id, group in groups.items():
            outcome = result.holdout if group == HOLDOUT_VARIANT else result.variants[group]
            outcome.customers += 1
            outcome.reached_goal += customer_id in reached
    return result


async def _reached_goal(
    db: Database, spec: CampaignSpec, book: SegmentBook, customers: list[str], at: datetime
) -> set[str]:
    """Those of `customers` with the goal event in (at, at + within]: a count over that
    window, computed as windowed facts are (careflow/facts/windowed.py)."""
    goal = spec.goal
    if goal is None or not customers:
        return set()
    declarations = book.base_derived.declarations
    minutes = max(1, int(goal.within / timedelta(minutes=1)))
    counted = DerivedFactSpec.model_validate(
        {"count": goal.event, "within": f"{minutes}m"}, context={"events": declarations}
    )
    derived = DerivedFacts(
        {_GOAL_FACT: counted},
        declarations,
        {_GOAL_FACT: FactDefinition(_GOAL_FACT, "integer", "goal events after the start")},
    )
    async with db.session() as session:
        rows = (
            await session.execute(
                select(Customer.id, Customer.external_id).where(Customer.external_id.in_(customers))
            )
        ).all()
        by_pk = dict(rows)
        counts = await windowed_facts(
            session, sorted(by_pk), at + timedelta(minutes=minutes), derived
        )
    found: set[str] = set()
    for pk, values in counts.items():
        count = values.get(_GOAL_FACT)
        if pk in by_pk and isinstance(count, int) and count > 0:
            found.add(by_pk[pk])
    return found


def _words(window: timedelta) -> str:
    if window % timedelta(days=1) == timedelta(0):
        return f"{window.days} days"
    if window % timedelta(hours=1) == timedelta(0):
        return f"{window // timedelta(hours=1)} hours"
    return f"{window // timedelta(minutes=1)} minutes"

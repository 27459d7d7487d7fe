"""Results of A/B experiments: per variant, how many were sent and reached the goal.

For each experiment the ledger names (careflow/experiments/assign.py chose the
variants, the send step recorded them), each variant's customers are counted once,
from their first message of the experiment sent in the period; a customer *reached
the goal* when an event of the goal's type (an order, by default) happened within
the goal's window after that message. As in the retention KPI, only customers whose
window has ended are counted; the others are `waiting`.

The comparison group is the holdout: for a journey experiment, the customers held out
of that journey (careflow/holdout.py, journey rows with status `holdout`), measured
from the moment they were held out; for any other experiment (a campaign), ledger rows
of the experiment whose variant is `holdout` (the caller records them, with status
`skipped`), measured from when they were written.

The statistics come from statsmodels, not hand-written formulas: each rate's 95%
Wilson score interval (`proportion_confint`), a two-sided two-proportion z-test with
pooled variance (`proportions_ztest`) for every pair of variants and for each variant
against the holdout, the p-values of each family Holm-adjusted (`multipletests`) so
that looking at many pairs does not find a "winner" by chance, and the power of the
test (`NormalIndPower`) for the verdict.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from itertools import combinations
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    proportion_confint,
    proportion_effectsize,
    proportions_ztest,
)

from careflow.facts.pages import epoch_microseconds, epoch_microseconds_of
from careflow.holdout import HOLDOUT_STATUS
from careflow.journey_config import JourneyConfig
from careflow.store import (
    Complaint,
    CustomEvent,
    JourneyRecord,
    Order,
    OutreachLedger,
    SurveyResponse,
)

# The arm of customers who got nothing: the variant a campaign records for them, and
# the name the results give the holdout group.
HOLDOUT = "holdout"
# Significance level of every test, and 1 - the confidence of every interval.
ALPHA = 0.05
# A verdict needs at least this many customers (window ended) in every variant: below
# it the normal approximation behind the z-test and the interval is rough, and one
# customer more or less moves a rate by a visible step.
MIN_PER_ARM = 100
# The smallest improvement worth detecting, relative to the variants' pooled rate
# (0.2: from 10% to 12%), and the power a test must have to detect it.
MIN_RELATIVE_LIFT = 0.2
POWER = 0.8
# Goal when the caller names none (a campaign's experiment): an order within 7 days.
DEFAULT_GOAL_EVENT = "order_placed"
DEFAULT_GOAL_DAYS = 7.0
_MICROSECONDS_PER_DAY = 86_400_000_000
_JOURNEY_PREFIX = "journey:"


class Verdict(StrEnum):
    WINNER = "winner"
    NO_DIFFERENCE = "no significant difference"
    TOO_SMALL = "sample too small to call a winner"


@dataclass(frozen=True)
class Goal:
    """Reaching it: an event of type `event` within `within_days` after the message."""

    event: str = DEFAULT_GOAL_EVENT
    within_days: float = DEFAULT_GOAL_DAYS


@dataclass(frozen=True)
class ArmCounts:
    """One arm's customers: window ended (`sent`), of those reached the goal, waiting."""

    name: str
    sent: int
    reached: int
    waiting: int = 0


@dataclass(frozen=True)
class Arm:
    """One arm's conversion (`reached / sent`) and its 95% Wilson interval."""

    name: str
    sent: int
    reached: int
    waiting: int
    rate: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Comparison:
    """`first` against `second`: the difference of their rates and its z-test."""

    first: str
    second: str
    difference: float  # first's rate minus second's
    z: float
    p_value: float
    adjusted_p_value: float  # Holm, within its family (variant pairs; against holdout)
    significant: bool  # adjusted p below ALPHA


@dataclass(frozen=True)
class ExperimentResult:
    experiment: str
    goal: Goal
    variants: tuple[Arm, ...]
    holdout: Arm | None
    between_variants: tuple[Comparison, ...]
    against_holdout: tuple[Comparison, ...]
    verdict: Verdict
    winner: str | None
    # Why the verdict, in a sentence for operators.
    reason: str
    # With TOO_SMALL: customers per variant the test would need (None: not computable).
    needed_per_arm: int | None = None


def wilson_interval(reached: int, sent: int) -> tuple[float, float]:
    """The 95% Wilson score interval of `reached / sent` (sent > 0)."""
    low, high = proportion_confint(reached, sent, alpha=ALPHA, method="wilson")
    return float(low), float(high)


def two_proportion_z_test(first: ArmCounts, second: ArmCounts) -> tuple[float, float]:
    """(z, two-sided p) of the pooled two-proportion z-test of first against second.

    When neither arm or both arms all reached the goal the pooled variance is zero and
    there is nothing to tell apart: (0, 1).
    """
    pooled = (first.reached + second.reached) / (first.sent + second.sent)
    if pooled in (0.0, 1.0):
        return 0.0, 1.0
    z, p = proportions_ztest([first.reached, second.reached], [first.sent, second.sent])
    return float(z), float(p)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values of one family of tests, in the same order."""
    if not p_values:
        return []
    _, adjusted, _, _ = multipletests(list(p_values), alpha=ALPHA, method="holm")
    return [float(p) for p in adjusted]


def needed_per_arm(rate: float, tests: int = 1) -> tuple[float, int] | None:
    """(Cohen's h, customers per arm) for a test at ALPHA / `tests` with POWER to detect
    a lift of MIN_RELATIVE_LIFT over `rate`; None when the rate leaves no room (0 or 1)."""
    target = min(rate * (1 + MIN_RELATIVE_LIFT), 1.0)
    if rate <= 0 or target <= rate:
        return None
    effect = float(proportion_effectsize(target, rate))
    n = NormalIndPower().solve_power(
        effect_size=effect, power=POWER, alpha=ALPHA / tests, ratio=1.0
    )
    return effect, math.ceil(float(n))


def _arm(counts: ArmCounts) -> Arm:
    if counts.sent == 0:
        return Arm(counts.name, 0, 0, counts.waiting, None, None, None)
    low, high = wilson_interval(counts.reached, counts.sent)
    return Arm(
        counts.name,
        counts.sent,
        counts.reached,
        counts.waiting,
        counts.reached / counts.sent,
        low,
        high,
    )


def _family(pairs: Sequence[tuple[ArmCounts, ArmCounts]]) -> tuple[Comparison, ...]:
    tested = [(a, b, *two_proportion_z_test(a, b)) for a, b in pairs if a.sent and b.sent]
    adjusted = holm([p for *_, p in tested])
    return tuple(
        Comparison(
            first=a.name,
            second=b.name,
            difference=a.reached / a.sent - b.reached / b.sent,
            z=z,
            p_value=p,
            adjusted_p_value=q,
            significant=q < ALPHA,
        )
        for (a, b, z, p), q in zip(tested, adjusted, strict=True)
    )


def analyse(
    experiment: str,
    goal: Goal,
    variants: Sequence[ArmCounts],
    holdout: ArmCounts | None = None,
) -> ExperimentResult:
    """The figures and verdict of one experiment from its arms' counts.

    The verdict, in this order:
    - too small, when fewer than two variants have customers, or any has fewer than
      MIN_PER_ARM: no test is trusted below that;
    - winner, when the variant with the highest rate is significantly better (Holm-
      adjusted) than every other variant;
    - too small, when the tests could not have seen a lift of MIN_RELATIVE_LIFT over
      the pooled rate with POWER (or nobody reached the goal yet): "no difference" then
      says nothing, and `needed_per_arm` says how many customers per variant would;
    - no significant difference otherwise: a lift that size would most likely have
      shown, and none did.

    Power is judged against that fixed smallest lift worth having, not against the
    observed difference: "power to detect the observed effect" is a function of the
    p-value alone and tells nothing the p-value did not.
    """
    ordered = sorted(variants, key=lambda arm: arm.name)
    between = _family(list(combinations(ordered, 2)))
    against = _family([(arm, holdout) for arm in ordered]) if holdout is not None else ()
    result = ExperimentResult(
        experiment=experiment,
        goal=goal,
        variants=tuple(_arm(arm) for arm in ordered),
        holdout=_arm(holdout) if holdout is not None else None,
        between_variants=between,
        against_holdout=against,
        verdict=Verdict.TOO_SMALL,
        winner=None,
        reason="",
    )
    with_customers = [arm for arm in ordered if arm.sent]
    if len(with_customers) < 2:
        return _verdict(result, Verdict.TOO_SMALL, "fewer than two variants have customers yet")
    smallest = min(ordered, key=lambda arm: arm.sent)
    pooled = sum(arm.reached for arm in ordered) / sum(arm.sent for arm in ordered)
    pairs = len(between)
    needed = needed_per_arm(pooled, pairs)
    if smallest.sent < MIN_PER_ARM:
        return _verdict(
            result,
            Verdict.TOO_SMALL,
            f"variant {smallest.name!r} has {smallest.sent} customers; at least "
            f"{MIN_PER_ARM} per variant are needed",
            needed[1] if needed else None,
        )
    best = max(ordered, key=lambda arm: (arm.reached / arm.sent, arm.name))
    beats = [
        c
        for c in between
        if c.significant and best.name in (c.first, c.second) and _favours(c, best.name)
    ]
    if len(beats) == len(ordered) - 1:
        return _verdict(
            result,
            Verdict.WINNER,
            f"{best.name!r} converts better than every other variant (Holm-adjusted p < {ALPHA})",
            winner=best.name,
        )
    if needed is None:
        return _verdict(result, Verdict.TOO_SMALL, "no customer has reached the goal yet")
    effect, n = needed
    power = float(
        NormalIndPower().power(
            effect_size=effect, nobs1=smallest.sent, alpha=ALPHA / pairs, ratio=1.0
        )
    )
    if power < POWER:
        return _verdict(
            result,
            Verdict.TOO_SMALL,
            f"with {smallest.sent} customers in the smallest variant the test has "
            f"{power:.0%} power to see a {MIN_RELATIVE_LIFT:.0%} lift; about {n} per "
            "variant are needed",
            n,
        )
    return _verdict(
        result,
        Verdict.NO_DIFFERENCE,
        f"no variant differs significantly, and a {MIN_RELATIVE_LIFT:.0%} lift would "
        f"have shown with {power:.0%} power",
    )


def _favours(comparison: Comparison, name: str) -> bool:
    sign = 1 if comparison.first == name else -1
    return sign * comparison.difference > 0


def _verdict(
    result: ExperimentResult,
    verdict: Verdict,
    reason: str,
    needed: int | None = None,
    *,
    winner: str | None = None,
) -> ExperimentResult:
    return replace(result, verdict=verdict, reason=reason, needed_per_arm=needed, winner=winner)


def experiment_goals(config: JourneyConfig) -> dict[str, Goal]:
    """The goal of each journey experiment `rules/journeys.yaml` sets up, by name."""
    return {
        experiment.name: Goal(experiment.goal.event, experiment.goal.within_days)
        for experiment in config.experiments
    }


def _goal_rows(event: str) -> tuple[Any, Any, ColumnElement[bool] | None]:
    """Where events of a type are: (customer pk, time, condition): the built-in events
    from their own tables (as windowed facts read them), declared ones from custom_events."""
    if event == "order_placed":
        return Order.customer_id, Order.ordered_at, None
    if event == "complaint_opened":
        return Complaint.customer_id, Complaint.opened_at, None
    if event == "complaint_resolved":
        return Complaint.customer_id, Complaint.resolved_at, Complaint.resolved_at.is_not(None)
    if event == "survey_answered":
        return SurveyResponse.customer_id, SurveyResponse.answered_at, None
    return CustomEvent.customer_id, CustomEvent.occurred_at, CustomEvent.type == event


async def _counts(
    session: AsyncSession,
    grouped: Any,
    goal: Goal,
    measured_at: datetime,
) -> dict[str, ArmCounts]:
    """Counts per arm of a subquery of (arm, customer_id, at) rows."""
    customer, time, condition = _goal_rows(goal.event)
    window_end = epoch_microseconds(grouped.c.at) + round(goal.within_days * _MICROSECONDS_PER_DAY)
    reached = exists().where(
        customer == grouped.c.customer_id,
        time > grouped.c.at,
        epoch_microseconds(time) <= window_end,
        *([condition] if condition is not None else []),
    )
    ended = window_end <= epoch_microseconds_of(measured_at)
    statement = select(
        grouped.c.arm,
        func.coalesce(func.sum(case((ended, 1), else_=0)), 0),
        func.coalesce(func.sum(case((and_(ended, reached), 1), else_=0)), 0),
        func.coalesce(func.sum(case((ended, 0), else_=1)), 0),
    ).group_by(grouped.c.arm)
    return {
        str(arm): ArmCounts(str(arm), int(sent), int(hit), int(waiting))
        for arm, sent, hit, waiting in (await session.execute(statement)).all()
    }


async def experiment_results(
    session: AsyncSession,
    since: datetime,
    until: datetime,
    goals: Mapping[str, Goal],
    *,
    measured_at: datetime | None = None,
) -> list[ExperimentResult]:
    """Every experiment with a message sent in `[since, until)`, by name.

    `goals` gives each experiment's goal (`experiment_goals` for the journeys'; an
    experiment not in it gets the default, an order within 7 days). Windows are judged
    ended as of `measured_at` (default `until`).
    """
    measured_at = measured_at or until
    names = (
        await session.scalars(
            select(OutreachLedger.experiment)
            .where(
                OutreachLedger.experiment.is_not(None),
                OutreachLedger.status == "sent",
                OutreachLedger.sent_at >= since,
                OutreachLedger.sent_at < until,
            )
            .distinct()
        )
    ).all()
    results = []
    for name in sorted(str(n) for n in names):
        goal = goals.get(name, Goal())
        first_sends = (
            select(
                OutreachLedger.variant.label("arm"),
                OutreachLedger.customer_id.label("customer_id"),
                func.min(OutreachLedger.sent_at).label("at"),
            )
            .where(
                OutreachLedger.experiment == name,
                OutreachLedger.variant != HOLDOUT,
                OutreachLedger.status == "sent",
                OutreachLedger.sent_at >= since,
                OutreachLedger.sent_at < until,
                OutreachLedger.customer_id.is_not(None),
            )
            .group_by(OutreachLedger.variant, OutreachLedger.customer_id)
            .subquery()
        )
        variants = await _counts(session, first_sends, goal, measured_at)
        holdout = (
            await _counts(session, _holdout_rows(name, since, until), goal, measured_at)
        ).get(HOLDOUT)
        results.append(analyse(name, goal, list(variants.values()), holdout))
    return results


def _holdout_rows(experiment: str, since: datetime, until: datetime) -> Any:
    """(arm, customer_id, at) of the experiment's holdout group (see the module doc)."""
    if experiment.startswith(_JOURNEY_PREFIX):
        journey = experiment[len(_JOURNEY_PREFIX) :].split(":", 1)[0]
        return (
            select(
                JourneyRecord.status.label("arm"),  # HOLDOUT_STATUS, the same word
                JourneyRecord.customer_id.label("customer_id"),
                func.min(JourneyRecord.started_at).label("at"),
            )
            .where(
                JourneyRecord.journey == journey,
                JourneyRecord.status == HOLDOUT_STATUS,
                JourneyRecord.started_at >= since,
                JourneyRecord.started_at < until,
                JourneyRecord.customer_id.is_not(None),
            )
            .group_by(JourneyRecord.status, JourneyRecord.customer_id)
            .subquery()
        )
    return (
        select(
            OutreachLedger.variant.label("arm"),
            OutreachLedger.customer_id.label("customer_id"),
            func.min(OutreachLedger.created_at).label("at"),
        )
        .where(
            OutreachLedger.experiment == experiment,
            OutreachLedger.variant == HOLDOUT,
            OutreachLedger.created_at >= since,
            OutreachLedger.created_at < until,
            OutreachLedger.customer_id.is_not(None),
        )
        .group_by(OutreachLedger.variant, OutreachLedger.customer_id)
        .subquery()
    )

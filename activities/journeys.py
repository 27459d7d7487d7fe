"""Journey planning and bookkeeping: what `rules/journeys.yaml` says for this customer now.

Each journey asks its plan activity once, at the start, for the values it needs
(offer, send times, service-level deadlines). The plan is recorded in the
journey's history, so a replay or a worker restart sees the same plan even when
operators have edited the file since. Plans carry ids, amounts and instants,
never personal data.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from careflow.activities.clock import activity_now
from careflow.contracts.journeys import (
    CarePlan,
    ComplaintPlan,
    ComplaintStatusInput,
    ContactChangePlan,
    DueInput,
    OnboardingMessage,
    OnboardingPlan,
    OrdersSinceInput,
    PlanInput,
    RecordOutcomeInput,
    RetentionPlan,
    SimpleJourneyPlan,
    SimplePlanInput,
    SurveyPlan,
)
from careflow.contracts.outreach import ParamValue
from careflow.facts import facts_for_customer, load_facts_config
from careflow.facts.config import TIERS_FILE_NAME
from careflow.facts.occasions import LUNAR_CALENDAR, days_until_birthday
from careflow.intake.apply import find_customer
from careflow.journey_config import (
    ESCALATION_LEVELS,
    ApprovalConfig,
    Coupon,
    JourneyConfig,
    load_journey_config,
)
from careflow.journeys import mark_journey_ended
from careflow.outreach.links import survey_url
from careflow.outreach.zones import customer_zone
from careflow.rules.derived_facts import load_derived_facts
from careflow.store import Complaint, Customer, Database, Order

BIRTHDAY = "birthday"
HOUR, DAY = 3600.0, 86400.0


class JourneyActivities:
    """Reads the journey configuration and the customer's record; keeps journey bookkeeping."""

    def __init__(self, db: Database, *, config_path: Path, base_url: str, secret_key: str) -> None:
        self.db = db
        self.config_path = config_path
        self.base_url = base_url
        self.secret_key = secret_key

    def _config(self) -> JourneyConfig:
        return load_journey_config(self.config_path)

    @activity.defn
    async def plan_retention_offer(self, request: PlanInput) -> RetentionPlan:
        """The offer for this customer's tier and spend, and the journey's deadlines."""
        config = self._config()
        settings = config.retention_offer
        async with self.db.session() as session:
            customer = await _known_customer(session, request.customer_id)
            spend = await _spend_last_365d(session, customer, request.now)
        tier = customer.tier or ""
        offer = next((o for o in settings.offers if o.applies_to(tier, spend)), None)
        if offer is None:
            raise ApplicationError("retention_offer.offers has no row for this customer")
        give_up_at = request.now + timedelta(days=settings.goal_wait_days)
        return RetentionPlan(
            params=_coupon_params(offer, config.currency, settings.code_prefix, request),
            remind_at=request.now + timedelta(days=settings.remind_after_days),
            give_up_at=give_up_at,
            call_task=tier in settings.call_task_tiers,
            call_due_at=give_up_at + timedelta(days=settings.call_task_due_days),
            template_id=settings.template,
            reminder_template_id=settings.reminder_template,
            call_template_id=settings.call_task_template,
            **_approval(settings.approval, offer.value),
        )

    @activity.defn
    async def plan_care_message(self, request: PlanInput) -> CarePlan:
        """The greeting for `subject` (`birthday-2026`, `mid_autumn-2026`) at the local hour."""
        config = self._config()
        settings = config.care_message
        occasion, _, year_text = request.subject.rpartition("-")
        if not occasion or not year_text.isdigit():
            raise ApplicationError(
                f"care message subject {request.subject!r}: expected <occasion>-<year>",
                non_retryable=True,
            )
        async with self.db.session() as session:
            customer = await _known_customer(session, request.customer_id)
        zone = customer_zone(customer.timezone)
        today = request.now.astimezone(zone).date()
        params: dict[str, ParamValue]
        if occasion in settings.occasions:
            # An occasion operations defined (points about to expire): sent today.
            template_id, day = settings.occasions[occasion].template, today
            params = {"occasion": occasion}
            params |= await self._fact_params(request, settings.occasions[occasion].facts)
        elif occasion == BIRTHDAY:
            template_id = settings.birthday_template
            birthday = _next_birthday(customer, today)
            params = {"occasion": BIRTHDAY}
            if birthday is None:
                return CarePlan(
                    template_id=template_id,
                    params=params,
                    send_at=request.now,
                    skip_reason="no birthday on file",
                )
            day = birthday
        else:
            # A holiday journey is started on (or shortly before) the holiday itself.
            template_id, day = settings.holiday_template, today
            params = {"occasion": occasion, "holiday": occasion}
        send_at = datetime.combine(day, time(settings.send_at_local_hour), zone).astimezone(UTC)
        latest = datetime.combine(day, time(), zone) + timedelta(hours=settings.latest_after_hours)
        skip_reason = None
        if day.year != int(year_text):
            skip_reason = f"the {occasion} does not fall in {year_text}"
        elif request.now > latest:
            skip_reason = f"too late for the {occasion} of {day.isoformat()}"
        if settings.coupon is not None and (customer.tier or "") in settings.coupon_tiers:
            params |= _coupon_params(
                settings.coupon, config.currency, settings.code_prefix, request
            )
        return CarePlan(
            template_id=template_id,
            params=params,
            send_at=max(send_at, request.now),
            skip_reason=skip_reason,
        )

    async def _fact_params(self, request: PlanInput, names: list[str]) -> dict[str, ParamValue]:
        """The named facts of the customer as of the plan, for the template (rounded
        numbers; facts unknown for the customer are left out)."""
        if not names:
            return {}
        rules_dir = self.config_path.parent
        async with self.db.session() as session:
            facts = await facts_for_customer(
                session,
                request.customer_id,
                request.now,
                config=load_facts_config(rules_dir / TIERS_FILE_NAME),
                derived=load_derived_facts(rules_dir),
            )
        values: dict[str, ParamValue] = {}
        for name in names:
            value = (facts or {}).get(name)
            if isinstance(value, float):
                value = round(value, 2)
            if isinstance(value, str | int | float | bool):
                values[name] = value
        return values

    @activity.defn
    async def plan_complaint(self, request: PlanInput) -> ComplaintPlan:
        """Service-level deadlines for the complaint in `subject`, from when it was opened."""
        config = self._config()
        settings = config.complaint
        async with self.db.session() as session:
            # The customer and their complaint in one query (another's is not theirs).
            found = (
                await session.execute(
                    select(Customer, Complaint)
                    .outerjoin(
                        Complaint,
                        (Complaint.external_id == request.subject)
                        & (Complaint.customer_id == Customer.id),
                    )
                    .where(Customer.external_id == request.customer_id)
                )
            ).first()
        if found is None:
            raise _unknown_customer(request.customer_id)
        customer, complaint = found
        opened_at = complaint.opened_at if complaint is not None else request.now
        severity = complaint.severity if complaint is not None else "medium"
        target = settings.target(customer.tier or "", severity)
        calendar = config.business_hours.calendar()
        return ComplaintPlan(
            response_due=calendar.add_business_hours(opened_at, target.response_hours),
            resolution_due=calendar.add_business_hours(opened_at, target.resolution_hours),
            give_up_at=request.now + timedelta(days=settings.give_up_after_days),
            levels=list(ESCALATION_LEVELS),
            survey_after_seconds=settings.survey_after_hours * HOUR,
            survey_remind_after_seconds=settings.survey_remind_after_days * DAY,
            survey_close_after_seconds=settings.survey_close_after_days * DAY,
            low_score_threshold=config.low_score_threshold,
            reopen_due_hours=settings.reopen_due_hours,
            survey_params={"survey_url": self._survey_url(request)},
            ack_template=settings.ack_template,
            update_template=settings.update_template,
            resolved_template=settings.resolved_template,
            escalation_template=settings.escalation_template,
            survey_template=settings.survey_template,
            survey_reminder_template=settings.survey_reminder_template,
        )

    @activity.defn
    async def plan_satisfaction_survey(self, request: PlanInput) -> SurveyPlan:
        """Timings of a post-purchase survey and its single reminder."""
        config = self._config()
        settings = config.satisfaction_survey
        return SurveyPlan(
            delay_seconds=settings.delay_after_start_days * DAY,
            remind_after_seconds=settings.remind_after_days * DAY,
            close_after_seconds=settings.close_after_days * DAY,
            low_score_threshold=config.low_score_threshold,
            params={"survey_url": self._survey_url(request)},
            low_score_task_due_hours=settings.low_score_task_due_hours,
            template_id=settings.template,
            reminder_template_id=settings.reminder_template,
        )

    @activity.defn
    async def plan_onboarding(self, request: PlanInput) -> OnboardingPlan:
        """The onboarding series: each message and how long after the start it goes out."""
        steps = self._config().onboarding.steps
        return OnboardingPlan(
            messages=[
                OnboardingMessage(
                    step=s.step, template_id=s.template, after_seconds=s.after_days * DAY
                )
                for s in steps
            ]
        )

    @activity.defn
    async def plan_contact_change_notice(self, request: PlanInput) -> ContactChangePlan:
        """Which teams hear about a customer's changed contact data."""
        settings = self._config().contact_change
        return ContactChangePlan(
            roles=[f"team:{team}" for team in settings.teams], template_id=settings.template
        )

    @activity.defn
    async def plan_simple_journey(self, request: SimplePlanInput) -> SimpleJourneyPlan:
        """Templates, topic and timings of a simple journey, from `simple_journeys.<name>`."""
        settings = self._config().simple_journeys.get(request.journey)
        if settings is None:
            raise ApplicationError(
                f"journeys.yaml has no simple_journeys.{request.journey} section",
                non_retryable=True,
            )
        params: dict[str, ParamValue] = {}
        if settings.survey_link:
            params["survey_url"] = self._survey_url(request)
        return SimpleJourneyPlan(
            template_id=settings.template,
            reminder_template_id=settings.reminder_template,
            topic=settings.topic,
            delay_seconds=settings.delay_days * DAY,
            remind_after_seconds=settings.remind_after_days * DAY,
            close_after_seconds=settings.close_after_days * DAY,
            params=params,
        )

    @activity.defn
    async def business_due(self, request: DueInput) -> datetime:
        """A deadline `hours` working hours after `start` on the configured calendar."""
        calendar = self._config().business_hours.calendar()
        return calendar.add_business_hours(request.start, request.hours)

    @activity.defn
    async def orders_since(self, request: OrdersSinceInput) -> int:
        """How many orders the customer placed since `since`: a goal check that does not
        depend on the `order_placed` signal having arrived."""
        async with self.db.session() as session:
            customer = await find_customer(session, request.customer_id)
            if customer is None:
                return 0
            count = await session.scalar(
                select(func.count(Order.id)).where(
                    Order.customer_id == customer.id, Order.ordered_at >= request.since
                )
            )
        return int(count or 0)

    @activity.defn
    async def record_outcome(self, request: RecordOutcomeInput) -> None:
        """Mark the journey ended with its outcome, for the KPIs and the timeline."""
        await mark_journey_ended(
            self.db, request.workflow_id, request.outcome, at=activity_now(request.at)
        )

    @activity.defn
    async def set_complaint_status(self, request: ComplaintStatusInput) -> None:
        """Mark the case escalated or reopened; a resolved case is only ever reopened."""
        async with self.db.session() as session:
            customer = await find_customer(session, request.customer_id)
            if customer is None:
                return
            complaint = await session.scalar(
                select(Complaint).where(
                    Complaint.external_id == request.complaint_id,
                    Complaint.customer_id == customer.id,
                )
            )
            if complaint is None:
                return
            if complaint.status == "resolved" and request.status != "reopened":
                return
            complaint.status = request.status
            if request.status == "reopened":
                complaint.resolved_at = None

    def _survey_url(self, request: PlanInput | SimplePlanInput) -> str:
        # A signed link carries the journey and customer ids only.
        return survey_url(self.base_url, self.secret_key, request.workflow_id, request.customer_id)


async def _known_customer(session: AsyncSession, external_id: str) -> Customer:
    customer = await find_customer(session, external_id)
    if customer is None:
        raise _unknown_customer(external_id)
    return customer


def _unknown_customer(external_id: str) -> ApplicationError:
    return ApplicationError(f"customer {external_id} is not in the store", non_retryable=True)


async def _spend_last_365d(session: AsyncSession, customer: Customer, now: datetime) -> float:
    total = await session.scalar(
        select(func.coalesce(func.sum(Order.amount), 0)).where(
            Order.customer_id == customer.id, Order.ordered_at > now - timedelta(days=365)
        )
    )
    return float(total or Decimal(0))


def _next_birthday(customer: Customer, today: date) -> date | None:
    """The customer's birthday on or after `today` (a lunar birthday converted to solar)."""
    if customer.birthday is None:
        return None
    calendar = customer.birthday_calendar or "solar"
    days = days_until_birthday(
        customer.birthday.month,
        customer.birthday.day,
        LUNAR_CALENDAR if calendar == LUNAR_CALENDAR else "solar",
        today,
    )
    return today + timedelta(days=days)


def _coupon_params(
    coupon: Coupon, currency: str, prefix: str, request: PlanInput
) -> dict[str, ParamValue]:
    # The code derives from the journey id: the same journey always shows the same code.
    digest = hashlib.sha256(request.workflow_id.encode()).hexdigest()[:8].upper()
    expires_at = request.now + timedelta(days=coupon.valid_days)
    return {
        "offer_value": coupon.value,
        "offer_currency": currency,
        "offer_code": f"{prefix}-{digest}",
        "offer_expires_at": expires_at.isoformat(),
    }


def _approval(config: ApprovalConfig | None, value: float) -> dict[str, Any]:
    """The plan's approval fields for an offer worth `value` (none below the threshold)."""
    if config is None or value <= config.above_value:
        return {}
    return {
        "approvers": list(config.approvers),
        "approval_wait_seconds": config.wait_hours * 3600,
        "approval_default": config.on_timeout,
    }

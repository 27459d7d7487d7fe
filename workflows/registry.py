"""The one registry of workflows: journeys that rules can start, and internal workflows.

A journey's `name` is what rule files say (`start: complaint_escalation`); the
registered workflow type names are an API and are never renamed while running.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from careflow.journey_spec import Journey
from careflow.workflows import ids
from careflow.workflows.campaign import CampaignWorkflow
from careflow.workflows.care_message import CareMessageWorkflow
from careflow.workflows.complaint_escalation import ComplaintEscalationWorkflow
from careflow.workflows.contact_change_notice import ContactChangeNoticeWorkflow
from careflow.workflows.customer_event import CustomerEventWorkflow
from careflow.workflows.daily_scan import DailyScanWorkflow
from careflow.workflows.onboarding import OnboardingWorkflow
from careflow.workflows.retention_offer import RetentionOfferWorkflow
from careflow.workflows.review_request import ReviewRequestWorkflow
from careflow.workflows.satisfaction_survey import SatisfactionSurveyWorkflow


def _per_complaint(customer: str, _rule: str, subject: str, _on: date, _re: int | None) -> str:
    return ids.complaint_workflow_id(customer, subject)


def _per_rule(name: str) -> Callable[[str, str, str, date, int | None], str]:
    def build(customer: str, rule: str, subject: str, on: date, reenter: int | None) -> str:
        return ids.journey_workflow_id(
            name, customer, rule, subject=subject or None, on=on, reenter_after_days=reenter
        )

    return build


def _per_occasion(customer: str, rule: str, subject: str, on: date, _re: int | None) -> str:
    # The occasion and its year are the key: one greeting per occasion and year. A
    # rule that names no occasion greets once per rule and year.
    return ids.care_message_workflow_id(customer, rule, subject or f"{rule}-{on.year}")


def _per_day(customer: str, rule: str, _subject: str, on: date, _re: int | None) -> str:
    return ids.contact_change_workflow_id(customer, rule, on)


JOURNEYS: dict[str, Journey] = {
    journey.name: journey
    for journey in (
        Journey(
            name="complaint_escalation",
            label={"en": "complaint escalation", "zh-CN": "投诉升级"},
            settings="complaint",
            templates={
                "complaint_ack": "transactional",
                "complaint_update": "transactional",
                "complaint_resolved": "transactional",
                "staff_escalation": "staff",
                "satisfaction_survey": "care",
                "survey_reminder": "care",
            },
            workflow=ComplaintEscalationWorkflow,
            description="Acknowledge a new complaint at once and follow it to resolution.",
            workflow_id=_per_complaint,
            needs_subject=True,
        ),
        Journey(
            name="retention_offer",
            label={"en": "retention offer", "zh-CN": "挽留优惠"},
            settings="retention_offer",
            templates={
                "retention_offer": "marketing",
                "retention_reminder": "marketing",
                "staff_call_task": "staff",
            },
            workflow=RetentionOfferWorkflow,
            description="Win a customer back: offer, one reminder, then a call for VIPs.",
            workflow_id=_per_rule("retention_offer"),
            staff_signals=("task_closed",),
        ),
        Journey(
            name="care_message",
            label={"en": "care message", "zh-CN": "关怀消息"},
            settings="care_message",
            templates={
                "birthday_greeting": "care",
                "holiday_greeting": "care",
                # Sent for the `points_expiring` occasion (journeys.yaml).
                "points_expiring": "care",
            },
            workflow=CareMessageWorkflow,
            description="A birthday or holiday greeting at a friendly local hour.",
            # The dispatcher makes the subject `<occasion>-<year>` from the rule's
            # `occasion` parameter.
            workflow_id=_per_occasion,
        ),
        Journey(
            name="satisfaction_survey",
            label={"en": "satisfaction survey", "zh-CN": "满意度调查"},
            settings="satisfaction_survey",
            templates={
                "satisfaction_survey": "care",
                "survey_reminder": "care",
                "staff_call_task": "staff",
            },
            workflow=SatisfactionSurveyWorkflow,
            description="Ask how we did after a purchase; remind once; follow up low scores.",
            workflow_id=_per_rule("satisfaction_survey"),
        ),
        Journey(
            name="onboarding",
            label={"en": "onboarding", "zh-CN": "新客引导"},
            settings="onboarding",
            templates={"onboarding_welcome": "care", "onboarding_tips": "care"},
            workflow=OnboardingWorkflow,
            description="Welcome a new customer with a short series of messages.",
            workflow_id=_per_rule("onboarding"),
        ),
        Journey(
            name="contact_change_notice",
            label={"en": "contact change notice", "zh-CN": "联系方式变更通知"},
            settings="contact_change",
            templates={"staff_contact_change": "staff"},
            workflow=ContactChangeNoticeWorkflow,
            description="Tell sales, service and marketing that a customer's contact data changed.",
            workflow_id=_per_day,
        ),
        Journey(
            name="review_request",
            workflow=ReviewRequestWorkflow,
            description="Ask for a review after an order; remind once; stop when answered.",
            label={"en": "review request", "zh-CN": "评价邀请"},
            settings="simple_journeys.review_request",
            templates={"review_request": "care", "review_reminder": "care"},
            workflow_id=_per_rule("review_request"),
        ),
    )
}

# Every workflow the worker runs: the journeys plus careflow's own plumbing.
WORKFLOWS: list[type[Any]] = [
    *(journey.workflow for journey in JOURNEYS.values()),
    CustomerEventWorkflow,
    DailyScanWorkflow,
    CampaignWorkflow,
]

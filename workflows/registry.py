"""The one registry of workflows: journeys that rules can start, and internal workflows.

A journey's `name` is what rule files say (`start: complaint_escalation`); the
registered workflow type names are an API and are never renamed while running.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from careflow.workflows import ids
from careflow.workflows.care_message import CareMessageWorkflow
from careflow.workflows.complaint_escalation import ComplaintEscalationWorkflow
from careflow.workflows.contact_change_notice import ContactChangeNoticeWorkflow
from careflow.workflows.customer_event import CustomerEventWorkflow
from careflow.workflows.daily_scan import DailyScanWorkflow
from careflow.workflows.onboarding import OnboardingWorkflow
from careflow.workflows.retention_offer import RetentionOfferWorkflow
from careflow.workflows.satisfaction_survey import SatisfactionSurveyWorkflow


@dataclass(frozen=True)
class Journey:
    """A workflow that rules may start or signal, and how its id is built."""

    name: str
    workflow: type[Any]
    description: str
    signals: tuple[str, ...]
    # Builds the workflow id from (customer pseudonym, rule id, subject, day,
    # reenter_after_days): the dispatcher passes the keyed pseudonym, never the raw id.
    workflow_id: Callable[[str, str, str, date, int | None], str]
    # Whether the journey is about one subject (a complaint) rather than the customer.
    needs_subject: bool = False
    # Signals staff actions send it, with an argument (careflow/staffwork); not for rules.
    staff_signals: tuple[str, ...] = ()


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
            workflow=ComplaintEscalationWorkflow,
            description="Acknowledge a new complaint at once and follow it to resolution.",
            signals=(
                "complaint_resolved",
                "complaint_responded",
                "survey_answered",
                "opted_out",
                "customer_erased",
            ),
            workflow_id=_per_complaint,
            needs_subject=True,
        ),
        Journey(
            name="retention_offer",
            workflow=RetentionOfferWorkflow,
            description="Win a customer back: offer, one reminder, then a call for VIPs.",
            signals=("order_placed", "opted_out", "customer_erased"),
            workflow_id=_per_rule("retention_offer"),
            staff_signals=("task_closed",),
        ),
        Journey(
            name="care_message",
            workflow=CareMessageWorkflow,
            description="A birthday or holiday greeting at a friendly local hour.",
            signals=("opted_out", "customer_erased"),
            # The dispatcher makes the subject `<occasion>-<year>` from the rule's
            # `occasion` parameter.
            workflow_id=_per_occasion,
        ),
        Journey(
            name="satisfaction_survey",
            workflow=SatisfactionSurveyWorkflow,
            description="Ask how we did after a purchase; remind once; follow up low scores.",
            signals=("survey_answered", "opted_out", "customer_erased"),
            workflow_id=_per_rule("satisfaction_survey"),
        ),
        Journey(
            name="onboarding",
            workflow=OnboardingWorkflow,
            description="Welcome a new customer with a short series of messages.",
            signals=("opted_out", "customer_erased"),
            workflow_id=_per_rule("onboarding"),
        ),
        Journey(
            name="contact_change_notice",
            workflow=ContactChangeNoticeWorkflow,
            description="Tell sales, service and marketing that a customer's contact data changed.",
            signals=(),
            workflow_id=_per_day,
        ),
    )
}

# Every workflow the worker runs: the journeys plus careflow's own plumbing.
WORKFLOWS: list[type[Any]] = [
    *(journey.workflow for journey in JOURNEYS.values()),
    CustomerEventWorkflow,
    DailyScanWorkflow,
]

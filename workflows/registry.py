"""The one registry of workflows: journeys that rules can start, and internal workflows.

A journey's `name` is what rule files say (`start: complaint_escalation`); the
registered workflow type names are an API and are never renamed while running.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from workflows import ids
from workflows.complaint_escalation import ComplaintEscalationWorkflow
from workflows.customer_event import CustomerEventWorkflow
from workflows.daily_scan import DailyScanWorkflow


@dataclass(frozen=True)
class Journey:
    """A workflow that rules may start or signal, and how its id is built."""

    name: str
    workflow: type[Any]
    description: str
    signals: tuple[str, ...]
    # Builds the workflow id from (customer id, rule id, subject, day, reenter_after_days).
    workflow_id: Callable[[str, str, str, date, int | None], str]
    # Whether the journey is about one subject (a complaint) rather than the customer.
    needs_subject: bool = False


def _per_complaint(customer: str, _rule: str, subject: str, _on: date, _re: int | None) -> str:
    return ids.complaint_workflow_id(customer, subject)


def _per_rule(name: str) -> Callable[[str, str, str, date, int | None], str]:
    def build(customer: str, rule: str, subject: str, on: date, reenter: int | None) -> str:
        return ids.journey_workflow_id(
            name, customer, rule, subject=subject or None, on=on, reenter_after_days=reenter
        )

    return build


JOURNEYS: dict[str, Journey] = {
    journey.name: journey
    for journey in (
        Journey(
            name="complaint_escalation",
            workflow=ComplaintEscalationWorkflow,
            description="Acknowledge a new complaint at once and follow it to resolution.",
            signals=("complaint_resolved", "customer_erased"),
            workflow_id=_per_complaint,
            needs_subject=True,
        ),
    )
}

# Every workflow the worker runs: the journeys plus careflow's own plumbing.
WORKFLOWS: list[type[Any]] = [
    *(journey.workflow for journey in JOURNEYS.values()),
    CustomerEventWorkflow,
    DailyScanWorkflow,
]

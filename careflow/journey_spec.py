"""What a journey is, as the rest of careflow sees it: one declaration per journey.

`workflows/registry.py` declares each journey once with this type; the dispatcher,
the rule checks, intake, the timeline and the docs read it from there, handed in by
the code that assembles each process. It lives outside workflows/ and activities/
so that both (and rules/ checks) can use the type without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from temporalio import workflow

# Builds the workflow id from (customer pseudonym, rule id, subject, day,
# reenter_after_days): the dispatcher passes the keyed pseudonym, never the raw id.
WorkflowIdBuilder = Callable[[str, str, str, date, int | None], str]


def workflow_signals(workflow_class: type[Any]) -> tuple[str, ...]:
    """The signal names the workflow class handles, read from its Temporal definition."""
    definition = workflow._Definition.must_from_class(workflow_class)
    return tuple(sorted(name for name in definition.signals if name is not None))


def workflow_type_name(workflow_class: type[Any]) -> str:
    """The registered workflow type name (an API: never renamed while journeys run)."""
    return workflow._Definition.must_from_class(workflow_class).name or workflow_class.__name__


# Who a template goes to and the consent it needs: a customer topic, or staff.
Audience = Literal["transactional", "care", "marketing", "staff"]


@dataclass(frozen=True, kw_only=True)
class Journey:
    """A journey, declared once: what rules call it, its workflow, id, settings, templates.

    Everything else reads it from here: the rule checks (its name and signals), the
    dispatcher (its id), the console (its label), the generated docs, the journey
    tests' template lists and the check that its settings exist in journeys.yaml.
    """

    name: str
    workflow: type[Any]
    description: str
    workflow_id: WorkflowIdBuilder
    # How the console names it, by language ("en", "zh-CN").
    label: Mapping[str, str]
    # The section of rules/journeys.yaml holding its settings ("simple_journeys.<name>"
    # for a simple journey), and the templates it sends by default with their audience.
    settings: str
    templates: Mapping[str, Audience]
    # Whether the journey is about one subject (a complaint) rather than the customer.
    needs_subject: bool = False
    # Signals staff actions send it, with an argument (careflow/staffwork); not for rules.
    staff_signals: tuple[str, ...] = ()

    @property
    def signals(self) -> tuple[str, ...]:
        """The signals rules may send: those its workflow class handles, but staff's."""
        return tuple(
            name for name in workflow_signals(self.workflow) if name not in self.staff_signals
        )


def template_audiences(journeys: Iterable[Journey]) -> dict[str, Audience]:
    """Each template the journeys send and who it goes to, from their declarations."""
    audiences: dict[str, Audience] = {}
    for journey in journeys:
        for template, audience in journey.templates.items():
            audiences.setdefault(template, audience)
    return audiences

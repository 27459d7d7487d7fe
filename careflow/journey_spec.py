"""What a journey is, as the rest of careflow sees it: one declaration per journey.

`workflows/registry.py` declares each journey once with this type; the dispatcher,
the rule checks, intake, the timeline and the docs read it from there, handed in by
the code that assembles each process. It lives outside workflows/ and activities/
so that both (and rules/ checks) can use the type without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

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


@dataclass(frozen=True, kw_only=True)
class Journey:
    """A workflow that rules may start or signal, and how its id is built."""

    name: str
    workflow: type[Any]
    description: str
    workflow_id: WorkflowIdBuilder
    # Whether the journey is about one subject (a complaint) rather than the customer.
    needs_subject: bool = False

    @property
    def signals(self) -> tuple[str, ...]:
        """The signals the journey accepts: those its workflow class handles."""
        return workflow_signals(self.workflow)

"""The ids a journey's business key has had: the one it gets now, and earlier ones.

A journey runs once per business key (customer, rule, subject, period), and its id
is how Temporal and the journeys table know it. The id scheme changed twice: first
keys were sanitised (`_` for unsafe characters, not injective), then escaped, and
now the customer is named by a keyed pseudonym (careflow/pseudonyms.py). Journeys
started under an earlier form are still the same journey: the start policy
(careflow/start_outcomes.py) is given every form, so nothing once-only runs twice
across an upgrade. The dispatcher decides with these ids and the timeline explains
with the same ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, partial

from careflow.pseudonyms import customer_pseudonym
from careflow.workflows.ids import first_form_of

# A journey's id builder (`Journey.workflow_id` in workflows/registry.py, which is not
# imported here: the registry imports the workflows, which import the dispatcher):
# (customer, rule id, subject, day, reenter_after_days) -> workflow id.
IdBuilder = Callable[[str, str, str, date, int | None], str]


@dataclass(frozen=True)
class JourneyIds:
    """The id a journey starts under now, and the ids earlier schemes gave its key."""

    current: str
    # Builds the key's id with the raw customer id, which the earlier forms come from.
    # Worked out only when asked: the daily scan wants `current` alone for every
    # customer a rule fires for, every day.
    with_raw_id: Callable[[], str] = field(repr=False, compare=False)

    @cached_property
    def earlier(self) -> frozenset[str]:
        raw = self.with_raw_id()
        return frozenset({raw, first_form_of(raw)} - {self.current})


def journey_ids(
    build_id: IdBuilder,
    secret_key: str,
    customer_id: str,
    rule_id: str,
    subject: str,
    on: date,
    reenter_after_days: int | None,
) -> JourneyIds:
    """The ids `build_id` gives the journey of this business key, now and before."""
    current = build_id(
        customer_pseudonym(secret_key, customer_id), rule_id, subject, on, reenter_after_days
    )
    return JourneyIds(
        current, partial(build_id, customer_id, rule_id, subject, on, reenter_after_days)
    )

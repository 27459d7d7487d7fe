"""The direct event path: an event's rules evaluated, and their intents carried out,
in the process that accepted it, with no workflow of its own.

Why: on the workflow path every event cost a `CustomerEventWorkflow` with two
activities (evaluate, dispatch) before its journey even started: a workflow start,
three workflow tasks, two activity tasks and their history in the Temporal server,
and as much bookkeeping in the worker, about half of a complaint's whole cost
(docs/benchmarks.md). Here the same two steps (`RuleActivities.evaluate_event` and
`DispatchActivities.dispatch`, the very code the activities run) are called in
process, right after the event's commit; an event on which no rule fires starts
nothing in Temporal at all, and one that fires starts its journey with the
deterministic id and id-reuse policy the dispatch activity always used.

What the workflow gave for free is kept another way:
- durability: the event is stored with `handled_at` NULL in the transaction that
  stores it, and marked once its intents are carried out; a crash (or Temporal or
  the store going away) in between leaves it NULL, and the event sweep
  (careflow/intake/sweep.py) hands it to its `CustomerEventWorkflow`, which
  evaluates it durably. Nothing is left unevaluated.
- no repeats: the decision instant is the event's `received_at`, on this path and
  for the sweep alike, so a re-evaluation computes the same journey ids (Temporal
  refuses a second start), the same notification and webhook keys; only the rule
  decision rows (the audit) can be written twice, as an activity retry could.
"""

from __future__ import annotations

from datetime import datetime

from careflow.activities.dispatch import DispatchActivities
from careflow.activities.rules import RuleActivities
from careflow.contracts.events import DispatchInput, DispatchResult, EvaluateEventInput
from careflow.intake.handled import HandledMark
from careflow.store import Event


class DirectEvaluation:
    """Evaluates one stored event's rules and carries out the intents, in this process."""

    def __init__(self, rules: RuleActivities, dispatch: DispatchActivities) -> None:
        self.rules = rules
        self.dispatch = dispatch

    async def handle(
        self,
        event_id: str,
        at: datetime,
        *,
        stored: Event | None = None,
        customer_pk: int | None = None,
        mark: HandledMark | None = None,
    ) -> DispatchResult:
        """What `CustomerEventWorkflow` does for the event, as of `at` (its `received_at`).

        `stored`: the event's row as just committed, so the evaluation need not read
        it back; `customer_pk`: its customer's key, from the same transaction, so
        neither the evaluation nor the journey record looks it up again. Raises
        whatever evaluating or dispatching raises; the event stays unmarked then, for
        a retry of its delivery or the sweep to hand to its workflow. `mark`: the
        event's handled mark, written with its last write where there is one
        (careflow/intake/handled.py).
        """
        evaluation = await self.rules.evaluate(
            EvaluateEventInput(event_id=event_id, at=at),
            stored=stored,
            customer_pk=customer_pk,
            mark_if_nothing_fires=mark,
        )
        if not evaluation.intents:
            return DispatchResult(not_acted_reason=evaluation.not_acted_reason or "no rule fired")
        return await self.dispatch.dispatch(
            DispatchInput(
                customer_id=evaluation.customer_id,
                intents=evaluation.intents,
                subject=evaluation.subject,
                at=at,
            ),
            customer_pk=customer_pk,
            mark=mark,
        )

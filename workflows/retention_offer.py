"""RetentionOfferWorkflow: an offer, one reminder, then a call from the account manager.

Started for declining purchase frequency or dormancy. The goal is an order: the
`order_placed` signal ends the journey at once, as do an opt-out and erasure. Before
the reminder and before the call, the store is asked too, so an order whose signal
never came still counts.
Offer value (by tier and spend) and every timing come from `rules/journeys.yaml`.

Since `call-task-outcome-v1`, the journey waits for the call task's outcome (staff
complete or cancel it: the `task_closed` signal) until `CALL_OUTCOME_WAIT` after the
call was due, and ends with it (`call_won_back`, `call_no_answer`, ...); journeys
started before that replay ending at `call_task` as soon as the task was opened.

Since `offer-approval-v1`, an offer worth more than `retention_offer.approval.above_value`
waits for approval first: each approver in turn gets an `approval` task and
`approval.wait_hours` to answer (the `decide_approval` Update); when nobody answered,
`approval.on_timeout` decides. A rejected offer ends the journey (`offer_rejected`)
without sending anything.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.journeys import (
        ORDERS_SINCE,
        PLAN_RETENTION_OFFER,
        JourneyInput,
        JourneyOutcome,
        OrdersSinceInput,
        RetentionPlan,
    )
    from careflow.contracts.outreach import MessageStatus
    from careflow.contracts.tasks import ApprovalDecision, TaskClosed
    from careflow.workflows.bookkeeping import plan_journey, record_outcome
    from careflow.workflows.calls import call_quick_step
    from careflow.workflows.exits import JourneyExits, wait_until
    from careflow.workflows.journey import journey_start
    from careflow.workflows.patches import CALL_OUTCOME_PATCH, OFFER_APPROVAL_PATCH, patched
    from careflow.workflows.sending import send_step
    from careflow.workflows.staff import close_tasks, notify_staff, open_task

GOAL_MET = JourneyOutcome.GOAL_MET
CALL_STEP = "call-task"
# How long after the call's due time the journey still waits to hear how it went.
CALL_OUTCOME_WAIT = timedelta(days=14)
# The journey's outcome for each way staff closed the call task (careflow/staffwork).
CALL_OUTCOMES = {
    "won_back": JourneyOutcome.CALL_WON_BACK,
    "reached": JourneyOutcome.CALL_REACHED,
    "resolved": JourneyOutcome.CALL_RESOLVED,
    "no_answer": JourneyOutcome.CALL_NO_ANSWER,
    "declined": JourneyOutcome.CALL_DECLINED,
    "other": JourneyOutcome.CALL_DONE,
}


@workflow.defn(name="RetentionOfferWorkflow")
class RetentionOfferWorkflow(JourneyExits):
    """One customer's win-back journey; its id comes from the rule that started it."""

    def __init__(self) -> None:
        super().__init__()
        self.ordered = False
        self.call_closed: TaskClosed | None = None
        self.awaiting_approval = False
        self.decision: ApprovalDecision | None = None

    @workflow.run
    async def run(self, journey: JourneyInput) -> JourneyOutcome:
        return await record_outcome(await self._journey(journey))

    async def _journey(self, journey: JourneyInput) -> JourneyOutcome:
        started = journey_start(journey)
        plan = await plan_journey(PLAN_RETENTION_OFFER, journey)
        self.announce_end(plan.give_up_at)
        if (
            patched(OFFER_APPROVAL_PATCH)
            and plan.approvers
            and not await self._approved(journey, plan, started)
        ):
            return self.exit_outcome() or JourneyOutcome.OFFER_REJECTED
        offer = await send_step(
            journey,
            "offer",
            plan.template_id,
            topic="marketing",
            params=plan.params,
            stop=self._done,
            due_at=started,
        )
        if self._done():
            return self._outcome()
        if offer.status != MessageStatus.SENT:
            return JourneyOutcome.of_offer(offer.status)
        if await wait_until(self._done, plan.remind_at) or await self._ordered(journey, started):
            return self._outcome()
        await send_step(
            journey,
            "reminder",
            plan.reminder_template_id,
            topic="marketing",
            params=plan.params,
            stop=self._done,
            due_at=plan.remind_at,
        )
        if await wait_until(self._done, plan.give_up_at) or await self._ordered(journey, started):
            return self._outcome()
        if not plan.call_task:
            return JourneyOutcome.GOAL_NOT_MET
        reason = "A win-back offer and its reminder did not bring the customer back."
        await open_task(
            journey,
            CALL_STEP,
            kind="call",
            role="account_manager",
            title=f"Call customer {journey.customer_id}: win-back offer unanswered",
            due_at=plan.call_due_at,
        )
        await notify_staff(
            journey,
            "call-task-notice",
            plan.call_template_id,
            role="account_manager",
            reason=reason,
            due_at=plan.call_due_at,
        )
        if not patched(CALL_OUTCOME_PATCH):
            return JourneyOutcome.CALL_TASK
        return await self._call_outcome(plan.call_due_at + CALL_OUTCOME_WAIT)

    async def _approved(
        self, journey: JourneyInput, plan: RetentionPlan, started: datetime
    ) -> bool:
        """Ask each approver in turn, each until their deadline (counted from the trigger);
        the configured default when nobody answered."""
        self.awaiting_approval = True
        wait = timedelta(seconds=plan.approval_wait_seconds)
        for level, approver in enumerate(plan.approvers):
            deadline = started + wait * (level + 1)
            await open_task(
                journey,
                f"approval-{level}",
                kind="approval",
                role=approver,
                title=f"Approve the win-back offer for customer {journey.customer_id}",
                due_at=deadline,
            )
            if await wait_until(lambda: self.decision is not None or self.exited, deadline):
                break
        self.awaiting_approval = False
        await close_tasks()
        if self.exited:
            return False
        if self.decision is not None:
            return self.decision.approved
        return plan.approval_default == "approve"

    async def _call_outcome(self, deadline: datetime) -> JourneyOutcome:
        """How the call went, as staff closed its task; `call_task` if nobody did in time."""
        await wait_until(lambda: self.call_closed is not None or self._done(), deadline)
        closed = self.call_closed
        if closed is not None:
            if closed.status == "cancelled":
                return JourneyOutcome.CALL_CANCELLED
            return CALL_OUTCOMES.get(closed.outcome or "other", JourneyOutcome.CALL_DONE)
        if self._done():
            return self._outcome()
        return JourneyOutcome.CALL_TASK

    async def _ordered(self, journey: JourneyInput, since: datetime) -> bool:
        """Whether an order arrived that no `order_placed` signal announced."""
        orders = await call_quick_step(
            ORDERS_SINCE, OrdersSinceInput(customer_id=journey.customer_id, since=since)
        )
        self.ordered = self.ordered or orders > 0
        return self.ordered

    def _done(self) -> bool:
        return self.ordered or self.exited

    def _outcome(self) -> JourneyOutcome:
        return self.exit_outcome() or GOAL_MET

    @workflow.signal(name="order_placed")
    def order_placed(self) -> None:
        self.ordered = True

    @workflow.update(name="decide_approval")
    def decide_approval(self, decision: ApprovalDecision) -> bool:
        """An approver's answer; the journey goes on (or ends) accordingly."""
        self.decision = decision
        return decision.approved

    @decide_approval.validator
    def _while_waiting(self, decision: ApprovalDecision) -> None:
        # Refused before it enters history: nothing to decide, or decided already.
        if not self.awaiting_approval or self.decision is not None:
            raise ValueError("this journey is not waiting for an approval")

    @workflow.signal(name="task_closed")
    def task_closed(self, closed: TaskClosed) -> None:
        # Staff closed one of this journey's tasks; only the call task's outcome counts.
        if closed.step_id == CALL_STEP:
            self.call_closed = closed

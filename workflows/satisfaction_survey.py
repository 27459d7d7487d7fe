"""SatisfactionSurveyWorkflow: a post-purchase survey, one reminder, and a low score followed up.

A low score (at or below `low_score_threshold` in `rules/journeys.yaml`) becomes a
call task for the service team, so an unhappy customer hears from a person.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.journeys import PLAN_SATISFACTION_SURVEY, JourneyInput, JourneyOutcome
    from careflow.workflows.bookkeeping import plan_journey, record_outcome
    from careflow.workflows.exits import JourneyExits, wait_until
    from careflow.workflows.journey import journey_start
    from careflow.workflows.staff import notify_staff, open_task
    from careflow.workflows.survey import ANSWERED, SurveyAnswers, SurveySteps, ask_survey

LOW_SCORE = JourneyOutcome.LOW_SCORE


@workflow.defn(name="SatisfactionSurveyWorkflow")
class SatisfactionSurveyWorkflow(JourneyExits, SurveyAnswers):
    """One survey for one customer and trigger; its id comes from the rule that started it."""

    def __init__(self) -> None:
        JourneyExits.__init__(self)
        SurveyAnswers.__init__(self)

    @workflow.run
    async def run(self, journey: JourneyInput) -> JourneyOutcome:
        return await record_outcome(await self._journey(journey))

    async def _journey(self, journey: JourneyInput) -> JourneyOutcome:
        plan = await plan_journey(PLAN_SATISFACTION_SURVEY, journey)
        ask_at = journey_start(journey) + timedelta(seconds=plan.delay_seconds)
        # The customer may answer early (from a receipt link); that is an answer too.
        if await wait_until(lambda: self.exited or self.answered, ask_at) and self.exited:
            return self.exit_outcome() or JourneyOutcome.ENDED
        steps = SurveySteps(
            template_id=plan.template_id,
            reminder_template_id=plan.reminder_template_id,
            remind_after_seconds=plan.remind_after_seconds,
            close_after_seconds=plan.close_after_seconds,
        )
        answer = ANSWERED
        if not self.answered:
            answer = await ask_survey(
                journey, steps, plan.params, answers=self, stop=lambda: self.exited, due_at=ask_at
            )
        if self.exited:
            return self.exit_outcome() or JourneyOutcome.ENDED
        if answer == ANSWERED and self.score is not None and self.score <= plan.low_score_threshold:
            due_at = workflow.now() + timedelta(hours=plan.low_score_task_due_hours)
            reason = f"Low satisfaction score: {self.score}"
            await open_task(
                journey,
                "low-score-call",
                kind="call",
                role="team:service",
                title=f"Call customer {journey.customer_id}: {reason}",
                due_at=due_at,
            )
            await notify_staff(
                journey,
                "low-score-notice",
                "staff_call_task",
                role="team:service",
                reason=reason,
                due_at=due_at,
            )
            return LOW_SCORE
        return answer

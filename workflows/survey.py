"""The satisfaction-survey step shared by the survey journey and complaint follow-ups.

The survey goes out, a reminder follows once if it is unanswered, and the
`survey_answered` signal (with the score when known) ends the wait at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.journeys import JourneyInput, JourneyOutcome
    from careflow.contracts.outreach import MessageStatus, ParamValue
    from careflow.workflows.exits import wait_until
    from careflow.workflows.sending import send_step

ANSWERED, UNANSWERED, NOT_SENT = (
    JourneyOutcome.ANSWERED,
    JourneyOutcome.UNANSWERED,
    JourneyOutcome.NOT_SENT,
)


class SurveyAnswers:
    """The `survey_answered` signal and what it said."""

    def __init__(self) -> None:
        self.answered = False
        self.score: int | None = None

    @workflow.signal(name="survey_answered")
    def signal_survey_answered(self, score: int | None = None) -> None:
        # The dispatcher may signal without a score; an answer is an answer.
        self.answered = True
        if score is not None:
            self.score = score


@dataclass(frozen=True, kw_only=True)
class SurveySteps:
    """Templates, step ids and timings of one survey with its single reminder."""

    template_id: str
    reminder_template_id: str
    remind_after_seconds: float
    close_after_seconds: float
    step_prefix: str = "survey"


async def ask_survey(
    journey: JourneyInput,
    steps: SurveySteps,
    params: dict[str, ParamValue],
    *,
    answers: SurveyAnswers,
    stop: Callable[[], bool],
    due_at: datetime | None = None,
) -> JourneyOutcome:
    """Send the survey (due at `due_at`), remind once, wait for the answer:
    answered | unanswered | not_sent."""

    def done() -> bool:
        return answers.answered or stop()

    sent = await send_step(
        journey,
        steps.step_prefix,
        steps.template_id,
        topic="care",
        params=params,
        stop=done,
        due_at=due_at,
    )
    if answers.answered:
        return ANSWERED
    if stop() or sent.status != MessageStatus.SENT:
        return NOT_SENT
    started = sent.sent_at or workflow.now()
    remind_at = started + timedelta(seconds=steps.remind_after_seconds)
    if not await wait_until(done, remind_at):
        await send_step(
            journey,
            f"{steps.step_prefix}-reminder",
            steps.reminder_template_id,
            topic="care",
            params=params,
            stop=done,
            due_at=remind_at,
        )
        await wait_until(done, started + timedelta(seconds=steps.close_after_seconds))
    return ANSWERED if answers.answered else UNANSWERED

"""ReviewRequestWorkflow: ask for a review after an order, remind once, stop on the answer.

A simple journey (workflows/simple_journey.py): the templates, topic and timings are
`simple_journeys.review_request` in `rules/journeys.yaml`. The customer answers
through the signed survey link in the message; intake signals `survey_answered` to
the journey that asked, which ends it at once.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from careflow.contracts.journeys import JourneyInput, JourneyOutcome
    from careflow.workflows.simple_journey import SimpleJourney


@workflow.defn(name="ReviewRequestWorkflow")
class ReviewRequestWorkflow(SimpleJourney):
    """One review request per customer and order day; its id comes from the rule."""

    journey = "review_request"

    @workflow.run
    async def run(self, journey: JourneyInput) -> JourneyOutcome:
        return await self.run_simple(journey)

    @workflow.signal(name="survey_answered")
    def survey_answered(self, score: int | None = None) -> None:
        # The score, if any, is stored with the answer; the journey only needs to stop.
        self.reach_goal()

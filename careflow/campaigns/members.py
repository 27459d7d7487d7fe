"""A campaign's message to one member, and its audience decided as the send decides it.

The send (`activities/campaigns.py`), the preview (what a launch would do now) and the
simulator (what it would have done over history) must ask each member the same
questions in the same order: the holdout draw, the variant draw, then the send step's
own policy decision on the very request the send would make. They share them here,
so a preview's or a simulation's exclusions cannot drift from the send's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from careflow.activities.outreach import OutreachActivities
from careflow.campaigns.spec import CampaignSpec
from careflow.contracts.outreach import SendEmailInput
from careflow.experiments.assign import HOLDOUT_VARIANT, assign_variant, in_holdout
from careflow.outreach.decisions import PolicyDecision
from careflow.segments.book import SegmentBook
from careflow.segments.members import segment_page
from careflow.store import Database
from careflow.workflows.ids import campaign_workflow_id

PAGE = 2000  # the segment's own batch size: one fact computation per page


def member_request(
    spec: CampaignSpec, workflow_id: str, customer_id: str, variant: str, at: datetime
) -> SendEmailInput:
    """The send step's request for one member of the campaign, drawn `variant`."""
    return SendEmailInput(
        workflow_id=workflow_id,
        # The customer is the step: one message per customer per campaign.
        step_id=customer_id,
        customer_id=customer_id,
        template_id=spec.template_for(variant),
        topic=spec.topic,
        params={"campaign": spec.name},
        planned_at=at,
        # The ledger records both, for the experiment's results.
        experiment=spec.experiment,
        variant=variant,
        # `channel: sms` or `email`: that channel only; `preferred`: None.
        channel=spec.send_channel,
    )


@dataclass(frozen=True)
class MemberDecision:
    """One member: the group drawn, and what the send step would decide (not if held out)."""

    customer_id: str
    group: str  # the variant drawn, or HOLDOUT_VARIANT
    decision: PolicyDecision | None  # None for a member held out

    @property
    def held_out(self) -> bool:
        return self.decision is None


async def decided_pages(
    db: Database,
    outreach: OutreachActivities,
    spec: CampaignSpec,
    book: SegmentBook,
    *,
    at: datetime,
) -> AsyncIterator[list[MemberDecision]]:
    """The segment's members as of `at`, a page at a time, each drawn and decided at `at`
    as the campaign's send would (`decide_only`: nothing is recorded or sent)."""
    workflow_id = campaign_workflow_id(spec.name)
    after: str | None = None
    while members := await segment_page(db, book, spec.segment, at=at, after=after, limit=PAGE):
        after = members[-1]
        page: list[MemberDecision] = []
        for customer_id in members:
            if in_holdout(spec.experiment, customer_id, spec.holdout):
                page.append(MemberDecision(customer_id, HOLDOUT_VARIANT, None))
                continue
            variant = assign_variant(spec.experiment, customer_id, spec.weights)
            request = member_request(spec, workflow_id, customer_id, variant, at)
            decision = await outreach.decide_only(request, at)
            page.append(MemberDecision(customer_id, variant, decision))
        yield page

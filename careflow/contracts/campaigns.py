"""A broadcast campaign: the workflow's input and progress, and its activities.

Ids only: the campaign's name, customer ids as cursors and counts. Names, addresses
and bodies are read and rendered by the send step, never carried here.
"""

from dataclasses import dataclass, field
from datetime import datetime

from careflow.contracts.activity import ActivityContract


@dataclass(kw_only=True)
class CampaignProgress:
    """What the campaign did so far (carried across continue-as-new).

    `skipped` counts by reason (`holdout`, `no_marketing_consent`, `over_budget`, ...);
    `waiting` is how many of the current pass were outside their send window or
    deferred by the policy, to be tried again at `next_try`.
    """

    audience: int | None = None  # segment members as of `audience_at`
    sent: int = 0
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    waiting: int = 0
    processed: int = 0  # members handled in the current pass
    passes: int = 0  # completed passes over the segment
    next_try: datetime | None = None
    state: str = "scheduled"  # scheduled, sending, waiting, done, cancelled


@dataclass(kw_only=True)
class CampaignInput:
    """The campaign to send, and where a continued run stands."""

    campaign: str
    # Membership and the plan are fixed at the first run (set by the workflow).
    audience_at: datetime | None = None
    start_at: datetime | None = None
    per_minute: int | None = None
    page_size: int = 2000
    # The store's key of the last customer handled in this pass: never the business's
    # customer id, which the history would keep after the customer is erased.
    after_pk: int | None = None
    progress: CampaignProgress = field(default_factory=CampaignProgress)
    cancelled: bool = False


@dataclass(kw_only=True)
class PlanCampaignInput:
    campaign: str
    at: datetime


@dataclass(kw_only=True)
class CampaignPlan:
    """What the campaign file says about pacing, and the audience's size, at launch."""

    start_at: datetime
    per_minute: int | None
    page_size: int
    audience: int


@dataclass(kw_only=True)
class CampaignPageInput:
    """Send to the segment's members after the customer `after_pk` (the store's key; at
    most `limit`), as of `planned_at`. `first_pass` is kept for running campaigns'
    histories; members held out are in the ledger (final), so no pass counts them twice.
    """

    campaign: str
    workflow_id: str
    audience_at: datetime
    planned_at: datetime
    after_pk: int | None = None
    limit: int = 2000
    first_pass: bool = True


@dataclass(kw_only=True)
class CampaignPageResult:
    """What one page did; `last_pk` (the store's key of its last member) None when the
    segment had no members left."""

    last_pk: int | None
    members: int = 0
    sent: int = 0
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    waiting: int = 0
    next_try: datetime | None = None  # the earliest time a waiting member may be tried


PLAN_CAMPAIGN = ActivityContract(name="plan_campaign", input=PlanCampaignInput, result=CampaignPlan)
SEND_CAMPAIGN_PAGE = ActivityContract(
    name="send_campaign_page", input=CampaignPageInput, result=CampaignPageResult
)

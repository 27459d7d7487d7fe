"""What a campaign would do if launched now: who gets it, who does not and why.

Every member of the segment goes through the same decisions as at the send: the
holdout draw, then the send step's own policy decision (`OutreachActivities.decide_only`:
consent, suppressions, address, contact budget, quiet hours), then the send window.
Nothing is recorded or sent. Excluded members are counted by the reason the ledger
would store, with a few ids per reason to look up; members who would only wait
(their window, quiet hours, a budget slot) are eligible and counted as waiting.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from careflow.activities.outreach import OutreachActivities
from careflow.campaigns.members import decided_pages
from careflow.campaigns.spec import CampaignFileError, CampaignSpec, campaigns_dir, load_campaign
from careflow.campaigns.windows import member_zones, within_window
from careflow.channels.sending import DECIDING_ONLY_URL, SmsChannel
from careflow.config import Settings
from careflow.experiments.assign import HOLDOUT_VARIANT
from careflow.journey_config import JOURNEYS_FILE_NAME
from careflow.outreach.decisions import Action
from careflow.outreach.mailer import SmtpDelivery
from careflow.outreach.policy_config import POLICY_FILE_NAME, load_outreach_policy
from careflow.segments.book import SegmentBook, load_segments
from careflow.store import Database

SEND_WINDOW = "send_window"


@dataclass
class CampaignPreview:
    """The audience and what would happen to it, as of `at`."""

    campaign: str
    at: datetime
    audience: int = 0
    eligible: int = 0  # would get the message (now or once their wait is over)
    excluded: Counter[str] = field(default_factory=Counter)  # reason -> members
    samples: dict[str, list[str]] = field(default_factory=dict)  # reason -> a few ids
    waiting: Counter[str] = field(default_factory=Counter)  # eligible, but not yet: why
    variants: Counter[str] = field(default_factory=Counter)  # eligible members per variant
    per_minute: int | None = None  # the campaign's rate, if it has one
    channel: str = "email"  # the campaign's `channel`: email, sms or preferred

    @property
    def per_hour(self) -> int | None:
        """The expected messages per hour while sending: the rate, or unpaced (None)."""
        return None if self.per_minute is None else self.per_minute * 60

    @property
    def hours(self) -> float | None:
        """How long the eligible members take at the rate (their windows aside)."""
        per_hour = self.per_hour
        return None if per_hour is None else self.eligible / per_hour


async def preview_campaign(
    db: Database,
    outreach: OutreachActivities,
    spec: CampaignSpec,
    book: SegmentBook,
    *,
    at: datetime,
    samples: int = 5,
) -> CampaignPreview:
    """Every member of the campaign's segment as of `at`, decided but not sent."""
    preview = CampaignPreview(
        campaign=spec.name,
        at=at,
        per_minute=spec.rate.per_minute if spec.rate else None,
        channel=spec.channel,
    )
    default_zone = outreach.policy().default_timezone
    async for page in decided_pages(db, outreach, spec, book, at=at):
        zones, _ = await member_zones(db, [member.customer_id for member in page])
        for member in page:
            preview.audience += 1
            decision = member.decision
            if decision is None:
                _exclude(preview, HOLDOUT_VARIANT, member.customer_id, samples)
                continue
            if decision.action is Action.SKIP:
                _exclude(preview, decision.reason.value, member.customer_id, samples)
                continue
            preview.eligible += 1
            preview.variants[member.group] += 1
            if decision.action is Action.DEFER:
                preview.waiting[decision.reason.value] += 1
            elif not within_window(
                spec.send_window, at, zones.get(member.customer_id), default_zone
            ):
                preview.waiting[SEND_WINDOW] += 1
    return preview


def _exclude(preview: CampaignPreview, reason: str, customer_id: str, samples: int) -> None:
    preview.excluded[reason] += 1
    listed = preview.samples.setdefault(reason, [])
    if len(listed) < samples:
        listed.append(customer_id)


async def preview_configured(
    settings: Settings, db: Database, name: str, *, at: datetime, samples: int = 5
) -> CampaignPreview:
    """The preview of campaign `name` with the configured rules, templates and policy
    (CampaignFileError when its file has mistakes, as at launch)."""
    from careflow.activities.registry import build_outreach
    from careflow.campaigns.client import campaign_launch_problems

    problems = campaign_launch_problems(
        name, rules_dir=settings.rules_dir, templates_dir=settings.templates_dir
    )
    if problems:
        raise CampaignFileError(campaigns_dir(settings.rules_dir), problems)
    policy_path = settings.rules_dir / POLICY_FILE_NAME
    # A stand-in capture gateway: `url: capture` is judged as `careflow up` serves it
    # (nothing is sent through it).
    sms = SmsChannel(settings.rules_dir, settings.templates_dir, capture_url=DECIDING_ONLY_URL)
    outreach = build_outreach(
        settings,
        db=db,
        # Never used: a preview decides and records nothing, and sends nothing.
        delivery=SmtpDelivery(settings.smtp_target),
        journey_config=settings.rules_dir / JOURNEYS_FILE_NAME,
        policy=lambda: load_outreach_policy(policy_path),
        sms=sms,
    )
    try:
        return await preview_campaign(
            db,
            outreach,
            load_campaign(settings.rules_dir, name),
            load_segments(settings.rules_dir),
            at=at,
            samples=samples,
        )
    finally:
        await sms.close()

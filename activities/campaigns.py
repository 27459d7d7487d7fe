"""The campaign workflow's activities: its plan, and one page of sends.

A page sends to its members through the one send step (`OutreachActivities.send_email`,
called in-process), so consent, suppressions, the contact budget, quiet hours and
the ledger's exactly-once key hold for a broadcast as for every journey message.
Before sending, one ledger read finds the members whose key is already final (sent
or skipped by an earlier pass, a retried page or a previous launch): they are passed
over and not counted again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from sqlalchemy import select
from temporalio import activity
from temporalio.exceptions import ApplicationError

from careflow.activities.outreach import OutreachActivities, as_of, idempotency_key
from careflow.campaigns.members import member_request
from careflow.campaigns.spec import CampaignFileError, CampaignSpec, load_campaign
from careflow.campaigns.windows import member_zones, next_window_opening, within_window
from careflow.contracts.campaigns import (
    CampaignPageInput,
    CampaignPageResult,
    CampaignPlan,
    PlanCampaignInput,
)
from careflow.contracts.outreach import MessageStatus, SendEmailResult
from careflow.experiments.assign import assign_variant, in_holdout
from careflow.outreach.decisions import reason_code
from careflow.outreach.ledger import FINAL_STATUSES, SKIPPED, record_decision
from careflow.segments.book import load_segments
from careflow.segments.members import UnknownSegment, count_segment, segment_page
from careflow.store import Database
from careflow.store.models import Customer, OutreachLedger

# Sends in flight at once within a page, as in a worker (their SMTP exchanges take
# turns on the one connection; the store work overlaps).
CONCURRENT_SENDS = 8
HOLDOUT = "holdout"


@dataclass
class _Tally:
    """A page's counts so far; the heartbeat carries it, so a retried page goes on."""

    done: int = 0  # members of the page handled (in order)
    sent: int = 0
    failed: int = 0
    waiting: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    next_try: str | None = None  # ISO time

    def wait_until(self, at: datetime) -> None:
        self.waiting += 1
        if self.next_try is None or at < datetime.fromisoformat(self.next_try):
            self.next_try = at.isoformat()

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


class CampaignActivities:
    """Holds the store, the send step and where the campaign and segment files are."""

    def __init__(
        self,
        db: Database,
        outreach: OutreachActivities,
        *,
        rules_dir: Callable[[], Path],
    ) -> None:
        self.db = db
        self.outreach = outreach
        # A function: the worker follows the served release's folder.
        self.rules_dir = rules_dir

    def _campaign(self, name: str) -> CampaignSpec:
        try:
            return load_campaign(self.rules_dir(), name)
        except CampaignFileError as error:
            # A file removed or broken mid-campaign: retried (an operator may fix it)
            # until the page's schedule runs out; the problems say what is wrong.
            raise ApplicationError(str(error), type="CampaignFileError") from error

    @activity.defn
    async def plan_campaign(self, request: PlanCampaignInput) -> CampaignPlan:
        """The campaign's pacing and audience size, read once at launch."""
        spec = self._campaign(request.campaign)
        book = load_segments(self.rules_dir())
        try:
            counted = await count_segment(self.db, book, spec.segment, at=request.at)
        except UnknownSegment as error:
            raise ApplicationError(str(error), type="CampaignGone", non_retryable=True) from error
        return CampaignPlan(
            start_at=spec.start,
            per_minute=spec.rate.per_minute if spec.rate else None,
            page_size=spec.page_size,
            audience=counted.total,
        )

    @activity.defn
    async def send_campaign_page(self, request: CampaignPageInput) -> CampaignPageResult:
        """Send to the next page of the segment; heartbeats after every few members."""
        spec = self._campaign(request.campaign)
        book = load_segments(self.rules_dir())
        try:
            members = await segment_page(
                self.db,
                book,
                spec.segment,
                at=request.audience_at,
                after=await self._external_id(request.after_pk),
                limit=request.limit,
            )
        except UnknownSegment as error:
            raise ApplicationError(str(error), type="CampaignGone", non_retryable=True) from error
        if not members:
            return CampaignPageResult(last_pk=None)
        details = activity.info().heartbeat_details
        tally = _Tally(**details[0]) if details else _Tally()
        finished = await self._finished(request.workflow_id, members)
        zones, keys = await member_zones(self.db, members)
        policy = self.outreach.policy()
        for start in range(tally.done, len(members), CONCURRENT_SENDS):
            chunk = members[start : start + CONCURRENT_SENDS]
            now = as_of(request.planned_at)
            sends = []
            for customer_id in chunk:
                if customer_id in finished:
                    continue  # handled before (an earlier pass, retry or launch)
                if in_holdout(spec.experiment, customer_id, spec.holdout):
                    # Recorded in the ledger as the experiment's holdout arm (what
                    # careflow/experiments/results.py compares the variants against);
                    # final, so later passes and relaunches pass over it.
                    await self._hold_out(spec, request, customer_id, keys[customer_id], now)
                    tally.skip(HOLDOUT)
                    continue
                zone, default = zones.get(customer_id), policy.default_timezone
                if not within_window(spec.send_window, now, zone, default):
                    tally.wait_until(next_window_opening(spec.send_window, now, zone, default))
                    continue
                sends.append(self._send(spec, request, customer_id, now))
            # Every send of the chunk finishes (and is recorded) before a fault of one
            # fails the page: its retry then finds their keys final.
            results = await asyncio.gather(*sends, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
                _count(tally, result)
            tally.done = start + len(chunk)
            activity.heartbeat(asdict(tally))  # a snapshot: the SDK may send it later
        return CampaignPageResult(
            last_pk=keys[members[-1]],
            members=len(members),
            sent=tally.sent,
            failed=tally.failed,
            skipped=tally.skipped,
            waiting=tally.waiting,
            next_try=None if tally.next_try is None else datetime.fromisoformat(tally.next_try),
        )

    async def _send(
        self, spec: CampaignSpec, request: CampaignPageInput, customer_id: str, now: datetime
    ) -> SendEmailResult:
        variant = assign_variant(spec.experiment, customer_id, spec.weights)
        return await self.outreach.send_email(
            member_request(spec, request.workflow_id, customer_id, variant, now)
        )

    async def _hold_out(
        self,
        spec: CampaignSpec,
        request: CampaignPageInput,
        customer_id: str,
        customer_pk: int,
        now: datetime,
    ) -> None:
        """The member's ledger row as held out: skipped, variant `holdout`, no message."""
        values = {
            "idempotency_key": idempotency_key(request.workflow_id, customer_id),
            "workflow_id": request.workflow_id,
            "step_id": customer_id,
            "template_id": spec.templates[0],
            "channel": spec.send_channel or "email",
            "topic": spec.topic,
            "status": SKIPPED,
            "reason": f"{HOLDOUT}: in the campaign's holdout group",
            "customer_id": customer_pk,
            "release_id": self.outreach.release_id(),
            "created_at": now,
            "updated_at": now,
        }
        await self.outreach.ledger.transaction(
            partial(record_decision, values=values, experiment=spec.experiment, variant=HOLDOUT)
        )

    async def _external_id(self, customer_pk: int | None) -> str | None:
        """The cursor's customer id, from the store's key the history carries.

        Were that customer erased since (their id pseudonymised), the pseudonym would
        sort elsewhere: the pass goes on from there, and members it passes over are
        the ones a later launch under a new name would reach. Rare, and never a repeat.
        """
        if customer_pk is None:
            return None
        async with self.db.session() as session:
            return await session.scalar(
                select(Customer.external_id).where(Customer.id == customer_pk)
            )

    async def _finished(self, workflow_id: str, members: Sequence[str]) -> set[str]:
        """Members whose ledger key for this campaign is already final."""
        keys = {idempotency_key(workflow_id, member): member for member in members}
        async with self.db.session() as session:
            rows = await session.execute(
                select(OutreachLedger.idempotency_key).where(
                    OutreachLedger.idempotency_key.in_(list(keys)),
                    OutreachLedger.status.in_(sorted(FINAL_STATUSES)),
                )
            )
            return {keys[key] for (key,) in rows}


def _count(tally: _Tally, result: SendEmailResult) -> None:
    if result.status == MessageStatus.SENT:
        tally.sent += 1
    elif result.status == MessageStatus.FAILED:
        tally.failed += 1
    elif result.status == MessageStatus.DEFERRED and result.retry_at is not None:
        tally.wait_until(result.retry_at.astimezone(UTC))
    else:
        tally.skip(reason_code(result.reason))

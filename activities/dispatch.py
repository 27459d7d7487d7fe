"""Turns rule intents into journeys started or signalled, tags and team notifications."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from careflow.activities.clock import activity_now
from careflow.holdout import HOLDOUT_STATUS, HoldoutConfig
from careflow.journeys import (
    CLOSED_OUTCOMES,
    mark_journey_ended,
    running_journeys,
    signal_journeys,
)
from careflow.pseudonyms import customer_pseudonym
from careflow.rules.intents import Intent
from careflow.start_outcomes import StartRequest, journey_span, reentry_blocker
from careflow.store import Customer, CustomerTag, Database, JourneyRecord, Task
from careflow.workflows.journey import ENDS_BY_MEMO, JourneyInput

if TYPE_CHECKING:
    from careflow.workflows.registry import Journey

# Journey ids per `IN (...)` lookup, well under the bound-parameter limits.
_IDS_PER_QUERY = 1000


@dataclass
class DispatchInput:
    customer_id: str
    intents: list[Intent]
    subject: str = ""
    # When the trigger happened (the journey's period for re-entry is its date).
    at: datetime | None = None


@dataclass
class DispatchResult:
    """What each intent led to; `existing` lists journeys that a repeated trigger found."""

    started: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    held_out: list[str] = field(default_factory=list)
    signalled: list[str] = field(default_factory=list)
    tagged: list[str] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)
    not_acted_reason: str | None = None


class DispatchActivities:
    """Holds the Temporal client and the store; one method per kind of intent."""

    def __init__(
        self,
        client: Client,
        db: Database,
        task_queue: str,
        journeys: Mapping[str, Journey],
        holdout: Callable[[], HoldoutConfig] = HoldoutConfig,
        *,
        secret_key: str,
    ) -> None:
        # `holdout` returns the current holdout configuration (re-read when edited).
        self.holdout = holdout
        # The journey registry is handed in: workflows.registry imports the workflows,
        # which import these activity definitions.
        self.journeys = journeys
        self.client = client
        self.db = db
        self.task_queue = task_queue
        # Journey ids and memos name the customer by a keyed pseudonym: Temporal keeps
        # ids in its own tables after an erased customer's workflows are deleted.
        self.secret_key = secret_key

    @activity.defn
    async def dispatch_intents(self, request: DispatchInput) -> DispatchResult:
        """Carry out the intents in order; each is idempotent, so a retry repeats nothing."""
        return await self.dispatch(request)

    async def dispatch(self, request: DispatchInput) -> DispatchResult:
        """The work of `dispatch_intents`, also used by the daily scan for each customer."""
        result = DispatchResult()
        # The trigger's time on the workflow's clock: its date is the journey's period.
        at = request.at or activity_now()
        on = at.date()
        for intent in request.intents:
            if intent.action == "start_workflow" and intent.workflow:
                journey, subject, workflow_id = self._journey_of(request, intent, on)
                recent = await self._entered_recently(request, intent, journey.name, subject, at)
                if recent is not None and recent != workflow_id:
                    result.existing.append(recent)
                    continue
                if self.holdout().holds_out(request.customer_id, journey.name):
                    # Picked by the rule, deliberately left alone: the comparison group.
                    result.held_out.append(workflow_id)
                    await self._record_journey(
                        workflow_id, journey.name, request, intent, subject, at, HOLDOUT_STATUS
                    )
                    continue
                busy = await self._running_instead(request.customer_id, journey.name, subject, at)
                if busy is not None:
                    # One journey of a kind per customer (and subject) at a time, whichever
                    # rule asks: two rules must not send two retention offers.
                    result.existing.append(busy)
                    continue
                started = await self._start(
                    journey.workflow, workflow_id, request, intent, subject, at
                )
                (result.started if started else result.existing).append(workflow_id)
                await self._record_journey(workflow_id, journey.name, request, intent, subject, at)
            elif intent.action == "signal_workflow" and intent.workflow and intent.signal:
                result.signalled += await self._signal(
                    request.customer_id, intent.workflow, intent.signal, request.subject
                )
            elif intent.action == "tag_customer" and intent.tag:
                await self._tag(request.customer_id, intent)
                result.tagged.append(intent.tag)
            elif intent.action == "notify_team" and intent.team:
                await self._notify(request.customer_id, intent, at)
                result.notified.append(intent.team)
        return result

    def _journey_of(
        self, request: DispatchInput, intent: Intent, on: date
    ) -> tuple[Journey, str, str]:
        """The journey a start intent asks for, its subject and its deterministic id."""
        assert intent.workflow is not None
        journey = self.journeys[intent.workflow]
        subject = journey_subject(journey.needs_subject, request.subject, intent, on)
        workflow_id = journey.workflow_id(
            customer_pseudonym(self.secret_key, request.customer_id),
            intent.rule_id,
            subject,
            on,
            intent.reenter_after_days,
        )
        return journey, subject, workflow_id

    def journey_ids(self, request: DispatchInput) -> list[str] | None:
        """The ids of the journeys the request would start; None when it asks for more
        than starting journeys (signals, tags, notifications)."""
        on = (request.at or activity_now()).date()
        ids = []
        for intent in request.intents:
            if intent.action != "start_workflow" or not intent.workflow:
                return None
            ids.append(self._journey_of(request, intent, on)[2])
        return ids

    async def recorded(self, workflow_ids: Sequence[str]) -> set[str]:
        """Which of these journeys were started (or held out) already, in one query.

        A journey id is used once (re-entry is in the id), so a request whose every
        journey is recorded would start nothing: the daily scan skips it, which is
        most of its work when a rule keeps firing for the same customers all period.
        """
        found: set[str] = set()
        async with self.db.session() as session:
            for first in range(0, len(workflow_ids), _IDS_PER_QUERY):
                batch = workflow_ids[first : first + _IDS_PER_QUERY]
                found.update(
                    await session.scalars(
                        select(JourneyRecord.workflow_id).where(
                            JourneyRecord.workflow_id.in_(batch)
                        )
                    )
                )
        return found

    async def _entered_recently(
        self, request: DispatchInput, intent: Intent, journey: str, subject: str, at: datetime
    ) -> str | None:
        """The journey this rule started (or held out) for the customer less than the
        rule's `reenter_after` days before `at`, if any.

        The journey id's period (`p<day // reenter_after>`) only makes a repeat within
        one period find the same id; periods are cut on the calendar, so without this
        a customer could get the journey again the day after one started, in the next
        period, where the rule promises `reenter_after` days between them. The rule
        is `reentry_blocker`'s, which the timeline explains with.
        """
        if not intent.reenter_after_days:
            return None  # the id has no period: Temporal refuses a second start
        async with self.db.session() as session:
            records = await session.scalars(
                select(JourneyRecord)
                .join(Customer, Customer.id == JourneyRecord.customer_id)
                .where(
                    Customer.external_id == request.customer_id,
                    JourneyRecord.journey == journey,
                    JourneyRecord.rule_id == intent.rule_id,
                    JourneyRecord.subject == subject
                    if subject
                    else JourneyRecord.subject.is_(None),
                )
            )
            spans = [journey_span(record) for record in records]
        blocker = reentry_blocker(
            StartRequest(intent.rule_id, journey, intent.reenter_after_days), at, spans
        )
        return None if blocker is None else blocker.workflow_id

    async def _running_instead(
        self, customer_id: str, journey: str, subject: str, at: datetime
    ) -> str | None:
        """The id of a journey of this kind still running for the customer at `at`, if any.

        The journeys table is checked against Temporal, so a journey that ended
        without recording it (it failed, say) does not block the customer forever.
        A journey whose memo says it ends by `at` does not block either: it is ending
        at this very instant (a win-back offer giving up at the time of the scan that
        finds the customer still dormant), and whether its last step has run yet must
        not decide whether the customer gets a new one.
        """
        records = await running_journeys(
            self.db, customer_id, journeys=[journey], subject=subject or None
        )
        for record in records:
            try:
                description = await self.client.get_workflow_handle(record.workflow_id).describe()
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
            else:
                if description.status == WorkflowExecutionStatus.RUNNING:
                    if _ends_by(await description.memo()) <= at:
                        continue
                    return record.workflow_id
                # Closed without recording it: say how (failed, terminated, ...).
                await mark_journey_ended(
                    self.db,
                    record.workflow_id,
                    outcome=CLOSED_OUTCOMES.get(description.status) if description.status else None,
                    at=description.close_time or activity_now(),
                )
                continue
            await mark_journey_ended(self.db, record.workflow_id, outcome=None, at=activity_now())
        return None

    async def _start(
        self,
        workflow_type: type[Any],
        workflow_id: str,
        request: DispatchInput,
        intent: Intent,
        subject: str,
        at: datetime,
    ) -> bool:
        try:
            await self.client.start_workflow(
                workflow_type.run,
                JourneyInput(
                    customer_id=request.customer_id,
                    rule_id=intent.rule_id,
                    ruleset_hash=intent.ruleset_hash,
                    subject=subject,
                    params=dict(intent.params),
                    as_of=at,
                ),
                id=workflow_id,
                task_queue=self.task_queue,
                # A journey id is used once: re-entry is expressed in the id (its period).
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                memo={
                    "customer": customer_pseudonym(self.secret_key, request.customer_id),
                    "rule": intent.rule_id,
                },
            )
        except WorkflowAlreadyStartedError:
            return False
        activity.logger.info("started %s for customer %s", workflow_id, request.customer_id)
        return True

    async def _record_journey(
        self,
        workflow_id: str,
        journey: str,
        request: DispatchInput,
        intent: Intent,
        subject: str,
        at: datetime,
        status: str = "running",
    ) -> None:
        try:
            async with self.db.session() as session:
                if await session.scalar(
                    select(JourneyRecord.id).where(JourneyRecord.workflow_id == workflow_id)
                ):
                    return
                session.add(
                    JourneyRecord(
                        workflow_id=workflow_id,
                        journey=journey,
                        customer_id=await _customer_pk(session, request.customer_id),
                        rule_id=intent.rule_id,
                        ruleset_hash=intent.ruleset_hash,
                        subject=subject or None,
                        status=status,
                        outcome=HOLDOUT_STATUS if status == HOLDOUT_STATUS else None,
                        # The trigger's instant, so re-entry windows are measured
                        # between triggers, not between the moments workers got to them.
                        started_at=at,
                    )
                )
        except IntegrityError:
            return  # recorded by a concurrent attempt

    async def _signal(self, customer_id: str, journey: str, signal: str, subject: str) -> list[str]:
        records = await running_journeys(
            self.db, customer_id, journeys=[journey], subject=subject or None
        )
        return await signal_journeys(self.db, self.client, records, signal)

    async def _tag(self, customer_id: str, intent: Intent) -> None:
        assert intent.tag is not None
        try:
            async with self.db.session() as session:
                customer_pk = await _customer_pk(session, customer_id)
                if customer_pk is None:
                    return
                exists = await session.scalar(
                    select(CustomerTag.id).where(
                        CustomerTag.customer_id == customer_pk, CustomerTag.tag == intent.tag
                    )
                )
                if exists is None:
                    session.add(
                        CustomerTag(
                            customer_id=customer_pk,
                            tag=intent.tag,
                            source=f"rule:{intent.rule_id}",
                            created_at=activity_now(),
                        )
                    )
        except IntegrityError:
            return

    async def _notify(self, customer_id: str, intent: Intent, at: datetime) -> None:
        assert intent.team is not None
        # One notification per team, customer, rule and day of the trigger (not of the
        # attempt: a retry after midnight must find the first one).
        key = f"notify/{intent.team}/{customer_id}/{intent.rule_id}/{at.date().isoformat()}"
        now = activity_now()
        try:
            async with self.db.session() as session:
                if await session.scalar(select(Task.id).where(Task.idempotency_key == key)):
                    return
                session.add(
                    Task(
                        idempotency_key=key,
                        kind="notification",
                        assignee=intent.team,
                        customer_id=await _customer_pk(session, customer_id),
                        title=str(intent.params.get("message") or f"rule {intent.rule_id}"),
                        status="open",
                        created_at=now,
                    )
                )
        except IntegrityError:
            return


def journey_subject(needs_subject: bool, event_subject: str, intent: Intent, on: date) -> str:
    """What the journey is about: the event's subject (a complaint), or an occasion.

    An `occasion` parameter (birthday, spring_festival, ...) makes the subject
    `<occasion>-<year>`, so a greeting runs once per occasion and year.
    """
    if needs_subject:
        return event_subject
    occasion = intent.params.get("occasion")
    if isinstance(occasion, str) and occasion:
        return f"{occasion}-{on.year}"
    return ""


def _ends_by(memo: Mapping[str, Any]) -> datetime:
    """When a running journey said it will have ended; the far future if it did not say."""
    value = memo.get(ENDS_BY_MEMO)
    if not isinstance(value, str):
        return datetime.max.replace(tzinfo=UTC)
    try:
        ends_by = datetime.fromisoformat(value)
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)
    return ends_by if ends_by.tzinfo else ends_by.replace(tzinfo=UTC)


async def _customer_pk(session: AsyncSession, external_id: str) -> int | None:
    return await session.scalar(select(Customer.id).where(Customer.external_id == external_id))

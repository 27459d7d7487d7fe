"""Turns rule intents into journeys started or signalled, tags and team notifications."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from careflow.activities.clock import activity_now
from careflow.assign_targets import ACCOUNT_MANAGER, due_in_hours
from careflow.assignment import AssignmentError, resolve_target
from careflow.contracts.events import DispatchInput, DispatchResult
from careflow.contracts.journeys import ENDS_BY_MEMO, STAGGER_MEMO, JourneyInput
from careflow.facts import customer_key
from careflow.holdout import HOLDOUT_STATUS, HoldoutConfig
from careflow.intake.apply import find_customer
from careflow.intake.handled import HandledMark
from careflow.journey_config import JOURNEYS_FILE_NAME, load_journey_config
from careflow.journey_keys import JourneyIds, journey_ids
from careflow.journey_spec import Journey
from careflow.journeys import (
    CLOSED_OUTCOMES,
    mark_journey_ended,
    running_journeys,
    signal_journeys,
)
from careflow.observability.metrics import count_journey_started
from careflow.paths import RULES_DIR
from careflow.pseudonyms import customer_pseudonym
from careflow.rules.intents import ACCOUNT_MANAGER_TARGET, Intent
from careflow.staff_alerts import task_event_data
from careflow.stagger import journey_stagger
from careflow.start_outcomes import (
    JourneySpan,
    StartOutcome,
    StartRequest,
    journey_span,
    start_decision,
)
from careflow.store import Customer, CustomerTag, Database, JourneyRecord, Task
from careflow.teams import TEAMS_FILE_NAME, load_teams_config
from careflow.webhooks.events import (
    JOURNEY_STARTED,
    RULE_FIRED,
    TASK_CREATED,
    record_event_async,
)

# Journey ids per `IN (...)` lookup, well under the bound-parameter limits.
_IDS_PER_QUERY = 1000


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
        rules_dir: Path | None = None,
        eager_start: bool = False,
        stagger: bool = False,
    ) -> None:
        # `holdout` returns the current holdout configuration (re-read when edited).
        self.holdout = holdout
        # Where journeys.yaml (business hours, team addresses) and teams.yaml (rosters)
        # are, for a notification's `assign_to` and `due_in`; None: the shipped ones.
        self.rules_dir = rules_dir or RULES_DIR
        # The journey registry is handed in: workflows.registry imports the workflows,
        # which import these activity definitions.
        self.journeys = journeys
        self.client = client
        self.db = db
        self.task_queue = task_queue
        # Journey ids and memos name the customer by a keyed pseudonym: Temporal keeps
        # ids in its own tables after an erased customer's workflows are deleted.
        self.secret_key = secret_key
        # Ask Temporal to hand a journey's first workflow task straight back to a
        # worker of this client in this process (`careflow up` on the direct event
        # path): no task queue round trip; with no such worker it starts as usual.
        self.eager_start = eager_start
        # Simulations only: each of a customer's journeys runs on a clock of its own
        # (careflow/stagger.py), so none competes with another at one instant.
        self.stagger = stagger

    @activity.defn
    async def dispatch_intents(self, request: DispatchInput) -> DispatchResult:
        """Carry out the intents in order; each is idempotent, so a retry repeats nothing."""
        return await self.dispatch(request)

    async def dispatch(
        self,
        request: DispatchInput,
        *,
        customer_pk: int | None = None,
        mark: HandledMark | None = None,
    ) -> DispatchResult:
        """The work of `dispatch_intents`, also used by the daily scan for each customer
        and by the direct event path, which passes the customer's key (`customer_pk`)
        it already has, so the journeys are looked up and recorded without it, and the
        event's handled `mark`, written with the journey record of the last intent if
        that intent records one (careflow/intake/handled.py)."""
        result = DispatchResult()
        # The trigger's time on the workflow's clock: its date is the journey's period.
        at = request.at or activity_now()
        on = at.date()
        last = len(request.intents) - 1
        for index, intent in enumerate(request.intents):
            if intent.action == "start_workflow" and intent.workflow:
                await self._start_journey(
                    request, intent, on, at, result, customer_pk, mark if index == last else None
                )
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
            elif intent.action == "call_webhook" and intent.webhook:
                await self._webhook(request, intent, at)
                result.webhooks.append(intent.webhook)
        return result

    def _journey_of(
        self, request: DispatchInput, intent: Intent, on: date
    ) -> tuple[Journey, str, JourneyIds]:
        """The journey a start intent asks for, its subject and its deterministic ids."""
        assert intent.workflow is not None
        journey = self.journeys[intent.workflow]
        subject = journey_subject(journey.needs_subject, request.subject, intent, on)
        ids = journey_ids(
            journey.workflow_id,
            self.secret_key,
            request.customer_id,
            intent.rule_id,
            subject,
            on,
            intent.reenter_after_days,
        )
        return journey, subject, ids

    def journey_ids(self, request: DispatchInput) -> list[str] | None:
        """The ids of the journeys the request would start; None when it asks for more
        than starting journeys (signals, tags, notifications)."""
        on = (request.at or activity_now()).date()
        ids = []
        for intent in request.intents:
            if intent.action != "start_workflow" or not intent.workflow:
                return None
            ids.append(self._journey_of(request, intent, on)[2].current)
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

    async def _start_journey(
        self,
        request: DispatchInput,
        intent: Intent,
        on: date,
        at: datetime,
        result: DispatchResult,
        customer_pk: int | None = None,
        mark: HandledMark | None = None,
    ) -> None:
        """Start the journey `intent` asks for if the start policy lets it, or record
        the customer as held out; what stood in the way goes to `result.existing`.
        `mark` goes in the journey's record, if one is written."""
        journey, subject, ids = self._journey_of(request, intent, on)
        workflow_id = ids.current
        spans = await self._journeys_of_kind(
            request.customer_id, journey.name, subject, customer_pk
        )
        held_out = self.holdout().holds_out(request.customer_id, journey.name)
        checked: set[str] = set()
        while True:
            decision = start_decision(
                StartRequest(intent.rule_id, journey.name, intent.reenter_after_days),
                at,
                spans,
                workflow_id=workflow_id,
                earlier_ids=ids.earlier,
                subject=subject or None,
                held_out=held_out,
            )
            if decision.outcome is not StartOutcome.RUNNING or decision.workflow_id in checked:
                break
            # The table says running; only Temporal knows. Check the one in the way.
            checked.add(decision.workflow_id)
            ended_at = await self._ended_by(decision.workflow_id, at)
            if ended_at is None:
                break
            spans = [
                replace(span, ended_at=ended_at)
                if span.workflow_id == decision.workflow_id
                else span
                for span in spans
            ]
        if decision.outcome in (StartOutcome.REENTRY, StartOutcome.RUNNING):
            # The rule's own recent journey (a repeated trigger finds the same id),
            # or one journey of a kind per customer and subject, whichever rule asks.
            result.existing.append(decision.workflow_id)
            return
        if decision.outcome is StartOutcome.HELD_OUT:
            # Picked by the rule, deliberately left alone: the comparison group.
            result.held_out.append(workflow_id)
            status = HOLDOUT_STATUS
        else:
            started = await self._start(journey.workflow, workflow_id, request, intent, subject, at)
            if started:
                count_journey_started(journey.name)
            (result.started if started else result.existing).append(workflow_id)
            status = "running"
        await self._record_journey(
            workflow_id, journey.name, request, intent, subject, at, status, customer_pk, mark
        )

    async def _journeys_of_kind(
        self, customer_id: str, journey: str, subject: str, customer_pk: int | None = None
    ) -> list[JourneySpan]:
        """The customer's journeys of this kind and subject, as the journeys table has them
        (by the customer's key when the caller has it, else by their external id)."""
        kind = select(JourneyRecord).where(
            JourneyRecord.journey == journey,
            JourneyRecord.subject == subject if subject else JourneyRecord.subject.is_(None),
        )
        if customer_pk is not None:
            kind = kind.where(JourneyRecord.customer_id == customer_pk)
        else:
            kind = kind.join(Customer, Customer.id == JourneyRecord.customer_id).where(
                Customer.external_id == customer_id
            )
        async with self.db.session() as session:
            records = await session.scalars(kind)
            return [journey_span(record) for record in records]

    async def _ended_by(self, workflow_id: str, at: datetime) -> datetime | None:
        """None when the journey the table calls running is in flight past `at`;
        otherwise when it ended (or ends), at `at` at the latest.

        A journey that ended without recording it (it failed, say) is marked ended,
        so it does not block the customer forever. A journey whose memo says it ends
        by `at` does not block either: it is ending at this very instant (a win-back
        offer giving up at the time of the scan that finds the customer still
        dormant), and whether its last step has run yet must not decide whether the
        customer gets a new one.
        """
        try:
            description = await self.client.get_workflow_handle(workflow_id).describe()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        else:
            if description.status == WorkflowExecutionStatus.RUNNING:
                ends_by = _ends_by(await description.memo())
                return ends_by if ends_by <= at else None
            # Closed without recording it: say how (failed, terminated, ...) and when.
            closed_at = description.close_time or activity_now()
            outcome = CLOSED_OUTCOMES.get(description.status) if description.status else None
            await mark_journey_ended(self.db, workflow_id, outcome=outcome, at=closed_at)
            return min(closed_at, at)
        now = activity_now()
        await mark_journey_ended(self.db, workflow_id, outcome=None, at=now)
        # When it ended is unknown; it is over, so it stands in no one's way.
        return min(now, at)

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
                request_eager_start=self.eager_start,
                memo={
                    "customer": customer_pseudonym(self.secret_key, request.customer_id),
                    "rule": intent.rule_id,
                    **self._stagger_memo(intent, subject),
                },
            )
        except WorkflowAlreadyStartedError:
            return False
        activity.logger.info("started %s for customer %s", workflow_id, request.customer_id)
        return True

    def _stagger_memo(self, intent: Intent, subject: str) -> dict[str, int]:
        if not self.stagger or not intent.workflow:
            return {}
        return {STAGGER_MEMO: journey_stagger(intent.workflow, subject, self.journeys)}

    async def _record_journey(
        self,
        workflow_id: str,
        journey: str,
        request: DispatchInput,
        intent: Intent,
        subject: str,
        at: datetime,
        status: str = "running",
        customer_pk: int | None = None,
        mark: HandledMark | None = None,
    ) -> None:
        try:
            # Inserted without a look first: a journey recorded already (a retry)
            # fails on the workflow id's unique index and rolls back whole.
            async with self.db.session() as session:
                if customer_pk is None:
                    customer_pk = await customer_key(session, request.customer_id)
                session.add(
                    JourneyRecord(
                        workflow_id=workflow_id,
                        journey=journey,
                        customer_id=customer_pk,
                        rule_id=intent.rule_id,
                        ruleset_hash=intent.ruleset_hash,
                        release_id=intent.release_id,
                        subject=subject or None,
                        status=status,
                        outcome=HOLDOUT_STATUS if status == HOLDOUT_STATUS else None,
                        # The trigger's instant, so re-entry windows are measured
                        # between triggers, not between the moments workers got to them.
                        started_at=at,
                    )
                )
                if status == "running":
                    await record_event_async(
                        session,
                        JOURNEY_STARTED,
                        workflow_id,
                        {"workflow_id": workflow_id},
                        customer_pk=customer_pk,
                        at=at,
                    )
                if mark is not None:
                    await mark.write_in(session)
        except IntegrityError:
            return  # recorded by an earlier or concurrent attempt (the mark rolled back)
        if mark is not None:
            mark.committed()

    async def _signal(self, customer_id: str, journey: str, signal: str, subject: str) -> list[str]:
        records = await running_journeys(
            self.db, customer_id, journeys=[journey], subject=subject or None
        )
        return await signal_journeys(self.db, self.client, records, signal)

    async def _tag(self, customer_id: str, intent: Intent) -> None:
        assert intent.tag is not None
        try:
            async with self.db.session() as session:
                customer_pk = await customer_key(session, customer_id)
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
                customer = await find_customer(session, customer_id)
                # `notify: account-manager` is a call for the customer's own account
                # manager (one from the roster when none is on file, else the service team).
                calls = intent.team == ACCOUNT_MANAGER_TARGET
                assignee, due_at = await _notice_assignment(
                    session,
                    intent,
                    customer,
                    at,
                    self.rules_dir,
                    target=ACCOUNT_MANAGER if calls else None,
                    nobody="service" if calls else intent.team,
                )
                session.add(
                    Task(
                        idempotency_key=key,
                        kind="call" if calls else "notification",
                        assignee=assignee,
                        customer_id=customer.id if customer else None,
                        title=str(intent.params.get("message") or f"rule {intent.rule_id}"),
                        due_at=due_at,
                        status="open",
                        created_at=now,
                    )
                )
                await record_event_async(
                    session,
                    TASK_CREATED,
                    key,
                    task_event_data(key, intent.team),
                    customer_pk=customer.id if customer else None,
                    at=now,
                )
        except IntegrityError:
            return

    async def _webhook(self, request: DispatchInput, intent: Intent, at: datetime) -> None:
        """Put the rule's webhook in the outbox, once per endpoint, rule, customer and trigger."""
        assert intent.webhook is not None
        async with self.db.session() as session:
            await record_event_async(
                session,
                RULE_FIRED,
                f"{intent.webhook}/{intent.rule_id}/{request.customer_id}/{at.isoformat()}",
                {
                    "endpoint": intent.webhook,
                    "rule_id": intent.rule_id,
                    "ruleset_hash": intent.ruleset_hash,
                    "subject": request.subject or None,
                    "params": dict(intent.params),
                },
                customer_pk=await customer_key(session, request.customer_id),
                at=at,
            )


async def _notice_assignment(
    session: AsyncSession,
    intent: Intent,
    customer: Customer | None,
    at: datetime,
    rules_dir: Path,
    *,
    target: str | None,
    nobody: str | None,
) -> tuple[str | None, datetime | None]:
    """Whom a rule's notification is for and when it is due: `target` or `assign_to`
    (else, or when it finds no one, `nobody`) and `due_in` business hours from the
    trigger (else no due time)."""
    assert intent.team is not None
    if target is None:
        named = intent.params.get("assign_to")
        target = named if isinstance(named, str) else None
    due_in = intent.params.get("due_in")
    if target is None and not isinstance(due_in, str):
        return nobody, None
    journeys = load_journey_config(rules_dir / JOURNEYS_FILE_NAME)
    assignee: str | None = nobody
    if isinstance(target, str):
        try:
            found = await resolve_target(
                session,
                target,
                customer=customer,
                teams=load_teams_config(rules_dir / TEAMS_FILE_NAME),
                now=at,
                fallback_teams=journeys.staff.teams,
            )
        except AssignmentError as error:
            raise ApplicationError(str(error), non_retryable=True) from error
        assignee = found.address if found is not None else nobody
    due_at = None
    if isinstance(due_in, str):
        due_at = journeys.business_hours.calendar().add_business_hours(at, due_in_hours(due_in))
    return assignee, due_at


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

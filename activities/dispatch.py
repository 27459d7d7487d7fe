"""Turns rule intents into journeys started or signalled, tags and team notifications."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from careflow.store import Customer, CustomerTag, Database, JourneyRecord, Task
from rules.intents import Intent
from workflows.journey import JourneyInput

if TYPE_CHECKING:
    from workflows.registry import Journey


@dataclass
class DispatchInput:
    customer_id: str
    intents: list[Intent]
    subject: str = ""
    on: date | None = None


@dataclass
class DispatchResult:
    """What each intent led to; `existing` lists journeys that a repeated trigger found."""

    started: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    signalled: list[str] = field(default_factory=list)
    tagged: list[str] = field(default_factory=list)
    notified: list[str] = field(default_factory=list)
    not_acted_reason: str | None = None


class DispatchActivities:
    """Holds the Temporal client and the store; one method per kind of intent."""

    def __init__(
        self, client: Client, db: Database, task_queue: str, journeys: Mapping[str, Journey]
    ) -> None:
        # The journey registry is handed in: workflows.registry imports the workflows,
        # which import these activity definitions.
        self.journeys = journeys
        self.client = client
        self.db = db
        self.task_queue = task_queue

    @activity.defn
    async def dispatch_intents(self, request: DispatchInput) -> DispatchResult:
        """Carry out the intents in order; each is idempotent, so a retry repeats nothing."""
        result = DispatchResult()
        on = request.on or datetime.now(UTC).date()
        for intent in request.intents:
            if intent.action == "start_workflow" and intent.workflow:
                journey = self.journeys[intent.workflow]
                subject = request.subject if journey.needs_subject else ""
                workflow_id = journey.workflow_id(
                    request.customer_id, intent.rule_id, subject, on, intent.reenter_after_days
                )
                started = await self._start(journey.workflow, workflow_id, request, intent, subject)
                (result.started if started else result.existing).append(workflow_id)
                await self._record_journey(workflow_id, journey.name, request, intent, subject)
            elif intent.action == "signal_workflow" and intent.workflow and intent.signal:
                result.signalled += await self._signal(
                    request.customer_id, intent.workflow, intent.signal, request.subject
                )
            elif intent.action == "tag_customer" and intent.tag:
                await self._tag(request.customer_id, intent)
                result.tagged.append(intent.tag)
            elif intent.action == "notify_team" and intent.team:
                await self._notify(request.customer_id, intent)
                result.notified.append(intent.team)
        return result

    async def _start(
        self,
        workflow_type: type,
        workflow_id: str,
        request: DispatchInput,
        intent: Intent,
        subject: str,
    ) -> bool:
        run = workflow_type.run  # the @workflow.run method
        try:
            await self.client.start_workflow(
                run,
                JourneyInput(
                    customer_id=request.customer_id,
                    rule_id=intent.rule_id,
                    ruleset_hash=intent.ruleset_hash,
                    subject=subject,
                    params=dict(intent.params),
                ),
                id=workflow_id,
                task_queue=self.task_queue,
                # A journey id is used once: re-entry is expressed in the id (its period).
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                memo={"customer": request.customer_id, "rule": intent.rule_id},
            )
        except WorkflowAlreadyStartedError:
            return False
        activity.logger.info("started %s for customer %s", workflow_id, request.customer_id)
        return True

    async def _record_journey(
        self, workflow_id: str, journey: str, request: DispatchInput, intent: Intent, subject: str
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
                        status="running",
                        started_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            return  # recorded by a concurrent attempt

    async def _signal(
        self, customer_id: str, journey: str, signal: str, subject: str
    ) -> list[str]:
        async with self.db.session() as session:
            customer_pk = await _customer_pk(session, customer_id)
            query = select(JourneyRecord).where(
                JourneyRecord.customer_id == customer_pk,
                JourneyRecord.journey == journey,
                JourneyRecord.status == "running",
            )
            if subject:
                query = query.where(JourneyRecord.subject == subject)
            records = list(await session.scalars(query))
        signalled: list[str] = []
        for record in records:
            handle: WorkflowHandle[object, object] = self.client.get_workflow_handle(
                record.workflow_id
            )
            try:
                await handle.signal(signal)
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
                await self._mark_ended(record.workflow_id)
                continue
            signalled.append(record.workflow_id)
        return signalled

    async def _mark_ended(self, workflow_id: str) -> None:
        async with self.db.session() as session:
            record = await session.scalar(
                select(JourneyRecord).where(JourneyRecord.workflow_id == workflow_id)
            )
            if record is not None and record.status == "running":
                record.status, record.ended_at = "ended", datetime.now(UTC)

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
                            created_at=datetime.now(UTC),
                        )
                    )
        except IntegrityError:
            return

    async def _notify(self, customer_id: str, intent: Intent) -> None:
        assert intent.team is not None
        now = datetime.now(UTC)
        key = f"notify/{intent.team}/{customer_id}/{intent.rule_id}/{now.date().isoformat()}"
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


async def _customer_pk(session: AsyncSession, external_id: str) -> int | None:
    return await session.scalar(select(Customer.id).where(Customer.external_id == external_id))

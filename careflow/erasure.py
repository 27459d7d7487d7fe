"""Erasing a customer: after it, nothing careflow wrote identifies the person.

What is left is a keyed pseudonym (`anonymous_id`: an HMAC of the customer id
with `CAREFLOW_SECRET_KEY`), so the ledger, rule decisions and KPIs keep their
counts without pointing at anyone, and without the key nobody can tell whose
they were (an unkeyed hash of a customer id is reversed by hashing candidate ids).

Where the person was, and what erasure does there:

- the store: the customer row keeps only the pseudonym and non-identifying
  fields (tier, locale, time zone, dates); events, consents and tags are deleted;
  in every other row of theirs (orders, complaints, journeys, ledger, survey
  answers, tasks, rule decisions, audit entries) each workflow id becomes a keyed
  pseudonym of itself and any occurrence of the id, name, email address or phone
  number becomes the customer's pseudonym; free text (complaint subjects, order
  items, survey comments) is cleared; their open tasks are closed as `erased`;
- Temporal: their journeys are cancelled, then every execution careflow started
  for them (journeys and the workflows of their events, running or closed) is
  deleted with its history, memo and search attributes (Temporal deletes in the
  background; erasure waits for it, bounded). Journey ids and memos carry the
  customer's keyed pseudonym, not their id (`careflow/pseudonyms.py`), because
  Temporal's own bookkeeping (timers, task queues) keeps a workflow id until those
  fire. What cannot be done from careflow: a server that cannot delete (the
  time-skipping test server) keeps closed histories, whose inputs carry the
  customer id, until the namespace's retention period ends (the report counts
  them); a cluster with history archival keeps its archive; journeys started
  before ids carried pseudonyms keep the raw id in that bookkeeping until it
  fires or retention ends;
- the outbox (`CAREFLOW_HOME/outbox`): every captured message to them or about
  them is deleted;
- logs under `CAREFLOW_HOME/logs`: lines naming them are rewritten with the
  pseudonyms.
"""

from __future__ import annotations

import asyncio
import email
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, String, Table, Text, cast, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import FromClause
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from careflow.intake.apply import find_customer
from careflow.journeys import mark_journey_ended, running_journeys
from careflow.outreach.envelope import message_id_for
from careflow.pseudonyms import customer_pseudonym, keyed_digest
from careflow.store import (
    AuditEntry,
    Base,
    Complaint,
    Consent,
    Customer,
    CustomerTag,
    Database,
    Event,
    JourneyRecord,
    Order,
    OutreachLedger,
    SurveyResponse,
    Task,
)
from workflows.ids import event_workflow_id

log = logging.getLogger(__name__)

ERASED = "erased"
# How long erasure waits for Temporal to finish deleting (it deletes in the background).
DELETE_WAIT_SECONDS = 30.0
_DELETE_POLL_SECONDS = 0.2
_UNSUPPORTED = (RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.INVALID_ARGUMENT)


@dataclass(frozen=True)
class ErasureReport:
    """What erasure did; `histories_kept` counts executions Temporal could not delete."""

    anonymous_id: str
    journeys_cancelled: int
    events_deleted: int
    tasks_closed: int = 0
    workflows_deleted: int = 0
    histories_kept: int = 0
    outbox_files_deleted: int = 0
    log_files_rewritten: int = 0


def anonymous_id(secret_key: str, customer_id: str) -> str:
    """What the erased customer's id becomes: their keyed pseudonym (`careflow/pseudonyms.py`)."""
    return "erased-" + customer_pseudonym(secret_key, customer_id)


def anonymous_workflow_id(secret_key: str, workflow_id: str) -> str:
    """What an erased customer's workflow id becomes in the store (kept distinct per journey)."""
    return "erased-wf-" + keyed_digest(secret_key, "workflow", workflow_id)


class _Scrubber:
    """Rewrites text so that none of the person's identifiers or workflow ids remain.

    Workflow ids, the email address and the phone number are specific enough to
    find and replace anywhere. The customer id may be short (`c1`), so it is
    replaced only where it stands on its own, not inside `c10`. The name is
    replaced only in rows already known to be the customer's: it is never used to
    decide what is theirs (`Li` is in `List-Unsubscribe`).
    """

    def __init__(
        self, secret_key: str, anonymous: str, customer_id: str, contacts: Iterable[str], name: str
    ) -> None:
        self.secret_key = secret_key
        self.anonymous = anonymous
        self.customer_id = customer_id
        # Longest first, so an email address goes before a customer id inside it.
        self.contacts = sorted({value for value in contacts if value}, key=len, reverse=True)
        self.name = name
        self._own_id = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(customer_id)}(?![A-Za-z0-9_])")
        self.workflow_ids: list[str] = []

    def add_workflow_ids(self, workflow_ids: Iterable[str]) -> None:
        known = set(self.workflow_ids) | {value for value in workflow_ids if value}
        self.workflow_ids = sorted(known, key=len, reverse=True)

    def text(self, value: str, *, names: bool = True) -> str:
        """`value` with every workflow id and identifier replaced by its pseudonym."""
        for workflow_id in self.workflow_ids:
            if workflow_id in value:
                value = value.replace(
                    workflow_id, anonymous_workflow_id(self.secret_key, workflow_id)
                )
        for contact in self.contacts:
            value = value.replace(contact, self.anonymous)
        value = self._own_id.sub(self.anonymous, value)
        if names and self.name:
            value = value.replace(self.name, self.anonymous)
        return value

    def names_them(self, value: str) -> bool:
        """Whether `value` mentions the person by id, contact or workflow (not by name)."""
        return (
            any(needle in value for needle in (*self.workflow_ids, *self.contacts))
            or self._own_id.search(value) is not None
        )

    def value(self, value: Any) -> Any:
        """`text` through JSON-like values (dictionary keys included)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(key)): self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value

    def search_terms(self) -> list[str]:
        """Substrings a row that names the person must contain (one of them)."""
        return [*self.workflow_ids, *self.contacts, self.customer_id]


async def erase_customer(
    db: Database,
    client: Client,
    customer_id: str,
    *,
    secret_key: str,
    home: Path | None = None,
) -> ErasureReport | None:
    """Erase one customer everywhere careflow writes; None when the id is unknown.

    `home` is `CAREFLOW_HOME`, whose `outbox/` and `logs/` are cleaned too.
    """
    async with db.session() as session:
        customer = await find_customer(session, customer_id)
        if customer is None:
            return None
        customer_pk = customer.id
        contacts = [customer.email or "", customer.phone or ""]
        name = customer.name or ""
    anonymous = anonymous_id(secret_key, customer_id)
    scrubber = _Scrubber(secret_key, anonymous, customer_id, contacts, name)
    workflow_ids = await _workflow_ids(db, customer_pk, customer_id)
    scrubber.add_workflow_ids(workflow_ids)
    message_ids = await _message_ids(db, customer_pk, workflow_ids)

    cancelled = 0
    for record in await running_journeys(db, customer_id):
        try:
            await client.get_workflow_handle(record.workflow_id).cancel()
            cancelled += 1
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        await mark_journey_ended(db, record.workflow_id, outcome=ERASED)
    deleted, kept = await _delete_executions(client, sorted(workflow_ids))

    now = datetime.now(UTC)
    async with db.session() as session:
        events = await session.execute(
            delete(Event).where(Event.customer_external_id == customer_id)
        )
        await session.execute(delete(Consent).where(Consent.customer_id == customer_pk))
        await session.execute(delete(CustomerTag).where(CustomerTag.customer_id == customer_pk))
        tasks_closed = await _close_tasks(session, customer_pk, workflow_ids, now)
        # Free text the person wrote or that describes them: gone, not pseudonymised.
        await session.execute(
            update(SurveyResponse)
            .where(SurveyResponse.customer_id == customer_pk)
            .values(comment=None)
        )
        await session.execute(
            update(Complaint).where(Complaint.customer_id == customer_pk).values(subject=None)
        )
        await session.execute(
            update(Order).where(Order.customer_id == customer_pk).values(items=None)
        )
        await session.execute(
            update(OutreachLedger)
            .where(_owned(OutreachLedger.__table__, customer_pk, workflow_ids))
            .values(message_id=None)
        )
        for table in Base.metadata.sorted_tables:
            await _scrub_table(session, table, customer_pk, workflow_ids, scrubber)
        customer = await session.get(Customer, customer_pk)
        assert customer is not None
        customer.external_id = anonymous
        customer.name = customer.email = customer.phone = None
        customer.birthday = None
        customer.account_manager = None
        customer.erased_at = customer.updated_at = now
    outbox_deleted = rewritten = 0
    if home is not None:
        outbox_deleted = await asyncio.to_thread(
            _clean_outbox, home / "outbox", scrubber, message_ids
        )
        rewritten = await asyncio.to_thread(_rewrite_logs, home / "logs", scrubber)
    return ErasureReport(
        anonymous,
        cancelled,
        int(getattr(events, "rowcount", 0) or 0),
        tasks_closed=tasks_closed,
        workflows_deleted=deleted,
        histories_kept=kept,
        outbox_files_deleted=outbox_deleted,
        log_files_rewritten=rewritten,
    )


async def _workflow_ids(db: Database, customer_pk: int, customer_id: str) -> set[str]:
    """Every workflow careflow started for the customer: journeys and event workflows."""
    async with db.session() as session:
        found: set[str] = set()
        for column, owner in (
            (JourneyRecord.workflow_id, JourneyRecord.customer_id),
            (OutreachLedger.workflow_id, OutreachLedger.customer_id),
            (Task.workflow_id, Task.customer_id),
            (SurveyResponse.workflow_id, SurveyResponse.customer_id),
        ):
            found.update(
                value
                for value in await session.scalars(select(column).where(owner == customer_pk))
                if value
            )
        found.update(
            event_workflow_id(event_id)
            for event_id in await session.scalars(
                select(Event.event_id).where(Event.customer_external_id == customer_id)
            )
        )
    return found


async def _message_ids(db: Database, customer_pk: int, workflow_ids: set[str]) -> set[str]:
    """The Message-IDs (their part before `@`) of every email to or about the customer."""
    async with db.session() as session:
        ledger = await session.scalars(
            select(OutreachLedger.message_id).where(
                _owned(OutreachLedger.__table__, customer_pk, workflow_ids)
            )
        )
        # Staff notifications derive theirs from the task key, as the ledger does.
        keys = await session.scalars(
            select(Task.idempotency_key).where(_owned(Task.__table__, customer_pk, workflow_ids))
        )
        return {_local_part(value) for value in ledger if value} | {
            _local_part(message_id_for(key, "")) for key in keys
        }


def _local_part(message_id: str) -> str:
    return message_id.strip().strip("<>").partition("@")[0]


async def _delete_executions(client: Client, workflow_ids: list[str]) -> tuple[int, int]:
    """Delete each execution with its history; (deleted, kept because the server cannot)."""
    deleted: list[str] = []
    kept = 0
    for workflow_id in workflow_ids:
        try:
            await client.workflow_service.delete_workflow_execution(
                DeleteWorkflowExecutionRequest(
                    namespace=client.namespace,
                    workflow_execution=WorkflowExecution(workflow_id=workflow_id),
                )
            )
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                continue
            if error.status not in _UNSUPPORTED:
                raise
            kept += await _terminate(client, workflow_id)
            continue
        deleted.append(workflow_id)
    if kept:
        # Counted, not named: the ids of older journeys carry the customer id.
        log.warning("Temporal cannot delete %d erased execution(s): kept until retention", kept)
    await _wait_until_gone(client, deleted)
    return len(deleted), kept


async def _terminate(client: Client, workflow_id: str) -> int:
    """Stop what cannot be deleted; 1 when its history stays behind."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        description = await handle.describe()
        if description.status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate("customer erased")
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return 0
        raise
    return 1


async def _wait_until_gone(client: Client, workflow_ids: list[str]) -> None:
    """Temporal deletes in the background: wait (bounded) so the report is true when shown."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DELETE_WAIT_SECONDS
    pending = list(workflow_ids)
    while pending and loop.time() < deadline:
        still: list[str] = []
        for workflow_id in pending:
            try:
                await client.get_workflow_handle(workflow_id).describe()
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
            else:
                still.append(workflow_id)
        pending = still
        if pending:
            await asyncio.sleep(_DELETE_POLL_SECONDS)
    if pending:
        log.warning("Temporal has not finished deleting %d execution(s) yet", len(pending))


def _owned(table: FromClause, customer_pk: int, workflow_ids: set[str]) -> Any:
    """The rows of `table` that are the customer's (by customer or by their workflows)."""
    conditions = []
    if "customer_id" in table.c:
        conditions.append(table.c.customer_id == customer_pk)
    if "workflow_id" in table.c and workflow_ids:
        conditions.append(table.c.workflow_id.in_(sorted(workflow_ids)))
    return or_(*conditions) if conditions else None


async def _close_tasks(
    session: AsyncSession, customer_pk: int, workflow_ids: set[str], now: datetime
) -> int:
    result = await session.execute(
        update(Task)
        .where(_owned(Task.__table__, customer_pk, workflow_ids), Task.status == "open")
        .values(status=ERASED, completed_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _scrub_table(
    session: AsyncSession,
    table: Table,
    customer_pk: int,
    workflow_ids: set[str],
    scrubber: _Scrubber,
) -> None:
    """Rewrite every text and JSON column of the customer's rows in `table`."""
    columns = [
        column
        for column in table.c
        if isinstance(column.type, String | Text | JSON) and not column.primary_key
    ]
    if not columns:
        return
    if table is AuditEntry.__table__:
        # Audit entries name customers and journeys in their target and details:
        # candidates by substring, then only those that really name the person.
        where = or_(
            *(
                cast(column, Text).contains(value)
                for column in (table.c.target, table.c.details)
                for value in scrubber.search_terms()
            )
        )
    elif table is Customer.__table__:
        return  # the customer row itself is rewritten field by field
    else:
        where = _owned(table, customer_pk, workflow_ids)
        if where is None:
            return
    rows = (await session.execute(select(table.c.id, *columns).where(where))).all()
    if table is AuditEntry.__table__:
        rows = [
            row
            for row in rows
            if any(scrubber.names_them(json.dumps(getattr(row, c.name))) for c in columns)
        ]
    for row in rows:
        changes = {}
        for column in columns:
            old = getattr(row, column.name)
            if old is None:
                continue
            new = scrubber.value(old)
            if new != old:
                changes[column.name] = new
        if changes:
            await session.execute(update(table).where(table.c.id == row.id).values(**changes))


def _clean_outbox(outbox: Path, scrubber: _Scrubber, message_ids: set[str]) -> int:
    """Delete every captured message to the person or about them.

    A message is theirs when its Message-ID is one careflow derived for their
    ledger rows and staff notifications, or when it names their id or contacts.
    """
    if not outbox.is_dir():
        return 0
    deleted = 0
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email_policy.default)
        if _local_part(str(message.get("Message-ID", ""))) in message_ids or scrubber.names_them(
            _readable(message)
        ):
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


def _readable(message: EmailMessage) -> str:
    """A message's headers and every text part, decoded (names travel RFC 2047-encoded)."""
    texts = [f"{name}: {value}" for name, value in message.items()]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            try:
                texts.append(str(part.get_content()))
            except (LookupError, ValueError):
                texts.append(str(part.get_payload()))  # an unknown charset: as it is
    return "\n".join(texts)


def _rewrite_logs(logs: Path, scrubber: _Scrubber) -> int:
    """Rewrite log lines naming the person or their workflows with the pseudonyms."""
    if not logs.is_dir():
        return 0
    rewritten = 0
    for path in sorted(logs.rglob("*")):
        if not path.is_file():
            continue
        original = path.read_text(encoding="utf-8", errors="surrogateescape")
        cleaned = scrubber.text(original, names=False)
        if cleaned != original:
            path.write_text(cleaned, encoding="utf-8", errors="surrogateescape")
            rewritten += 1
    return rewritten

"""`erase_customer`: the order erasure goes in, and what it reports."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from careflow.erasure._files import clean_outbox, rewrite_logs
from careflow.erasure._scrub import Scrubber, anonymous_id
from careflow.erasure._store import ERASED, erase_rows, message_ids, workflow_ids
from careflow.erasure._temporal import delete_executions
from careflow.intake.apply import find_customer
from careflow.journeys import mark_journey_ended, running_journeys
from careflow.store import Database


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
    scrubber = Scrubber(secret_key, anonymous, customer_id, contacts, name)
    found_workflows = await workflow_ids(db, customer_pk, customer_id)
    scrubber.add_workflow_ids(found_workflows)
    found_messages = await message_ids(db, customer_pk, found_workflows)

    cancelled = 0
    for record in await running_journeys(db, customer_id):
        try:
            await client.get_workflow_handle(record.workflow_id).cancel()
            cancelled += 1
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
        await mark_journey_ended(db, record.workflow_id, outcome=ERASED)
    deleted, kept = await delete_executions(client, sorted(found_workflows))

    # Files before the store: once the store forgets the customer, a second run could
    # no longer find what is theirs.
    outbox_deleted = rewritten = 0
    if home is not None:
        outbox_deleted = await asyncio.to_thread(
            clean_outbox, home / "outbox", scrubber, found_messages
        )
        rewritten = await asyncio.to_thread(rewrite_logs, home / "logs", scrubber)
    rows = await erase_rows(
        db, customer_pk, customer_id, anonymous, found_workflows, scrubber, datetime.now(UTC)
    )
    return ErasureReport(
        anonymous,
        cancelled,
        rows.events_deleted,
        tasks_closed=rows.tasks_closed,
        workflows_deleted=deleted,
        histories_kept=kept,
        outbox_files_deleted=outbox_deleted,
        log_files_rewritten=rewritten,
    )

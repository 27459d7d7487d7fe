"""The event sweep: no stored event is ever left unevaluated.

On the direct event path (careflow/intake/direct.py) an event is stored with
`handled_at` NULL and marked once its rules ran and their intents were carried out,
in the process that accepted it. If that process crashed in between, or the store
or Temporal was away, the mark is missing. Every worker process runs this loop: each
round it takes the events still unmarked `CAREFLOW_EVENT_SWEEP_AFTER_SECONDS` after
they were received, oldest first, and hands each to its `CustomerEventWorkflow`
(as of its `received_at`, the instant the direct path decides at), which evaluates
it durably, retrying until the rules, the store and Temporal let it; then marks it.

Why a loop in the workers and not a Temporal Schedule: a round that finds nothing
is one indexed query (`ix_events_pending`), where a Schedule would cost a workflow
and an activity in Temporal every round, which is the very work the direct path
saves. Several workers may sweep one store at once: the workflow's id derives from
the event id and a second start is refused, so an event is handed over once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from temporalio.client import Client

from careflow.intake.events import hand_to_workflow
from careflow.store import Database, Event

log = logging.getLogger(__name__)

# How often a worker looks for events the direct path left unmarked.
SWEEP_SECONDS = 15.0
# Events handed over per round; the next round takes the rest.
PAGE = 200


class EventSweeper:
    """Hands events left unmarked to their workflows; `run_once` is one round."""

    def __init__(
        self,
        db: Database,
        client: Client,
        task_queue: str,
        *,
        after: timedelta,
        every_seconds: float = SWEEP_SECONDS,
    ) -> None:
        self.db = db
        self.client = client
        self.task_queue = task_queue
        # Left alone this long: the direct path may still be at work on a newer one.
        self.after = after
        self.every_seconds = every_seconds
        self._stopping = asyncio.Event()

    async def pending(self, now: datetime) -> list[tuple[str, datetime]]:
        """(event id, received_at) of the events unmarked since before `now - after`."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(Event.event_id, Event.received_at)
                .where(Event.handled_at.is_(None), Event.received_at <= now - self.after)
                .order_by(Event.received_at)
                .limit(PAGE)
            )
            return [(event_id, received_at) for event_id, received_at in rows]

    async def run_once(self, now: datetime | None = None) -> list[str]:
        """One round: the ids of the events handed to their workflows."""
        handed: list[str] = []
        for event_id, received_at in await self.pending(now or datetime.now(UTC)):
            await hand_to_workflow(self.db, self.client, self.task_queue, event_id, received_at)
            handed.append(event_id)
        if handed:
            log.warning(
                "event sweep: %d events the direct path left unhandled went to their workflows",
                len(handed),
            )
        return handed

    async def run(self) -> None:
        """Sweep every `every_seconds` until `stop()`; a failed round is tried again."""
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except Exception as error:
                # The store or Temporal is away: the events wait for the next round.
                log.warning("event sweep failed, trying again: %s", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.every_seconds)

    def stop(self) -> None:
        self._stopping.set()

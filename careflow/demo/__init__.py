"""Sample data for `careflow up --demo`: a few customers, their history, and live events.

History is imported (which never triggers outreach); the events in
`data/events.jsonl` are posted as happening now, so their journeys start and
their first emails land in the outbox. Event ids are fixed, so a second
`careflow up --demo` repeats nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Literal

from temporalio.client import Client

from careflow.intake.events import EventIn, accept_event
from careflow.intake.importer import import_file
from careflow.paths import DEMO_DATA_DIR
from careflow.store import Database

_IMPORTS: tuple[Literal["customers", "orders", "complaints"], ...] = (
    "customers",
    "orders",
    "complaints",
)


async def load_demo_data(db: Database, client: Client, task_queue: str) -> str:
    """Import the sample history, then post the sample events; returns a summary line."""
    created = 0
    for kind in _IMPORTS:
        report = await import_file(db, DEMO_DATA_DIR / f"{kind}.csv", kind)
        created += report.imported
    posted = 0
    now = datetime.now(UTC)
    lines = (DEMO_DATA_DIR / "events.jsonl").read_text(encoding="utf-8").splitlines()
    for line in lines:
        if not line.strip():
            continue
        event = EventIn.model_validate({**json.loads(line), "occurred_at": now})
        accepted = await accept_event(db, client, task_queue, event)
        posted += 0 if accepted.duplicate else 1
    return f"{created} records imported, {posted} new events posted"

"""Sample data for `careflow up --demo`: a few customers, their history, and live events.

The sample was written as of `AUTHORED_ON`; its dates move forward by however
long ago that was, so the stories stay true on any day: a VIP whose purchases
are slowing down, a dormant customer, one whose birthday is today (set on
loading), a brand-new customer's first order, complaints (one of them a VIP's,
whose retention offer the outreach policy then holds back and which alerts the
service team's WeCom robot; one from a customer who prefers SMS, acknowledged by
SMS in `outbox/sms/`), and loyalty points, some of them about to expire. History
is imported (which never triggers outreach); the events in `data/events.jsonl` are
posted as happening now, and a daily scan runs at once, so every journey's first
message lands in the outbox within a minute (or is deferred, visibly, when it is
night for the customer). Ids are fixed, so a second `careflow up --demo` repeats
nothing.
"""

from __future__ import annotations

import contextlib
import csv
import json
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from careflow.contracts.scan import DailyScanInput
from careflow.intake.events import EventIn, accept_event
from careflow.intake.importer import import_file
from careflow.paths import DEMO_DATA_DIR
from careflow.store import Database
from careflow.workflows.daily_scan import DailyScanWorkflow

AUTHORED_ON = date(2026, 11, 23)
BIRTHDAY_TODAY = ("demo-c005", "Asia/Shanghai")
_TIME_COLUMNS = ("created_at", "ordered_at", "opened_at", "resolved_at", "occurred_at")
_IMPORTS: tuple[Literal["customers", "orders", "complaints", "events"], ...] = (
    "customers",
    "orders",
    "complaints",
    # Loyalty points (declared in rules/events.yaml): 王芳 has points about to expire.
    "events",
)


def _shifted(value: str, by: timedelta) -> str:
    if not value:
        return value
    if "T" in value:
        return (datetime.fromisoformat(value) + by).isoformat()
    return (date.fromisoformat(value) + by).isoformat()


def prepare_files(folder: Path, today: date) -> dict[str, Path]:
    """The sample CSVs with dates moved to `today`, and one birthday set to today."""
    by = timedelta(days=(today - AUTHORED_ON).days)
    customer, zone = BIRTHDAY_TODAY
    local_today = datetime.now(ZoneInfo(zone)).date()
    files: dict[str, Path] = {}
    for kind in _IMPORTS:
        with (DEMO_DATA_DIR / f"{kind}.csv").open(encoding="utf-8", newline="") as source:
            reader = csv.DictReader(source)
            rows = list(reader)
            header = list(reader.fieldnames or [])
        for row in rows:
            for column in _TIME_COLUMNS:
                if column in row:
                    row[column] = _shifted(row[column], by)
            if kind == "customers" and row["customer_id"] == customer:
                # 1980 is a leap year, so even 29 February works.
                row["birthday"] = local_today.replace(year=1980).isoformat()
        target = folder / f"{kind}.csv"
        with target.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        files[kind] = target
    return files


async def load_demo_data(db: Database, client: Client, task_queue: str) -> str:
    """Import the sample history, post the sample events, run a scan; returns a summary."""
    now = datetime.now(UTC)
    created = 0
    with tempfile.TemporaryDirectory() as folder:
        files = prepare_files(Path(folder), now.date())
        for kind in _IMPORTS:
            report = await import_file(db, files[kind], kind)
            created += report.imported
    posted = 0
    for line in (DEMO_DATA_DIR / "events.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            event = EventIn.model_validate({**json.loads(line), "occurred_at": now})
            accepted = await accept_event(db, client, task_queue, event)
            posted += 0 if accepted.duplicate else 1
    # The daily scan would find the birthday, the slowing VIP and the dormant
    # customer tomorrow morning; the demo runs one now (once a day at most).
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            DailyScanWorkflow.run,
            DailyScanInput(),
            id=f"daily-scan-demo-{now.date().isoformat()}",
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    return f"{created} records imported, {posted} new events posted, a daily scan started"

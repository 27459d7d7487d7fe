"""A data folder as a simulation needs it: history before the first day, events after.

The files are the `careflow import` files (validated whole, `FILE:ROW` errors, by
the importer itself). Rows before the simulated window become the store's history
(imported: history never triggers outreach); rows inside it become intake events at
their own times (`customer_upserted`, `order_placed`, `complaint_opened` and
`complaint_resolved`, `survey_answered`), which a simulation posts through the real
intake path as the simulated clock reaches them.

Every time is moved by `shift`, a whole number of 28-year Gregorian cycles: the
time-skipping server's clock starts at the wall clock and only moves forward, so a
history from 1997 is replayed in (say) 2053, on the same weekdays and dates
(birthdays, fixed holidays and business hours fall as they did). Lunar holidays do
not repeat on a 28-year cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from careflow.intake.events import EventIn
from careflow.intake.importer import (
    ComplaintRow,
    CustomerRow,
    ImportKind,
    ImportRejected,
    OrderRow,
    RowProblem,
    SurveyRow,
    validate_file,
)
from careflow.intake.records import resolve_time

# 28 Gregorian years (7 of them leap years) are exactly 1461 weeks: dates and weekdays
# repeat (between 1901 and 2099, where no century year breaks the leap-year rule).
CYCLE = timedelta(days=28 * 365 + 7)


def shift_after(first_day: date, server_now: datetime) -> timedelta:
    """The smallest whole number of cycles that puts `first_day` after the server's clock."""
    begin = datetime.combine(first_day, datetime.min.time(), UTC)
    cycles = 0
    while begin + cycles * CYCLE <= server_now + timedelta(days=1):
        cycles += 1
    return cycles * CYCLE


@dataclass(frozen=True)
class LiveEvent:
    """One event of the simulated window, at its (shifted) time."""

    at: datetime
    order: int  # within one instant: customers first, then orders, complaints, answers
    event: EventIn


@dataclass
class History:
    """The folder's rows split at the first simulated instant, all times shifted."""

    shift: timedelta
    # Import kind -> rows written before the simulation starts (history).
    before: dict[ImportKind, list[BaseModel]] = field(default_factory=dict)
    # Events inside the window, in time order.
    events: list[LiveEvent] = field(default_factory=list)


def read_history(
    files: dict[ImportKind, Path], *, begin: datetime, end: datetime, shift: timedelta
) -> History:
    """Validate every file, then split its rows at `begin` (events stop at `end`).

    `begin` and `end` are in the data's own time; the result is shifted.
    """
    problems: list[RowProblem] = []
    rows: dict[ImportKind, list[BaseModel]] = {}
    known: set[str] = set()
    for kind, path in files.items():  # customers first: the others refer to them
        valid, found = validate_file(path, kind, known)
        problems += found
        rows[kind] = [record for _, record in valid]
        if kind == "customers":
            known = {record.customer_id for record in rows[kind] if isinstance(record, CustomerRow)}
    if problems:
        raise ImportRejected(problems)
    zones = {
        record.customer_id: record.timezone
        for record in rows.get("customers", [])
        if isinstance(record, CustomerRow)
    }
    history = History(shift)
    for kind, records in rows.items():
        history.before[kind] = []
        for record in records:
            moved = _shifted(record, shift)
            zone = zones.get(str(getattr(record, "customer_id", "")))
            at = _when(moved, zone)
            if at is None or at < begin + shift:
                history.before[kind].append(moved)
                continue
            if at >= end + shift:
                continue
            history.events += _events(moved, at, zone, end + shift)
    history.events.sort(key=lambda e: (e.at, e.order, e.event.customer_id, e.event.event_id))
    return history


_TIME_FIELDS = ("created_at", "ordered_at", "opened_at", "resolved_at", "answered_at")
_ORDER = {"customer_upserted": 0, "order_placed": 1, "complaint_opened": 2}


def _shifted(record: BaseModel, shift: timedelta) -> BaseModel:
    update: dict[str, Any] = {}
    for name in _TIME_FIELDS:
        value = getattr(record, name, None)
        if isinstance(value, datetime | date):
            update[name] = value + shift
    return record.model_copy(update=update)


def _when(record: BaseModel, zone: str | None) -> datetime | None:
    """When the row happened: the customer's creation, the order, the complaint, the answer."""
    for name in ("created_at", "ordered_at", "opened_at", "answered_at"):
        value = getattr(record, name, None)
        if isinstance(value, datetime | date):
            return resolve_time(value, zone).astimezone(UTC)
    return None


def _events(record: BaseModel, at: datetime, zone: str | None, end: datetime) -> list[LiveEvent]:
    customer = str(getattr(record, "customer_id", ""))
    data = record.model_dump(mode="json", exclude={"customer_id"}, exclude_none=True)
    if isinstance(record, CustomerRow):
        return [_event("customer_upserted", customer, at, data, f"customer-{customer}")]
    if isinstance(record, OrderRow):
        return [_event("order_placed", customer, at, data, f"order-{record.order_id}")]
    if isinstance(record, SurveyRow):
        key = f"survey-{customer}-{at.isoformat()}"
        data.pop("answered_at", None)
        return [_event("survey_answered", customer, at, data, key)]
    assert isinstance(record, ComplaintRow)
    opened = {key: value for key, value in data.items() if key not in ("status", "resolved_at")}
    events = [_event("complaint_opened", customer, at, opened, f"complaint-{record.complaint_id}")]
    if record.resolved_at is not None:
        resolved_at = resolve_time(record.resolved_at, zone).astimezone(UTC)
        if resolved_at < end:
            events.append(
                _event(
                    "complaint_resolved",
                    customer,
                    max(resolved_at, at),
                    {"complaint_id": record.complaint_id, "resolved_at": resolved_at.isoformat()},
                    f"resolved-{record.complaint_id}",
                )
            )
    return events


def _event(kind: str, customer: str, at: datetime, data: dict[str, Any], key: str) -> LiveEvent:
    return LiveEvent(
        at,
        _ORDER.get(kind, 3),
        EventIn.model_validate(
            {
                "type": kind,
                "customer_id": customer,
                "occurred_at": at,
                "data": data,
                "event_id": f"simulate-{key}",
            }
        ),
    )

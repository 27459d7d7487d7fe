"""`careflow import`: customers, orders, complaints and survey answers from CSV or JSON Lines.

The whole file is validated before anything is written; a bad row is reported as
`FILE:ROW: field: problem` and nothing is imported unless `skip_invalid` is set.
Rows are idempotent by the business's own id (a survey answer by its customer, time
and what it answers), so importing a file twice changes nothing the second time.
Imports never trigger outreach: history is recorded, not acted on.

New rows are written in batches of multi-row INSERTs inside the one transaction
(SQLAlchemy's executemany, on SQLite and PostgreSQL alike): which rows are new is
found with a few `IN` queries first, instead of one query and one flush per row.
Rows already stored take the row-by-row path of `careflow.intake.apply`, so a
re-import updates exactly as an event would.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from sqlalchemy import insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.custom_events import BUILT_IN_EVENT_TYPES, load_event_declarations
from careflow.intake import apply
from careflow.intake.json_values import load_json, printable_location, unusable_value
from careflow.intake.records import (
    ComplaintFields,
    CustomerFields,
    CustomerId,
    Identifier,
    MaybeTime,
    OrderFields,
    SurveyFields,
    resolve_time,
)
from careflow.store import (
    Complaint,
    Customer,
    CustomEvent,
    Database,
    JourneyRecord,
    Order,
    SurveyResponse,
)

ImportKind = Literal["customers", "orders", "complaints", "surveys", "events"]
# Rows per multi-row INSERT and ids per `IN (...)` lookup: well under the bound
# parameters SQLite (32766) and asyncpg (32767) accept in one statement.
BATCH = 1000


class CustomerRow(CustomerFields):
    customer_id: CustomerId = Field(min_length=1)


class OrderRow(OrderFields):
    customer_id: CustomerId = Field(min_length=1)


class ComplaintRow(ComplaintFields):
    customer_id: CustomerId = Field(min_length=1)


class SurveyRow(SurveyFields):
    """One answered satisfaction survey; `answered_at` is required: with the customer and
    what was answered (`complaint_id`, `workflow_id`) it identifies the answer."""

    customer_id: CustomerId = Field(min_length=1)
    answered_at: MaybeTime = Field(...)

    @field_validator("answered_at")
    @classmethod
    def _answered(cls, value: datetime | date | None) -> datetime | date:
        if value is None:
            raise ValueError("required: when the survey was answered")
        return value


class EventRow(BaseModel):
    """One event of a type declared in rules/events.yaml: `event_id`, `type`,
    `customer_id`, `occurred_at`, and its properties (the other CSV columns, or a JSON
    row's other keys or its `data` object)."""

    event_id: Identifier = Field(max_length=200)
    type: str
    customer_id: CustomerId = Field(min_length=1)
    occurred_at: MaybeTime = Field(...)
    data: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _gather_properties(cls, raw: object) -> object:
        if not isinstance(raw, dict):
            return raw
        base = {key: raw[key] for key in _EVENT_COLUMNS if key in raw}
        data = raw.get("data")
        properties = dict(data) if isinstance(data, dict) else {}
        properties.update((key, value) for key, value in raw.items() if key not in base)
        properties.pop("data", None)
        # An empty cell is "not given": a file mixing event types leaves the columns of
        # the other types' properties empty.
        properties = {
            key: value
            for key, value in properties.items()
            if not (isinstance(value, str) and not value.strip())
        }
        return {**base, "data": properties}

    @field_validator("type")
    @classmethod
    def _declared(cls, value: str) -> str:
        if value in BUILT_IN_EVENT_TYPES:
            raise ValueError(
                f"{value!r} is built in: import its records with careflow import "
                "customers|orders|complaints|surveys"
            )
        declarations = load_event_declarations()
        if value not in declarations.events:
            raise ValueError(declarations.unknown_type_message(value))
        return value

    @field_validator("occurred_at")
    @classmethod
    def _occurred(cls, value: datetime | date | None) -> datetime | date:
        if value is None:
            raise ValueError("required: when the event happened")
        return value

    def check_properties(self) -> None:
        """Check `data` against the type's declared properties (ValidationError naming
        the property) and keep it as it will be stored."""
        declared = load_event_declarations().events[self.type]
        checked = declared.data_model.model_validate(self.data)
        self.data = checked.model_dump(mode="json", exclude_none=True)


_EVENT_COLUMNS = ("event_id", "type", "customer_id", "occurred_at")

ROW_MODELS: dict[str, type[BaseModel]] = {
    "customers": CustomerRow,
    "orders": OrderRow,
    "complaints": ComplaintRow,
    "surveys": SurveyRow,
    "events": EventRow,
}


@dataclass(frozen=True)
class RowProblem:
    """One problem in one row, printed as `FILE:ROW: field: problem`."""

    path: Path
    row: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.row}: {self.field}: {self.message}"


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    already_present: int = 0
    skipped_invalid: int = 0
    problems: list[RowProblem] = field(default_factory=list)


class ImportRejected(Exception):
    """The file has invalid rows and `skip_invalid` was not given; nothing was written."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"{len(problems)} invalid row(s)")
        self.problems = problems


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, raw row) from a CSV file with a header, or a JSON Lines file."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = load_json(line)
                except json.JSONDecodeError as error:
                    yield number, {"__error__": f"not valid JSON: {error.msg}"}
                    continue
                except RecursionError:
                    yield number, {"__error__": "not valid JSON: nested too deeply"}
                    continue
                unusable = unusable_value(value)
                if unusable is not None:
                    where = ".".join(str(part) for part in printable_location(unusable[0]))
                    yield number, {"__error__": unusable[1], "__field__": where or "(row)"}
                    continue
                yield (
                    number,
                    value if isinstance(value, dict) else {"__error__": "expected a JSON object"},
                )
        return
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            # The header is line 1; DictReader's line_num counts physical lines read.
            yield reader.line_num, {key: value for key, value in row.items() if key is not None}


def validate_file(
    path: Path, kind: ImportKind, known_customers: set[str]
) -> tuple[list[tuple[int, BaseModel]], list[RowProblem]]:
    """Every row validated; rows that reference an unknown customer are problems too."""
    model = ROW_MODELS[kind]
    valid: list[tuple[int, BaseModel]] = []
    problems: list[RowProblem] = []
    seen_ids: set[str] = set()
    number = 1
    rows = read_rows(path)
    while True:
        try:
            number, raw = next(rows)
        except StopIteration:
            break
        except UnicodeDecodeError:
            problems.append(
                RowProblem(path, number + 1, "(file)", "not UTF-8 text; save it as CSV UTF-8")
            )
            break
        if "__error__" in raw:
            field = str(raw.get("__field__", "(row)"))
            problems.append(RowProblem(path, number, field, str(raw["__error__"])))
            continue
        with_nul = [key for key, value in raw.items() if isinstance(value, str) and "\x00" in value]
        if with_nul:
            # PostgreSQL cannot store NUL in text, and no real value contains one.
            problems.extend(
                RowProblem(path, number, key, "contains a NUL character") for key in with_nul
            )
            continue
        try:
            record = model.model_validate(raw)
            if isinstance(record, EventRow):
                record.check_properties()
        except ValidationError as error:
            for detail in error.errors():
                where = ".".join(str(part) for part in detail["loc"]) or "(row)"
                problems.append(RowProblem(path, number, where, _plain(detail)))
            continue
        customer_id = getattr(record, "customer_id")  # noqa: B009 - every row model has it
        if kind != "customers" and customer_id not in known_customers:
            problems.append(
                RowProblem(
                    path,
                    number,
                    "customer_id",
                    f"unknown customer {customer_id!r}; import it first",
                )
            )
            continue
        id_field, key = row_key(record)
        if key in seen_ids:
            problems.append(
                RowProblem(path, number, id_field, f"{key!r} appears twice in the file")
            )
            continue
        seen_ids.add(key)
        valid.append((number, record))
    return valid, problems


# The business ids a row may name that the store holds per customer: (id, owner).
_OWNED_IDS: dict[str, tuple[Any, Any]] = {
    "order_id": (Order.external_id, Order.customer_id),
    "complaint_id": (Complaint.external_id, Complaint.customer_id),
    "workflow_id": (JourneyRecord.workflow_id, JourneyRecord.customer_id),
    "event_id": (CustomEvent.event_id, CustomEvent.customer_id),
}


async def stored_conflicts(
    db: Database, path: Path, rows: Sequence[tuple[int, BaseModel]]
) -> list[RowProblem]:
    """Rows naming a business id the store holds for another customer (an order, a
    complaint, the journey a survey answers), and answers to a survey answered already
    (in the store or on an earlier row) with another score or comment.

    A row for one customer must never be taken as, or change, another's record.
    """
    named: list[tuple[int, str, str, str]] = []  # row, field, id, the row's customer
    answers: dict[str, tuple[int, SurveyRow]] = {}
    problems: list[RowProblem] = []
    for number, record in rows:
        customer = str(getattr(record, "customer_id"))  # noqa: B009 - every row model has it
        for field_name in _OWNED_IDS:
            value = getattr(record, field_name, None)
            if value:
                named.append((number, field_name, str(value), customer))
        if not isinstance(record, SurveyRow) or not record.workflow_id:
            continue
        if record.workflow_id in answers:
            problems.append(
                RowProblem(
                    path,
                    number,
                    "workflow_id",
                    f"the survey of journey {record.workflow_id!r} is answered on row "
                    f"{answers[record.workflow_id][0]} already; a survey has one answer",
                )
            )
        else:
            answers[record.workflow_id] = (number, record)
    owners: dict[tuple[str, str], str] = {}
    async with db.session() as session:
        for field_name, (column, owner) in _OWNED_IDS.items():
            values = sorted({value for _, name, value, _ in named if name == field_name})
            for first in range(0, len(values), BATCH):
                for value, customer in await session.execute(
                    select(column, Customer.external_id)
                    .join(Customer, Customer.id == owner)
                    .where(column.in_(values[first : first + BATCH]))
                ):
                    owners[(field_name, value)] = customer
        answered = await answered_surveys(session, sorted(answers))
    for number, field_name, value, customer in named:
        stored_for = owners.get((field_name, value))
        if stored_for is not None and stored_for != customer:
            problems.append(
                RowProblem(
                    path,
                    number,
                    field_name,
                    f"{value!r} belongs to another customer; {field_name} must be unique "
                    "across customers",
                )
            )
    for workflow_id, (number, record) in answers.items():
        if workflow_id in answered and answered[workflow_id] != _answer_of(record):
            problems.append(
                RowProblem(
                    path,
                    number,
                    "workflow_id",
                    f"the survey of journey {workflow_id!r} was already answered "
                    f"(score {answered[workflow_id][0]}); a survey has one answer",
                )
            )
    return problems


def _answer_of(record: SurveyRow) -> tuple[int, str | None]:
    return record.score, record.comment


async def answered_surveys(
    session: AsyncSession, workflow_ids: Sequence[str]
) -> dict[str, tuple[int, str | None]]:
    """The first recorded answer (score, comment) of each of these journeys' surveys."""
    answered: dict[str, tuple[int, str | None]] = {}
    for first in range(0, len(workflow_ids), BATCH):
        for workflow_id, score, comment in await session.execute(
            select(SurveyResponse.workflow_id, SurveyResponse.score, SurveyResponse.comment)
            .where(SurveyResponse.workflow_id.in_(workflow_ids[first : first + BATCH]))
            .order_by(SurveyResponse.id.desc())
        ):
            # Newest first, so the first answer is the one left standing.
            answered[str(workflow_id)] = (score, comment)
    return answered


def row_key(record: BaseModel) -> tuple[str, str]:
    """The field that identifies a row and its value (a survey answer: several fields)."""
    if isinstance(record, SurveyRow):
        return "answered_at", "/".join(
            (
                record.customer_id,
                str(record.answered_at),
                record.complaint_id or "",
                record.workflow_id or "",
            )
        )
    name = {
        CustomerRow: "customer_id",
        OrderRow: "order_id",
        ComplaintRow: "complaint_id",
        EventRow: "event_id",
    }[type(record)]
    return name, str(getattr(record, name))


def _plain(detail: Any) -> str:
    message = str(detail["msg"]).removeprefix("Value error, ")
    value = detail.get("input")
    if detail["type"] == "missing":
        return "required, but missing or empty"
    return f"{message} (got {value!r})"


async def import_file(
    db: Database,
    path: Path,
    kind: ImportKind,
    *,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate the whole file, then write it in one transaction (all or nothing)."""
    async with db.session() as session:
        known = set(await session.scalars(select(Customer.external_id)))
    known_or_new = known
    if kind == "customers":
        known_or_new = set()  # customers files reference no one
    valid, problems = validate_file(path, kind, known_or_new)
    conflicts = await stored_conflicts(db, path, valid)
    if conflicts:
        conflicting = {problem.row for problem in conflicts}
        valid = [(number, record) for number, record in valid if number not in conflicting]
        problems = sorted([*problems, *conflicts], key=lambda problem: problem.row)
    invalid_rows = len({problem.row for problem in problems})
    report = ImportReport(rows=len(valid) + invalid_rows, problems=problems)
    if problems and not skip_invalid:
        raise ImportRejected(problems)
    report.skipped_invalid = invalid_rows
    report.imported, report.already_present = await write_records(
        db, kind, [record for _, record in valid], progress=progress
    )
    return report


async def write_records(
    db: Database,
    kind: ImportKind,
    records: Sequence[BaseModel],
    *,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Write validated rows in one transaction; returns (created, already present).

    The rows' customers must be stored (or be in `records`, for customers).
    """
    now = datetime.now(UTC)
    async with db.session() as session:
        if kind == "customers":
            return await _write_customers(session, records, now, progress)
        customers = await _customers_of(
            session,
            {str(getattr(record, "customer_id")) for record in records},  # noqa: B009
        )
        if kind == "orders":
            return await _write_orders(session, records, customers, progress)
        if kind == "surveys":
            return await _write_surveys(session, records, customers, progress)
        if kind == "events":
            return await _write_events(session, records, customers, progress)
        created = 0
        for count, record in enumerate(records, start=1):
            assert isinstance(record, ComplaintRow)
            customer = customers[record.customer_id]
            # Complaints are few, and a stored one may need its status brought up to date.
            created += await apply.import_complaint(session, customer, record, now)
            if progress is not None:
                progress(count)
        return created, len(records) - created


async def _existing(session: AsyncSession, column: Any, keys: Sequence[Any]) -> set[Any]:
    """Which of `keys` the column already holds, a batch of `IN (...)` at a time."""
    found: set[Any] = set()
    for first in range(0, len(keys), BATCH):
        found.update(
            await session.scalars(select(column).where(column.in_(keys[first : first + BATCH])))
        )
    return found


async def _customers_of(session: AsyncSession, external_ids: set[str]) -> dict[str, Customer]:
    customers: dict[str, Customer] = {}
    ordered = sorted(external_ids)
    for first in range(0, len(ordered), BATCH):
        batch = ordered[first : first + BATCH]
        for customer in await session.scalars(
            select(Customer).where(Customer.external_id.in_(batch))
        ):
            customers[customer.external_id] = customer
    return customers


async def _insert(
    session: AsyncSession,
    table: Any,
    rows: list[dict[str, Any]],
    progress: Callable[[int], None] | None,
    done: int,
) -> None:
    for first in range(0, len(rows), BATCH):
        await session.execute(insert(table), rows[first : first + BATCH])
        if progress is not None:
            progress(done + min(first + BATCH, len(rows)))


async def _write_customers(
    session: AsyncSession,
    records: Sequence[BaseModel],
    now: datetime,
    progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    rows = [record for record in records if isinstance(record, CustomerRow)]
    stored = await _existing(session, Customer.external_id, [row.customer_id for row in rows])
    for count, record in enumerate((row for row in rows if row.customer_id in stored), start=1):
        # An update writes exactly what an event would (and reports nothing changed).
        await apply.upsert_customer(session, record.customer_id, record, now)
        if progress is not None:
            progress(count)
    new = [_customer_values(row, now) for row in rows if row.customer_id not in stored]
    await _insert(session, Customer, new, progress, len(rows) - len(new))
    return len(new), len(rows) - len(new)


def _customer_values(record: CustomerRow, now: datetime) -> dict[str, Any]:
    """The columns of a new customer, as `apply.upsert_customer` would create it."""
    given = record.model_dump(exclude_unset=True, exclude={"customer_id"})
    created_at = given.pop("created_at", None)
    if given.get("birthday_calendar") is None:
        given["birthday_calendar"] = "solar"
    return {
        **given,
        "external_id": record.customer_id,
        "created_at": resolve_time(created_at, record.timezone) if created_at else now,
        "updated_at": now,
    }


async def _write_orders(
    session: AsyncSession,
    records: Sequence[BaseModel],
    customers: dict[str, Customer],
    progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    rows = [record for record in records if isinstance(record, OrderRow)]
    stored = await _existing(session, Order.external_id, [row.order_id for row in rows])
    now = datetime.now(UTC)
    new = [
        {
            "external_id": row.order_id,
            "customer_id": customers[row.customer_id].id,
            "ordered_at": resolve_time(row.ordered_at, customers[row.customer_id].timezone)
            if row.ordered_at
            else now,
            "amount": row.amount,
            "items": row.items,
        }
        for row in rows
        if row.order_id not in stored
    ]
    await _insert(session, Order, new, progress, len(rows) - len(new))
    return len(new), len(rows) - len(new)


async def _write_surveys(
    session: AsyncSession,
    records: Sequence[BaseModel],
    customers: dict[str, Customer],
    progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    rows = [record for record in records if isinstance(record, SurveyRow)]
    complaint_ids = sorted({row.complaint_id for row in rows if row.complaint_id})
    complaints: dict[str, int] = {}
    for first in range(0, len(complaint_ids), BATCH):
        complaints.update(
            (external, pk)
            for pk, external in await session.execute(
                select(Complaint.id, Complaint.external_id).where(
                    Complaint.external_id.in_(complaint_ids[first : first + BATCH])
                )
            )
        )
    keyed: dict[tuple[int, datetime, int | None, str | None], dict[str, Any]] = {}
    for row in rows:
        customer = customers[row.customer_id]
        assert row.answered_at is not None  # required by SurveyRow
        answered_at = resolve_time(row.answered_at, customer.timezone)
        complaint_pk = complaints.get(row.complaint_id or "")
        keyed[(customer.id, answered_at, complaint_pk, row.workflow_id)] = {
            "customer_id": customer.id,
            "workflow_id": row.workflow_id,
            "complaint_id": complaint_pk,
            "score": row.score,
            "comment": row.comment,
            "answered_at": answered_at,
        }
    # An answer is stored when its customer, time and subject are: the table has no id of
    # the business's to match on.
    stored: set[tuple[int, datetime, int | None, str | None]] = set()
    pairs = sorted({(key[0], key[1]) for key in keyed})
    for first in range(0, len(pairs), BATCH):
        batch = pairs[first : first + BATCH]
        stored.update(
            tuple(row)  # type: ignore[misc]
            for row in await session.execute(
                select(
                    SurveyResponse.customer_id,
                    SurveyResponse.answered_at,
                    SurveyResponse.complaint_id,
                    SurveyResponse.workflow_id,
                ).where(tuple_(SurveyResponse.customer_id, SurveyResponse.answered_at).in_(batch))
            )
        )
    # A survey is answered once: the answer to a journey's survey already stored (by
    # an event, or with another time) is that answer, not a second one.
    answered = await answered_surveys(
        session, sorted({key[3] for key in keyed if key[3] is not None})
    )
    new = [
        values
        for key, values in keyed.items()
        if key not in stored and (key[3] is None or key[3] not in answered)
    ]
    await _insert(session, SurveyResponse, new, progress, len(rows) - len(new))
    return len(new), len(rows) - len(new)


async def _write_events(
    session: AsyncSession,
    records: Sequence[BaseModel],
    customers: dict[str, Customer],
    progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    rows = [record for record in records if isinstance(record, EventRow)]
    stored = await _existing(session, CustomEvent.event_id, [row.event_id for row in rows])
    new = [
        {
            "event_id": row.event_id,
            "customer_id": customers[row.customer_id].id,
            "type": row.type,
            "occurred_at": resolve_time(row.occurred_at, customers[row.customer_id].timezone),
            "properties": row.data,
        }
        for row in rows
        if row.event_id not in stored and row.occurred_at is not None
    ]
    await _insert(session, CustomEvent, new, progress, len(rows) - len(new))
    return len(new), len(rows) - len(new)

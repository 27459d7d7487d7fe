"""`careflow import`: customers, orders and complaints from CSV or JSON Lines.

The whole file is validated before anything is written; a bad row is reported as
`FILE:ROW: field: problem` and nothing is imported unless `skip_invalid` is set.
Rows are idempotent by the business's own id, so importing a file twice changes
nothing the second time. Imports never trigger outreach: history is recorded,
not acted on.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.intake import apply
from careflow.intake.records import ComplaintFields, CustomerFields, OrderFields
from careflow.store import Customer, Database

ImportKind = Literal["customers", "orders", "complaints"]


class CustomerRow(CustomerFields):
    customer_id: str = Field(min_length=1)


class OrderRow(OrderFields):
    customer_id: str = Field(min_length=1)


class ComplaintRow(ComplaintFields):
    customer_id: str = Field(min_length=1)


ROW_MODELS: dict[str, type[BaseModel]] = {
    "customers": CustomerRow,
    "orders": OrderRow,
    "complaints": ComplaintRow,
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
                    value = json.loads(line)
                except json.JSONDecodeError as error:
                    yield number, {"__error__": f"not valid JSON: {error.msg}"}
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
    id_field = {"customers": "customer_id", "orders": "order_id", "complaints": "complaint_id"}[
        kind
    ]
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
            problems.append(RowProblem(path, number, "(row)", str(raw["__error__"])))
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
        key = str(getattr(record, id_field))
        if key in seen_ids:
            problems.append(
                RowProblem(path, number, id_field, f"{key!r} appears twice in the file")
            )
            continue
        seen_ids.add(key)
        valid.append((number, record))
    return valid, problems


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
    invalid_rows = len({problem.row for problem in problems})
    report = ImportReport(rows=len(valid) + invalid_rows, problems=problems)
    if problems and not skip_invalid:
        raise ImportRejected(problems)
    report.skipped_invalid = invalid_rows
    now = datetime.now(UTC)
    async with db.session() as session:
        customers: dict[str, Customer] = {}
        for count, (_, record) in enumerate(valid, start=1):
            created = await _write(session, record, customers, now)
            if created:
                report.imported += 1
            else:
                report.already_present += 1
            if progress is not None:
                progress(count)
    return report


async def _write(
    session: AsyncSession, record: BaseModel, customers: dict[str, Customer], now: datetime
) -> bool:
    """Write one row; True when it created a record, False when it was already there."""
    if isinstance(record, CustomerRow):
        existing = await apply.find_customer(session, record.customer_id)
        await apply.upsert_customer(session, record.customer_id, record, now)
        return existing is None
    customer_id = getattr(record, "customer_id")  # noqa: B009
    customer = customers.get(customer_id)
    if customer is None:
        customer = await apply.find_customer(session, customer_id)
        assert customer is not None  # validated above
        customers[customer_id] = customer
    if isinstance(record, OrderRow):
        return await apply.add_order(session, customer, record, now)
    assert isinstance(record, ComplaintRow)
    return await apply.import_complaint(session, customer, record, now)

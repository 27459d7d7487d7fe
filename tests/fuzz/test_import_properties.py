"""CSV import on generated files: all or nothing, every bad row named, never a crash.

Properties, each on SQLite and PostgreSQL:
- a file of valid rows imports exactly those rows, field for field;
- a file with invalid rows mixed in raises ImportRejected naming `FILE:ROW` for
  exactly the bad rows (the good rows are not blamed) and writes nothing;
- any text at all, as any kind of import, either imports or is rejected with
  named rows: no other exception escapes.
"""

from __future__ import annotations

import asyncio
import csv
import io
import string
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from careflow.intake.importer import ImportKind, ImportRejected, import_file
from careflow.store import Complaint, Customer, Database, Order

COLUMNS = ["customer_id", "name", "email", "locale", "timezone", "birthday", "tier"]
BOUNDED = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text a person could type into a spreadsheet cell, on one line. NUL and line
# breaks are left out here: NUL is not storable text in PostgreSQL, and a quoted
# line break moves the row number DictReader reports (see the README for both).
CELL = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029"),
    max_size=20,
)
IDS = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=12)
EMAILS = st.from_regex(r"[a-z0-9._]{1,10}@[a-z0-9]{1,8}\.[a-z]{2,4}", fullmatch=True)


def valid_customer(customer_id: str) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries(
        {
            "customer_id": st.just(customer_id),
            "name": CELL,
            "email": EMAILS | st.just(""),
            "locale": st.sampled_from(["en", "zh-CN", "de-DE", ""]),
            "timezone": st.sampled_from(["UTC", "Asia/Shanghai", "Europe/London", ""]),
            "birthday": st.dates(date(1900, 1, 1), date(2020, 12, 31)).map(str) | st.just(""),
            "tier": st.sampled_from(["vip", "regular", "potential", ""]),
        }
    )


# One change that makes a valid row invalid, and the field the error must name.
BREAKAGES: list[tuple[str, str]] = [
    ("email", "not-an-email"),
    ("timezone", "Mars/Olympus"),
    ("tier", "gold"),
    ("birthday", "2026-02-30"),
    ("locale", "English please"),
    ("customer_id", ""),
]


@st.composite
def customer_files(draw: st.DrawFn, *, broken: bool) -> tuple[list[dict[str, str]], set[int]]:
    """Rows for distinct customers; with `broken`, some rows broken. Returns rows and
    the file lines (header = line 1) that must be reported."""
    ids = draw(st.lists(IDS, min_size=1 if not broken else 2, max_size=15, unique=True))
    rows = [draw(valid_customer(customer_id)) for customer_id in ids]
    bad_lines: set[int] = set()
    if broken:
        # At least one row stays valid, so a repeat of it can be added below.
        indexes = draw(st.sets(st.integers(0, len(rows) - 1), min_size=1, max_size=len(rows) - 1))
        for index in indexes:
            field, value = draw(st.sampled_from(BREAKAGES))
            rows[index][field] = value
            bad_lines.add(index + 2)
        if draw(st.booleans()):
            # A repeated id is a problem of the repeat, not of the first row.
            first = next(i for i in range(len(rows)) if i not in indexes)
            rows.append({**rows[first]})
            bad_lines.add(len(rows) + 1)
    return rows, bad_lines


def write_csv(folder: Path, rows: list[dict[str, str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    path = folder / "customers.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


@dataclass
class Store:
    """The test's store, reachable from synchronous hypothesis tests."""

    db: Database
    loop: asyncio.AbstractEventLoop
    folder: Path

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def empty(self) -> None:
        """Every example starts from an empty store."""

        async def wipe() -> None:
            async with self.db.session() as session:
                for model in (Order, Complaint, Customer):
                    await session.execute(delete(model))

        self.run(wipe())

    def customers(self) -> dict[str, Customer]:
        async def load() -> dict[str, Customer]:
            async with self.db.session() as session:
                return {c.external_id: c for c in await session.scalars(select(Customer))}

        result: dict[str, Customer] = self.run(load())
        return result

    def count(self, model: type[Customer] | type[Order] | type[Complaint]) -> int:
        async def counted() -> int:
            async with self.db.session() as session:
                return int(await session.scalar(select(func.count()).select_from(model)) or 0)

        result: int = self.run(counted())
        return result


@pytest.fixture
def store(db: Database, loop: asyncio.AbstractEventLoop, tmp_path: Path) -> Store:
    return Store(db, loop, tmp_path)


@pytest.mark.timeout(300)
def test_valid_rows_import_exactly(store: Store) -> None:
    @BOUNDED
    @given(file=customer_files(broken=False))
    def check(file: tuple[list[dict[str, str]], set[int]]) -> None:
        rows, _ = file
        store.empty()
        report = store.run(import_file(store.db, write_csv(store.folder, rows), "customers"))
        assert (report.imported, report.problems) == (len(rows), [])
        stored = store.customers()
        assert set(stored) == {row["customer_id"] for row in rows}
        for row in rows:
            customer = stored[row["customer_id"]]
            assert customer.name == (row["name"].strip() or None)
            assert customer.email == (row["email"] or None)
            assert customer.locale == (row["locale"] or None)
            assert customer.timezone == (row["timezone"] or None)
            assert str(customer.birthday or "") == row["birthday"]
            assert customer.tier == (row["tier"] or None)

    check()


@pytest.mark.timeout(300)
def test_invalid_rows_are_named_and_nothing_is_written(store: Store) -> None:
    @BOUNDED
    @given(file=customer_files(broken=True))
    def check(file: tuple[list[dict[str, str]], set[int]]) -> None:
        rows, bad_lines = file
        store.empty()
        path = write_csv(store.folder, rows)
        with pytest.raises(ImportRejected) as rejected:
            store.run(import_file(store.db, path, "customers"))
        problems = rejected.value.problems
        assert {problem.row for problem in problems} == bad_lines
        for problem in problems:
            assert str(problem).startswith(f"{path}:{problem.row}: {problem.field}: ")
            assert problem.message
        assert store.count(Customer) == 0

    check()


@pytest.mark.timeout(300)
def test_any_text_imports_or_is_rejected_with_named_rows(store: Store) -> None:
    # Known customers, so orders and complaints can also be valid.
    store.empty()
    store.run(import_file(store.db, write_csv(store.folder, [_customer("c1")]), "customers"))

    @BOUNDED
    @given(
        kind=st.sampled_from(get_args(ImportKind)),
        header=st.sampled_from(
            [
                "customer_id,name,email,locale,timezone,birthday,tier",
                "order_id,customer_id,ordered_at,amount,items",
                "complaint_id,customer_id,opened_at,severity,status,resolved_at",
            ]
        )
        | CELL,
        body=st.lists(
            st.lists(st.sampled_from(["c1", "o1", "k1", "12.50", "2026-01-02", ""]) | CELL),
            max_size=6,
        ),
    )
    def check(kind: ImportKind, header: str, body: list[list[str]]) -> None:
        buffer = io.StringIO()
        buffer.write(header + "\n")
        csv.writer(buffer).writerows(body)
        path = store.folder / f"{kind}.csv"
        path.write_text(buffer.getvalue(), encoding="utf-8")
        before = (store.count(Customer), store.count(Order), store.count(Complaint))
        try:
            store.run(import_file(store.db, path, kind))
        except ImportRejected as error:
            rejected = error
        else:
            return
        assert rejected.problems
        for problem in rejected.problems:
            assert str(problem).startswith(f"{path}:{problem.row}: ")
        assert (store.count(Customer), store.count(Order), store.count(Complaint)) == before

    check()


def _customer(customer_id: str) -> dict[str, str]:
    return dict.fromkeys(COLUMNS, "") | {"customer_id": customer_id}

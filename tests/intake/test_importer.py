"""`careflow import`: whole-file validation, all-or-nothing writes, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from careflow.cli import app
from careflow.intake.importer import ImportRejected, import_file
from careflow.store import Customer, Database, Order

HEADER = (
    "customer_id,name,email,phone,locale,timezone,birthday,birthday_calendar,"
    "tier,account_manager,created_at\n"
)
CUSTOMERS = (
    HEADER
    + """c1,李伟,li.wei@example.com,,zh-CN,Asia/Shanghai,1985-08-15,lunar,vip,,2024-01-02
c2,Emma Clarke,emma@example.com,+44 1,en,Europe/London,,,,,
"""
)


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


async def count(db: Database, model: type[Customer] | type[Order]) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_customers_import_once_and_reimport_changes_nothing(
    db: Database, tmp_path: Path
) -> None:
    path = write(tmp_path, "customers.csv", CUSTOMERS)
    first = await import_file(db, path, "customers")
    second = await import_file(db, path, "customers")
    assert (first.imported, second.imported, second.already_present) == (2, 0, 2)
    async with db.session() as session:
        li = await session.scalar(select(Customer).where(Customer.external_id == "c1"))
    assert li is not None
    assert (li.name, li.birthday_calendar, li.tier) == ("李伟", "lunar", "vip")
    # A date alone means midnight in the customer's own time zone (UTC+8).
    assert li.created_at == datetime(2024, 1, 1, 16, 0, tzinfo=UTC)


async def test_one_bad_row_names_file_row_field_and_imports_nothing(
    db: Database, tmp_path: Path
) -> None:
    bad = CUSTOMERS + "c3,Bad Row,not-an-email,,en,Mars/Olympus,,,,,\n"
    path = write(tmp_path, "customers.csv", bad)
    with pytest.raises(ImportRejected) as rejected:
        await import_file(db, path, "customers")
    messages = [str(problem) for problem in rejected.value.problems]
    assert f"{path}:4: email:" in messages[0]
    assert any(f"{path}:4: timezone:" in m and "Asia/Shanghai" in m for m in messages)
    assert await count(db, Customer) == 0


async def test_skip_invalid_imports_the_good_rows(db: Database, tmp_path: Path) -> None:
    await import_file(db, write(tmp_path, "customers.csv", CUSTOMERS), "customers")
    orders = write(
        tmp_path,
        "orders.csv",
        "order_id,customer_id,ordered_at,amount,items\n"
        "o1,c1,2026-01-05T10:00:00+08:00,99.50,2\n"
        "o2,nobody,2026-01-06,10,1\n"
        "o3,c2,2026-01-07,-5,1\n"
        "o4,c2,2026-01-08,12.00,\n",
    )
    with pytest.raises(ImportRejected) as rejected:
        await import_file(db, orders, "orders")
    assert [(p.row, p.field) for p in rejected.value.problems] == [
        (3, "customer_id"),
        (4, "amount"),
    ]
    report = await import_file(db, orders, "orders", skip_invalid=True)
    assert (report.imported, report.skipped_invalid) == (2, 2)
    async with db.session() as session:
        amounts = sorted(await session.scalars(select(Order.amount)))
    assert amounts == [Decimal("12.00"), Decimal("99.50")]


async def test_json_lines_and_duplicate_ids_in_one_file(db: Database, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "customers.jsonl",
        '{"customer_id": "j1", "email": "j1@example.com"}\n'
        "not json\n"
        '{"customer_id": "j1", "email": "again@example.com"}\n',
    )
    with pytest.raises(ImportRejected) as rejected:
        await import_file(db, path, "customers")
    assert [(p.row, p.field) for p in rejected.value.problems] == [
        (2, "(row)"),
        (3, "customer_id"),
    ]


def test_cli_reports_bad_row_and_exits_nonzero(tmp_path: Path) -> None:
    path = write(tmp_path, "customers.csv", CUSTOMERS + "c9,,x@y,,english,,,,,,\n")
    result = CliRunner().invoke(
        app,
        ["import", "customers", str(path)],
        env={"CAREFLOW_HOME": str(tmp_path / "var"), "CAREFLOW_DATABASE_URL": ""},
    )
    assert result.exit_code == 1
    assert f"{path}:4: email:" in result.output
    assert f"{path}:4: locale:" in result.output
    assert "nothing imported" in result.output
    ok = CliRunner().invoke(
        app,
        ["import", "customers", str(write(tmp_path, "good.csv", CUSTOMERS))],
        env={"CAREFLOW_HOME": str(tmp_path / "var"), "CAREFLOW_DATABASE_URL": ""},
    )
    assert ok.exit_code == 0, ok.output
    assert "2 new" in ok.output

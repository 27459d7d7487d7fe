"""The batched import path: the same rows as the row-by-row path, idempotent, on SQLite
and PostgreSQL; and the survey answers format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from careflow.intake import apply
from careflow.intake.importer import (
    BATCH,
    CustomerRow,
    ImportRejected,
    OrderRow,
    import_file,
    validate_file,
)
from careflow.store import Customer, Database, Order, SurveyResponse

CDNOW = Path(__file__).resolve().parents[1] / "facts" / "data"


def _rows(model: type[Customer] | type[Order], row: object) -> tuple[object, ...]:
    if model is Customer:
        assert isinstance(row, Customer)
        return (
            row.external_id,
            row.locale,
            row.timezone,
            row.birthday_calendar,
            row.created_at,
            row.email,
        )
    assert isinstance(row, Order)
    return (row.external_id, row.ordered_at, row.amount, row.items)


async def _stored(db: Database) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    async with db.session() as session:
        customers = [
            _rows(Customer, c)
            for c in await session.scalars(select(Customer).order_by(Customer.external_id))
        ]
        orders = [
            _rows(Order, o)
            for o in await session.scalars(select(Order).order_by(Order.external_id))
        ]
    return customers, orders


async def test_batched_rows_equal_row_by_row_rows_and_reimport_adds_nothing(
    db: Database, tmp_path: Path
) -> None:
    customers = await import_file(db, CDNOW / "cdnow_customers.csv", "customers")
    orders = await import_file(db, CDNOW / "cdnow_orders.csv", "orders")
    assert (customers.imported, orders.imported) == (400, 1198)
    assert orders.imported > BATCH, "more rows than one INSERT batch"
    batched = await _stored(db)

    # The same files through the per-row functions events use, into a second store.
    from careflow.store import create_database

    other = create_database(f"sqlite+aiosqlite:///{tmp_path / 'row-by-row.db'}")
    await other.migrate()
    try:
        now = datetime.now(UTC)
        valid, _ = validate_file(CDNOW / "cdnow_customers.csv", "customers", set())
        ids = {row.customer_id for _, row in valid if isinstance(row, CustomerRow)}
        order_rows, _ = validate_file(CDNOW / "cdnow_orders.csv", "orders", ids)
        async with other.session() as session:
            for _, row in valid:
                assert isinstance(row, CustomerRow)
                await apply.upsert_customer(session, row.customer_id, row, now)
            for _, row in order_rows:
                assert isinstance(row, OrderRow)
                customer = await apply.find_customer(session, row.customer_id)
                assert customer is not None
                await apply.add_order(session, customer, row, now)
        assert await _stored(other) == batched
    finally:
        await other.dispose()

    again = await import_file(db, CDNOW / "cdnow_orders.csv", "orders")
    assert (again.imported, again.already_present) == (0, 1198)
    assert await _stored(db) == batched


SURVEYS = """customer_id,answered_at,score,complaint_id,workflow_id,comment
cdnow-00004,1997-10-02T09:30:00Z,5,,satisfaction_survey-cdnow-00004,Quick delivery
cdnow-00021,1997-10-03,2,,,Late again
"""


async def test_survey_answers_import_once(db: Database, tmp_path: Path) -> None:
    await import_file(db, CDNOW / "cdnow_customers.csv", "customers")
    path = tmp_path / "surveys.csv"
    path.write_text(SURVEYS, encoding="utf-8")
    first = await import_file(db, path, "surveys")
    second = await import_file(db, path, "surveys")
    assert (first.imported, second.imported, second.already_present) == (2, 0, 2)
    async with db.session() as session:
        answers = (
            await session.execute(
                select(Customer.external_id, SurveyResponse.score, SurveyResponse.answered_at)
                .join(Customer, Customer.id == SurveyResponse.customer_id)
                .order_by(SurveyResponse.answered_at)
            )
        ).all()
    assert answers == [
        ("cdnow-00004", 5, datetime(1997, 10, 2, 9, 30, tzinfo=UTC)),
        ("cdnow-00021", 2, datetime(1997, 10, 3, tzinfo=UTC)),  # a date: midnight, their zone
    ]


async def test_survey_rows_are_validated_whole_with_file_and_row(
    db: Database, tmp_path: Path
) -> None:
    await import_file(db, CDNOW / "cdnow_customers.csv", "customers")
    path = tmp_path / "surveys.csv"
    path.write_text(
        "customer_id,answered_at,score\n"
        "cdnow-00004,1997-10-02,6\n"
        "cdnow-00004,,3\n"
        "nobody,1997-10-02,3\n"
        "cdnow-00021,1997-10-02,4\n"
        "cdnow-00021,1997-10-02,4\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as rejected:
        await import_file(db, path, "surveys")
    problems = [(p.row, p.field) for p in rejected.value.problems]
    assert (2, "score") in problems
    assert (3, "answered_at") in problems
    assert (4, "customer_id") in problems
    assert (6, "answered_at") in problems  # the same answer twice
    async with db.session() as session:
        assert list(await session.scalars(select(SurveyResponse.id))) == []

"""JSON Lines imports refuse what the HTTP API refuses: NaN, Infinity, overflowing numbers,
lone surrogates, booleans as numbers and blank ids, each as `FILE:ROW: field: problem`,
and nothing of the file is imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from careflow.intake.importer import ImportRejected, import_file
from careflow.store import Database, Order

ROWS = [
    ('{"order_id": "o1", "customer_id": "c1", "amount": NaN}', "amount: must be a finite"),
    ('{"order_id": "o2", "customer_id": "c1", "amount": -Infinity}', "amount: must be a finite"),
    ('{"order_id": "o3", "customer_id": "c1", "amount": 1e999}', "amount: must be a finite"),
    ('{"order_id": "o4", "customer_id": "c1", "amount": true}', "amount: expected a number, not"),
    (
        '{"order_id": "o5\\udc00", "customer_id": "c1", "amount": 1}',
        "order_id: must be valid Unicode",
    ),
    ('{"order_id": " ", "customer_id": "c1", "amount": 1}', "order_id: must not be blank"),
    ('{"order_id": "o7", "customer_id": "\\t", "amount": 1}', "customer_id: must not be blank"),
]


async def test_unusable_values_are_named_by_row_and_field(db: Database, tmp_path: Path) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,name\nc1,Mei\n", encoding="utf-8")
    await import_file(db, customers, "customers")
    orders = tmp_path / "orders.jsonl"
    orders.write_text("\n".join(row for row, _ in ROWS) + "\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as rejected:
        await import_file(db, orders, "orders")
    problems = [str(problem) for problem in rejected.value.problems]
    assert len(problems) == len(ROWS)
    for number, ((_, expected), problem) in enumerate(zip(ROWS, problems, strict=True), start=1):
        assert problem.startswith(f"{orders}:{number}: {expected}"), problem
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 0

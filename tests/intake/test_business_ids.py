"""No customer's business ids can touch another's: a complaint or order id already
used by one customer, posted or imported for another, is refused with the field
named, never silently dropped or applied to the first customer's record; every
customer id intake accepts can be read back through the API and the console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.intake.importer import ImportRejected, import_file
from careflow.store import Complaint, Customer, Database, Event, Order

NOW = "2026-11-23T09:30:00+08:00"


@pytest.fixture
async def api(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow") as client:
        yield client


def _event(kind: str, customer: str, data: dict[str, object], event_id: str) -> dict[str, object]:
    return {
        "type": kind,
        "customer_id": customer,
        "occurred_at": NOW,
        "data": data,
        "event_id": event_id,
    }


async def _count(db: Database, model: type) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_complaint_id_of_another_customer_is_refused_with_409(
    api: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    run = settings.task_queue  # event workflow ids outlive a test on the server
    first = _event("complaint_opened", "c-a", {"complaint_id": "k-1"}, f"a-{run}")
    assert (await api.post("/events", json=first)).status_code == 202
    events_before = await _count(db, Event)

    reuse = _event("complaint_opened", "c-b", {"complaint_id": "k-1"}, f"b-{run}")
    refused = await api.post("/events", json=reuse)
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"][0]
    assert detail["loc"] == ["body", "data", "complaint_id"]
    assert "belongs to another customer" in detail["msg"]
    # Nothing of the refused event was written: no event row, no customer, no complaint.
    assert await _count(db, Event) == events_before
    async with db.session() as session:
        assert (
            await session.scalar(select(Customer.id).where(Customer.external_id == "c-b")) is None
        )
        owners = list(await session.scalars(select(Complaint.customer_id)))
    assert len(owners) == 1

    resolve = _event("complaint_resolved", "c-b", {"complaint_id": "k-1"}, f"r-{run}")
    refused = await api.post("/events", json=resolve)
    assert refused.status_code == 409
    assert refused.json()["detail"][0]["loc"] == ["body", "data", "complaint_id"]
    async with db.session() as session:
        statuses = list(await session.scalars(select(Complaint.status)))
    assert statuses == ["open"]

    order = _event("order_placed", "c-a", {"order_id": "o-1", "amount": "10"}, f"c-{run}")
    assert (await api.post("/events", json=order)).status_code == 202
    stolen = _event("order_placed", "c-b", {"order_id": "o-1", "amount": "99"}, f"d-{run}")
    refused = await api.post("/events", json=stolen)
    assert refused.status_code == 409
    assert refused.json()["detail"][0]["loc"] == ["body", "data", "order_id"]
    assert await _count(db, Order) == 1


async def test_a_csv_row_never_resolves_another_customers_complaint(
    api: httpx.AsyncClient, db: Database, settings: Settings, tmp_path: Path
) -> None:
    run = settings.task_queue
    opened = _event("complaint_opened", "c-a", {"complaint_id": "k-7"}, f"o-{run}")
    assert (await api.post("/events", json=opened)).status_code == 202
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,name\nc-b,Bea\n", encoding="utf-8")
    await import_file(db, customers, "customers")
    complaints = tmp_path / "complaints.csv"
    complaints.write_text(
        "complaint_id,customer_id,status\nk-7,c-b,resolved\nk-8,c-b,open\n", encoding="utf-8"
    )

    with pytest.raises(ImportRejected) as rejected:
        await import_file(db, complaints, "complaints")
    assert [str(problem) for problem in rejected.value.problems] == [
        f"{complaints}:2: complaint_id: 'k-7' belongs to another customer; complaint_id "
        "must be unique across customers"
    ]
    report = await import_file(db, complaints, "complaints", skip_invalid=True)
    assert (report.imported, report.skipped_invalid) == (1, 1)
    async with db.session() as session:
        k7 = await session.scalar(select(Complaint).where(Complaint.external_id == "k-7"))
    assert k7 is not None
    assert k7.status == "open", "c-b's row changed c-a's complaint"


@pytest.mark.parametrize(
    "customer_id", ["名字 with space", "a?b#c", "100%", "x&y=z", "tab\there", "é-ü.:@"]
)
async def test_every_customer_id_intake_accepts_reads_back(
    api: httpx.AsyncClient, settings: Settings, customer_id: str
) -> None:
    upsert = _event("customer_upserted", customer_id, {"name": "N"}, f"u-{settings.task_queue}")
    assert (await api.post("/events", json=upsert)).status_code == 202
    path = f"/customers/{quote(customer_id, safe='')}"
    read = await api.get(path)
    assert read.status_code == 200, read.text
    assert read.json()["customer_id"] == customer_id
    timeline = await api.get(f"{path}/timeline")
    assert timeline.status_code == 200
    assert timeline.json()[0]["details"]["event_id"] == f"u-{settings.task_queue}"


@pytest.mark.parametrize("customer_id", ["a/b", "/", ".", ".."])
async def test_customer_ids_that_cannot_be_read_back_are_refused_at_intake(
    api: httpx.AsyncClient, db: Database, customer_id: str, tmp_path: Path
) -> None:
    refused = await api.post(
        "/events", json=_event("customer_upserted", customer_id, {}, "never-stored")
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "customer_id"]
    rows = tmp_path / "customers.csv"
    rows.write_text(f"customer_id,name\n{customer_id},N\n", encoding="utf-8")
    with pytest.raises(ImportRejected) as rejected:
        await import_file(db, rows, "customers")
    assert [problem.field for problem in rejected.value.problems] == ["customer_id"]
    assert await _count(db, Customer) == 0


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("customer_id", {"customer_id": "名" * 15}),
        ("event_id", {"event_id": "名" * 67}),
        ("complaint_id", {"type": "complaint_opened", "data": {"complaint_id": "é" * 22}}),
    ],
)
async def test_ids_too_long_for_a_workflow_id_once_escaped_are_refused(
    api: httpx.AsyncClient, db: Database, field: str, body: dict[str, object]
) -> None:
    event = {**_event("customer_upserted", "c-1", {}, "e-long"), **body}
    refused = await api.post("/events", json=event)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["loc"][-1] == field
    assert "too long" in refused.json()["detail"][0]["msg"]
    assert await _count(db, Event) == 0
    # At the bound they are taken, and their journeys' ids fit the store's columns.
    fitting = {**event, "customer_id": "名" * 14, "event_id": "名" * 66}
    if field == "complaint_id":
        fitting["data"] = {"complaint_id": "é" * 21}
    assert (await api.post("/events", json=fitting)).status_code == 202

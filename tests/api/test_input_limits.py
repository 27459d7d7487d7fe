"""Inputs that used to reach a 500 or unbounded work: each is now a 4xx naming what is wrong.

Bodies past `CAREFLOW_MAX_BODY_BYTES` get 413 before they are read to the end (with or
without a Content-Length); `NaN`, `Infinity`, numbers that overflow a float and lone
surrogates get 422 naming the field; a boolean is not a number and a blank id is not
an id; a KPI period outside the calendar is a 422 naming the parameter; nothing of a
refused request is stored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.store import Database, Event

NOW = "2026-11-23T09:30:00+08:00"


@pytest.fixture
async def api(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key))
    # raise_app_exceptions: a server error fails the test with its traceback.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow") as client:
        yield client


async def _stored_events(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Event)) or 0)


def _event(kind: str, data: str, *, customer: str = '"c1"', extra: str = "") -> bytes:
    """A raw JSON body (so non-standard JSON such as NaN can be written)."""
    return (
        f'{{"type": "{kind}", "customer_id": {customer}, "occurred_at": "{NOW}", '
        f'"data": {data}{extra}}}'
    ).encode()


async def test_a_body_over_the_limit_is_413_whether_declared_or_streamed(
    api: httpx.AsyncClient, db: Database
) -> None:
    # Declared: refused on the Content-Length alone.
    declared = await api.post(
        "/events", content=b" " * (1024 * 1024 + 1), headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413
    assert "1048576 bytes" in declared.json()["detail"]

    # Streamed without a length (chunked): refused once the bytes read pass the limit,
    # so the rest of a 50 MB body is never read.
    chunks_read = 0

    async def fifty_megabytes() -> AsyncIterator[bytes]:
        nonlocal chunks_read
        for _ in range(800):
            chunks_read += 1
            yield b" " * 65536

    streamed = await api.post(
        "/events", content=fifty_megabytes(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert chunks_read < 800
    assert await _stored_events(db) == 0


async def test_the_limit_is_configurable_and_a_body_under_it_is_read(
    db: Database,
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CAREFLOW_MAX_BODY_BYTES", "2048")
    app = create_app(ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow") as client:
        padded = _event("customer_upserted", '{"name": "%s"}' % ("x" * 3000))
        assert (await client.post("/events", content=padded)).status_code == 413
        fits = _event("customer_upserted", '{"name": "Mei"}', extra=', "event_id": "e-fits"')
        response = await client.post(
            "/events", content=fits, headers={"content-type": "application/json"}
        )
    assert response.status_code == 202, response.text
    assert await _stored_events(db) == 1


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (_event("survey_answered", '{"score": NaN}'), ["body", "data", "score"]),
        (_event("survey_answered", '{"score": -Infinity}'), ["body", "data", "score"]),
        (
            _event("order_placed", '{"order_id": "o1", "amount": Infinity}'),
            ["body", "data", "amount"],
        ),
        (_event("order_placed", '{"order_id": "o1", "amount": 1e400}'), ["body", "data", "amount"]),
        (_event("customer_upserted", "{}", customer='"c\\ud800"'), ["body", "customer_id"]),
        (_event("customer_upserted", '{"name": "Mei\\udc00"}'), ["body", "data", "name"]),
        (_event("customer_upserted", '{"\\ud83d": "x"}'), ["body", "data", "?"]),
    ],
)
async def test_non_finite_numbers_and_lone_surrogates_are_422_naming_the_field(
    api: httpx.AsyncClient, db: Database, body: bytes, where: list[str]
) -> None:
    response = await api.post("/events", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == where
    assert await _stored_events(db) == 0


@pytest.mark.parametrize(
    ("kind", "data", "field", "expected"),
    [
        ("survey_answered", '{"score": true}', "score", "not true or false"),
        ("order_placed", '{"order_id": "o1", "amount": true}', "amount", "not true or false"),
        ("consent_changed", '{"topic": "care", "granted": 1}', "granted", "boolean"),
        ("order_placed", '{"order_id": "  ", "amount": 3}', "order_id", "blank"),
        ("complaint_opened", '{"complaint_id": " \\t"}', "complaint_id", "blank"),
        ("complaint_resolved", '{"complaint_id": ""}', "complaint_id", "blank"),
    ],
)
async def test_strict_types_in_event_data(
    api: httpx.AsyncClient, db: Database, kind: str, data: str, field: str, expected: str
) -> None:
    response = await api.post(
        "/events", content=_event(kind, data), headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["body", "data", field]
    assert expected in detail["msg"]
    assert await _stored_events(db) == 0


@pytest.mark.parametrize(
    ("field", "value"), [("customer_id", "   "), ("customer_id", ""), ("event_id", " ")]
)
async def test_blank_ids_are_refused(
    api: httpx.AsyncClient, db: Database, field: str, value: str
) -> None:
    body = {"type": "customer_upserted", "customer_id": "c1", "occurred_at": NOW, field: value}
    response = await api.post("/events", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert "blank" in response.json()["detail"][0]["msg"]
    assert await _stored_events(db) == 0


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("since=0001-01-01T00:00:00%2B01:00", "since"),
        ("until=0001-01-01", "until"),
        ("until=0001-01-01T00:30:00%2B01:00", "until"),
        ("since=9999-12-31T23:59:59-01:00", "since"),
        ("since=2026-01-01&until=9999-12-31T23:59:59-01:00", "until"),
    ],
)
async def test_kpi_periods_off_the_calendar_are_422_naming_the_parameter(
    api: httpx.AsyncClient, query: str, parameter: str
) -> None:
    response = await api.get(f"/kpis?{query}")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", parameter]


async def test_a_refused_value_is_quoted_back_only_in_part(api: httpx.AsyncClient) -> None:
    long_id = "c" * 100_000
    body = {"type": "customer_upserted", "customer_id": long_id, "occurred_at": NOW}
    response = await api.post("/events", json=body)
    assert response.status_code == 422
    (detail,) = response.json()["detail"]
    assert detail["loc"] == ["body", "customer_id"]
    assert detail["input"].startswith("ccc")
    assert len(response.content) < 2000

"""The HTTP API fuzzed from its own OpenAPI document: no server errors, no stored garbage.

schemathesis turns `/openapi.json` into requests for every operation, both ones
the schema allows and ones it forbids (wrong types, missing fields, unknown
event types, odd tokens). Raw JSON bodies with NaN, Infinity or a lone surrogate
in one field are mixed in (query parameters and console forms are fuzzed in
test_query_and_forms.py). The document cannot say what `data` holds for each
event type, so generated events whose `data` is nearly right (right fields, odd
values, customers and complaints that collide) are mixed in: they are what reach
the store. Each request goes through the ASGI app with the real store and the
Temporal test server; any 5xx fails the test with the request that caused it.
Afterwards the store must hold exactly the events the API said it accepted, each
with its effect, and nothing from a rejected request.

The run is bounded (a fixed number of examples, no deadline) so it fits CI.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.store import Complaint, Customer, Database, Event, Order

EXAMPLES = 150
# Every operation, with data the schema allows and data it forbids.
SCHEMA = schemathesis.openapi.from_dict(
    create_app(ApiState(None, None, "unused", "unused")).openapi()  # type: ignore[arg-type]
)
Request = dict[str, Any]


def request_of(case: schemathesis.Case[Any]) -> Request:
    """httpx keywords for a generated case (schemathesis speaks requests)."""
    request: Request = case.as_transport_kwargs(base_url="http://careflow")
    request.pop("cookies", None)
    for key in ("data", "json", "files", "params", "headers"):
        if request.get(key) is None:
            request.pop(key, None)
    if isinstance(request.get("data"), str | bytes):
        request["content"] = request.pop("data")
    return request


# Nearly right event data: the fields each type takes, with values right or wrong.
TEXT = st.text(max_size=30)
SOME_CUSTOMER = st.sampled_from(["c1", "c2", "c3"]) | st.text(min_size=1, max_size=20)
SOME_COMPLAINT = st.sampled_from(["k1", "k2"]) | TEXT
ZONES = st.sampled_from([UTC, ZoneInfo("Asia/Shanghai")])
SOME_TIME = (
    # Times an integration would send, and any time at all: only about one in fifty of
    # the second kind falls in the years intake accepts, and the no-garbage check needs
    # events that were accepted.
    # (hypothesis takes naive bounds; the zone comes from `timezones`)
    st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=ZONES).map(  # noqa: DTZ001
        datetime.isoformat
    )
    | st.datetimes(timezones=ZONES).map(datetime.isoformat)
    | st.dates().map(date.isoformat)
    | TEXT
)
# Accepted whatever else is generated, so the no-garbage check always has events to see.
A_VALID_EVENT: Request = {
    "method": "POST",
    "url": "http://careflow/events",
    "json": {
        "type": "customer_upserted",
        "customer_id": "c1",
        "occurred_at": "2026-11-23T10:00:00+08:00",
        "data": {"name": "Mei", "email": "mei@example.com"},
    },
}
NUMBER = st.integers(-10, 10**6) | st.floats(allow_nan=False, allow_infinity=False) | TEXT
EVENT_DATA: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "customer_upserted": st.fixed_dictionaries(
        {},
        optional={
            "name": TEXT,
            "email": st.emails() | TEXT,
            "locale": st.sampled_from(["en", "zh-CN"]) | TEXT,
            "timezone": st.sampled_from(["UTC", "Asia/Shanghai"]) | TEXT,
            "birthday": SOME_TIME,
            "birthday_calendar": st.sampled_from(["solar", "lunar"]) | TEXT,
            "tier": st.sampled_from(["vip", "regular"]) | TEXT,
            "created_at": SOME_TIME,
        },
    ),
    "order_placed": st.fixed_dictionaries(
        {"order_id": st.sampled_from(["o1", "o2"]) | TEXT, "amount": NUMBER},
        optional={"items": TEXT, "ordered_at": SOME_TIME},
    ),
    "complaint_opened": st.fixed_dictionaries(
        {"complaint_id": SOME_COMPLAINT},
        optional={
            "severity": st.sampled_from(["low", "critical"]) | TEXT,
            "subject": TEXT,
            "status": st.sampled_from(["open", "resolved"]) | TEXT,
            "opened_at": SOME_TIME,
            "resolved_at": SOME_TIME,
        },
    ),
    "complaint_resolved": st.fixed_dictionaries(
        {"complaint_id": SOME_COMPLAINT}, optional={"resolved_at": SOME_TIME}
    ),
    "survey_answered": st.fixed_dictionaries(
        {"score": NUMBER}, optional={"complaint_id": SOME_COMPLAINT, "comment": TEXT}
    ),
    "consent_changed": st.fixed_dictionaries(
        {
            "topic": st.sampled_from(["marketing", "care"]) | TEXT,
            "granted": st.booleans() | TEXT,
        },
        optional={"channel": st.sampled_from(["email", "sms"]) | TEXT},
    ),
}
EVENTS = st.sampled_from(sorted(EVENT_DATA)).flatmap(
    lambda kind: st.fixed_dictionaries(
        {
            "type": st.just(kind),
            "customer_id": SOME_CUSTOMER,
            "occurred_at": SOME_TIME,
            "data": EVENT_DATA[kind],
        },
        optional={"event_id": st.text(min_size=1, max_size=12)},
    )
)
# Values JSON can carry but careflow cannot store or echo: NaN, Infinity, lone surrogates.
UNUSABLE = st.sampled_from([math.nan, math.inf, -math.inf]) | st.characters(categories=["Cs"]).map(
    lambda surrogate: f"x{surrogate}"
)


def with_unusable_value(body: dict[str, Any], value: object, where: str) -> Request:
    """The event as raw JSON with one field (or a new `data` field) set to `value`."""
    spoiled = {**body, "data": {**body["data"]}}
    if where in ("customer_id", "event_id"):
        spoiled[where] = value
    else:
        spoiled["data"][where] = value
    return {
        "method": "POST",
        "url": "http://careflow/events",
        # json.dumps writes NaN and Infinity, and escapes a lone surrogate as \udXXX.
        "content": json.dumps(spoiled).encode(),
        "headers": {"content-type": "application/json"},
    }


UNUSABLE_EVENTS = st.builds(
    with_unusable_value,
    EVENTS,
    UNUSABLE,
    st.sampled_from(["customer_id", "event_id", "score", "amount", "name", "complaint_id"]),
)
REQUESTS = st.one_of(
    SCHEMA.as_strategy(GenerationMode.POSITIVE).map(request_of),
    SCHEMA.as_strategy(GenerationMode.NEGATIVE).map(request_of),
    EVENTS.map(lambda body: {"method": "POST", "url": "http://careflow/events", "json": body}),
    UNUSABLE_EVENTS,
)


@pytest.fixture
async def api(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow") as client:
        yield client


class Calls:
    """Sends requests through the app on the session loop; remembers what was accepted."""

    def __init__(self, api: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.api = api
        self.loop = loop
        self.accepted: set[str] = set()

    def send(self, request: Request) -> httpx.Response:
        response = self.loop.run_until_complete(self.api.request(**request))
        if request["url"].endswith("/events") and response.status_code == 202:
            self.accepted.add(response.json()["event_id"])
        return response


@pytest.fixture
def calls(api: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> Calls:
    return Calls(api, loop)


@pytest.mark.timeout(300)
def test_no_server_error_and_no_garbage(
    calls: Calls, db: Database, loop: asyncio.AbstractEventLoop
) -> None:
    # The same store serves every example on purpose: garbage would pile up in it.
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )
    @given(request=REQUESTS)
    @example(request=A_VALID_EVENT)
    def fuzz(request: Request) -> None:
        response = calls.send(request)
        assert response.status_code < 500, f"{request!r} -> {response.status_code}"

    fuzz()
    # Some events must have reached the store, or the check below proves nothing.
    assert calls.accepted
    loop.run_until_complete(_assert_no_garbage(db, calls.accepted))


async def _assert_no_garbage(db: Database, accepted: set[str]) -> None:
    """Exactly the accepted events are stored, each with its customer and its effect."""
    async with db.session() as session:
        events = list(await session.scalars(select(Event)))
        customers = set(await session.scalars(select(Customer.external_id)))
        complaints = set(await session.scalars(select(Complaint.external_id)))
        orders = set(await session.scalars(select(Order.external_id)))
    assert {event.event_id for event in events} == accepted
    for event in events:
        assert event.customer_external_id in customers, event.event_id
        if event.type == "complaint_opened":
            assert event.data["complaint_id"] in complaints, event.event_id
        if event.type == "order_placed":
            assert event.data["order_id"] in orders, event.event_id

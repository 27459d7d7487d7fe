"""The outbox: events fanned out into deliveries, deliveries claimed and finished.

Each step is one short transaction that decides with a conditional UPDATE, so any
number of workers can run the delivery loop against one store:

- `fan_out` claims unfanned events (`fanned_out_at` set where it was still empty)
  and writes one `webhook_deliveries` row per subscribed endpoint and per robot of
  the task's team, with the body it will always be sent with. The delivery id is
  derived from the event's key and the endpoint's name: one event never reaches one
  endpoint under two ids.
- `claim_due` takes deliveries whose time has come, for a lease: another worker
  sees the claim and leaves the row alone until the lease runs out (a worker killed
  mid-send leaves a claim that expires, and the delivery is tried again under the
  same id: at most one repeat per kill, which the receiver can tell by the id).
- `finish_attempts` records a round's attempts (one transaction for the round):
  each delivered, or its error and the next attempt's time (backing off), counting
  the endpoint's failures in a row; after `pause_after_failures` of them the
  endpoint is paused until an operator resumes it (`careflow webhooks resume NAME`,
  or the console), its deliveries kept waiting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from careflow.store import (
    Customer,
    Database,
    JourneyRecord,
    OutboundEvent,
    OutreachLedger,
    Task,
    WebhookDelivery,
    WebhookEndpointState,
)
from careflow.webhooks.config import CAPTURE, StaffAlertsConfig, WebhooksConfig
from careflow.webhooks.events import (
    CONSENT_CHANGED,
    JOURNEY_ENDED,
    JOURNEY_STARTED,
    MESSAGE_FAILED,
    MESSAGE_SENT,
    RULE_FIRED,
    TASK_CREATED,
)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
WEBHOOK = "webhook"
# How long a claimed delivery is left to its worker: longer than one HTTP attempt.
LEASE = timedelta(seconds=60)
# After the 1st, 2nd, ... failed attempt, wait this long; the last one repeats.
BACKOFF = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
)
_BATCH = 100


def backoff(attempts: int) -> timedelta:
    """The wait after `attempts` failed attempts."""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


def delivery_id(event_key: str, endpoint: str) -> str:
    """The Standard Webhooks `webhook-id` of one event for one endpoint: `msg_` + 32 hex."""
    digest = hashlib.sha256(f"{event_key}\x00{endpoint}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


@dataclass(frozen=True)
class Due:
    """A claimed delivery, with what its attempt needs."""

    id: int
    delivery_id: str
    endpoint: str
    kind: str
    body: str
    attempts: int


async def fan_out(
    db: Database,
    webhooks: WebhooksConfig,
    staff: StaffAlertsConfig,
    now: datetime,
    *,
    capture: bool = False,
) -> int:
    """Turn unfanned events into deliveries; the number of deliveries written.

    Without `capture` (a worker outside `careflow up`), endpoints and robots written
    `url: capture` get nothing: there is no capture endpoint to take them.
    """
    async with db.session() as session:
        events = list(
            await session.scalars(
                select(OutboundEvent)
                .where(OutboundEvent.fanned_out_at.is_(None))
                .order_by(OutboundEvent.id)
                .limit(_BATCH)
            )
        )
        if not events:
            return 0
        # Claimed in one statement; an event another worker fanned out meanwhile is
        # not returned, and left to it.
        claimed = set(
            await session.scalars(
                update(OutboundEvent)
                .where(
                    OutboundEvent.id.in_([event.id for event in events]),
                    OutboundEvent.fanned_out_at.is_(None),
                )
                .values(fanned_out_at=now)
                .returning(OutboundEvent.id)
                .execution_options(synchronize_session=False)
            )
        )
        events = [event for event in events if event.id in claimed]
        # What the payloads refer to, for the whole batch in a few queries.
        referenced = await _read_references(session, events)
        deliveries = [
            {
                "delivery_id": delivery_id(event.event_key, endpoint),
                "endpoint": endpoint,
                "kind": kind,
                "event_id": event.id,
                "event_type": event.type,
                "body": body,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for event in events
            for endpoint, kind, body in _deliveries_for(
                event, webhooks, staff, referenced, capture=capture
            )
        ]
        if deliveries:
            # One statement for the batch (executemany), not one ORM insert per row.
            await session.execute(insert(WebhookDelivery), deliveries)
    return len(deliveries)


def _deliveries_for(
    event: OutboundEvent,
    webhooks: WebhooksConfig,
    staff: StaffAlertsConfig,
    referenced: References,
    *,
    capture: bool,
) -> list[tuple[str, str, str]]:
    """(endpoint, kind, body) of each delivery the event makes under today's files."""
    endpoints = {
        name: endpoint
        for name, endpoint in webhooks.endpoints.items()
        if capture or endpoint.url != CAPTURE
    }
    if event.type == RULE_FIRED:
        names = [name for name in endpoints if name == event.data.get("endpoint")]
    else:
        names = [name for name, endpoint in endpoints.items() if event.type in endpoint.events]
    deliveries: list[tuple[str, str, str]] = []
    data: dict[str, Any] | None = None
    if names:
        data = event_data(event, referenced)
        body = _json({"type": event.type, "timestamp": event.occurred_at.isoformat(), "data": data})
        deliveries += [(name, WEBHOOK, body) for name in names]
    team = str(event.data.get("team") or "")
    if event.type == TASK_CREATED and team in staff.teams:
        data = data or event_data(event, referenced)
        text = alert_text(data)
        for index, robot in enumerate(staff.teams[team].robots):
            if robot.url == CAPTURE and not capture:
                continue
            deliveries.append(
                (staff.robot_name(team, index), robot.kind, robot_body(robot.kind, text))
            )
    return deliveries


@dataclass(frozen=True)
class References:
    """The rows a batch of events' payloads are made from, as the store has them now
    (an event row holds references, not copies: an erased customer's payload is made
    after the erasure)."""

    customers: dict[int, str]  # external id by primary key
    messages: dict[str, OutreachLedger]  # by idempotency key
    tasks: dict[str, Task]  # by idempotency key
    journeys: dict[str, JourneyRecord]  # by workflow id


async def _read_references(session: AsyncSession, events: Sequence[OutboundEvent]) -> References:
    """Everything `events` refer to, in one query per kind of row: a burst's fan-out
    costs a few statements, not one per event (docs/benchmarks.md, issue 21 item 2,
    tenth round)."""

    def keys(types: tuple[str, ...], field: str) -> set[str]:
        return {
            str(event.data[field])
            for event in events
            if event.type in types and event.data.get(field) is not None
        }

    message_keys = keys((MESSAGE_SENT, MESSAGE_FAILED), "message_key")
    task_keys = keys((TASK_CREATED,), "task_key")
    workflow_ids = keys((JOURNEY_STARTED, JOURNEY_ENDED), "workflow_id")
    messages: dict[str, OutreachLedger] = await _rows_by(
        session, OutreachLedger.idempotency_key, message_keys
    )
    tasks: dict[str, Task] = await _rows_by(session, Task.idempotency_key, task_keys)
    journeys: dict[str, JourneyRecord] = await _rows_by(
        session, JourneyRecord.workflow_id, workflow_ids
    )
    # A message's own customer stands in for an event recorded without one.
    customer_pks = {event.customer_id for event in events} | {
        row.customer_id for row in messages.values()
    }
    return References(await _external_ids(session, customer_pks), messages, tasks, journeys)


async def _rows_by(
    session: AsyncSession, column: InstrumentedAttribute[str], keys: set[str]
) -> dict[str, Any]:
    """The rows of `column`'s table whose `column` is one of `keys`, by that value."""
    if not keys:
        return {}
    rows = await session.scalars(select(column.class_).where(column.in_(keys)))
    return {getattr(row, column.key): row for row in rows}


async def _external_ids(session: AsyncSession, pks: set[int | None]) -> dict[int, str]:
    """The external ids of these customers (by primary key), in one query."""
    wanted = [pk for pk in pks if pk is not None]
    if not wanted:
        return {}
    rows = await session.execute(
        select(Customer.id, Customer.external_id).where(Customer.id.in_(wanted))
    )
    return {pk: external_id for pk, external_id in rows}


def event_data(event: OutboundEvent, referenced: References) -> dict[str, Any]:
    """The payload's `data`, from the rows the event refers to."""
    customer_id = (
        referenced.customers.get(event.customer_id) if event.customer_id is not None else None
    )
    data: dict[str, Any] = {"customer_id": customer_id}
    if event.type in (MESSAGE_SENT, MESSAGE_FAILED):
        row = referenced.messages.get(str(event.data.get("message_key")))
        if row is not None:
            if customer_id is None and row.customer_id is not None:
                customer_id = referenced.customers.get(row.customer_id)
            data.update(
                customer_id=customer_id,
                workflow_id=row.workflow_id,
                step_id=row.step_id,
                template_id=row.template_id,
                channel=row.channel,
                topic=row.topic,
                status=row.status,
                reason=row.reason,
                message_id=row.message_id,
            )
    elif event.type == TASK_CREATED:
        task = referenced.tasks.get(str(event.data.get("task_key")))
        data["team"] = event.data.get("team")
        if task is not None:
            data.update(
                task_id=task.id,
                kind=task.kind,
                title=task.title,
                workflow_id=task.workflow_id,
                due_at=task.due_at.isoformat() if task.due_at else None,
            )
    elif event.type in (JOURNEY_STARTED, JOURNEY_ENDED):
        journey = referenced.journeys.get(str(event.data.get("workflow_id")))
        if journey is not None:
            data.update(
                workflow_id=journey.workflow_id,
                journey=journey.journey,
                rule_id=journey.rule_id,
                status=journey.status,
                outcome=journey.outcome,
                started_at=journey.started_at.isoformat(),
                ended_at=journey.ended_at.isoformat() if journey.ended_at else None,
            )
    else:  # consent.changed, rule.fired: the event carries its facts
        data.update({key: value for key, value in event.data.items() if key != "endpoint"})
    if event.type == CONSENT_CHANGED:
        data.pop("team", None)
    return data


def alert_text(data: dict[str, Any]) -> str:
    """A staff alert's text: the task, its customer and when it is due (no contact details)."""
    lines = [f"careflow: {data.get('title') or data.get('kind') or 'task'}"]
    if data.get("customer_id"):
        lines.append(f"customer / 客户: {data['customer_id']}")
    if data.get("due_at"):
        lines.append(f"due / 截止: {data['due_at']}")
    if data.get("task_id"):
        lines.append(f"task / 任务 #{data['task_id']}")
    return "\n".join(lines)


def robot_body(kind: str, text: str) -> str:
    """The JSON a WeCom group robot, DingTalk robot or Slack incoming webhook takes."""
    if kind in ("wecom", "dingtalk"):
        # Both robots' published text message: {"msgtype": "text", "text": {"content": ...}}.
        return _json({"msgtype": "text", "text": {"content": text}})
    return _json({"text": text})


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


async def paused_endpoints(db: Database) -> set[str]:
    async with db.session() as session:
        return set(
            await session.scalars(
                select(WebhookEndpointState.name).where(WebhookEndpointState.paused_at.is_not(None))
            )
        )


async def claim_due(db: Database, now: datetime, *, limit: int = 20) -> list[Due]:
    """Claim up to `limit` deliveries whose time has come, of endpoints not paused."""
    paused = await paused_endpoints(db)
    claimed: list[Due] = []
    async with db.session() as session:
        candidates = list(
            await session.scalars(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.status == PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                    or_(
                        WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now
                    ),
                    WebhookDelivery.endpoint.not_in(paused) if paused else true(),
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
            )
        )
        if not candidates:
            return claimed
        # One conditional UPDATE for them all: a row another worker claimed (or
        # finished) since the SELECT fails its condition and is not returned.
        result = await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id.in_([row.id for row in candidates]),
                WebhookDelivery.status == PENDING,
                or_(
                    WebhookDelivery.claimed_until.is_(None),
                    WebhookDelivery.claimed_until < now,
                ),
            )
            .values(claimed_until=now + LEASE, attempts=WebhookDelivery.attempts + 1)
            .returning(WebhookDelivery.id, WebhookDelivery.attempts)
            .execution_options(synchronize_session=False)
        )
        attempts: dict[int, int] = {row_id: count for row_id, count in result}
        for row in candidates:
            if row.id in attempts:
                claimed.append(
                    Due(row.id, row.delivery_id, row.endpoint, row.kind, row.body, attempts[row.id])
                )
    return claimed


@dataclass(frozen=True)
class Attempt:
    """How one attempt at a claimed delivery went, for `finish_attempts`.

    `error` None: delivered. `gone`: the endpoint is no longer configured; the
    delivery fails for good.
    """

    due: Due
    error: str | None
    pause_after: int
    gone: bool = False


async def finish_attempts(db: Database, attempts: Sequence[Attempt], *, now: datetime) -> None:
    """Record attempts that finished together: each delivered, or failed with its
    error and the next time to try.

    One transaction for the group rather than one per delivery: under load a round's
    deliveries finish in a few groups, and a store transaction is most of what
    recording one costs. A crash before the commit leaves the group's deliveries
    claimed until their lease runs out; they are then sent again under the same
    delivery id, which is what a receiver dedupes on (at least once, as before).
    """
    if not attempts:
        return
    async with db.session() as session:
        # The delivered ones in one UPDATE (each row is this round's claim: nobody
        # else writes it meanwhile).
        delivered = [attempt.due.id for attempt in attempts if attempt.error is None]
        if delivered:
            await session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(delivered))
                .values(claimed_until=None, status=DELIVERED, delivered_at=now, last_error=None)
                .execution_options(synchronize_session=False)
            )
        # Endpoints whose state row this round has seen: created once, and a run of
        # successes (all setting the same values) written once.
        known: dict[str, bool] = {}
        for attempt in attempts:
            await _record_attempt(session, attempt, now, known)


async def _record_attempt(
    session: AsyncSession, attempt: Attempt, now: datetime, known: dict[str, bool]
) -> None:
    """One attempt's outcome: the delivery's row (unless delivered), then its
    endpoint's counts.

    `known` maps the endpoints whose state row this round wrote to whether their
    last attempt in it succeeded.
    """
    due, error = attempt.due, attempt.error
    if error is not None:
        # One UPDATE by primary key: the delivery is claimed by this round, nobody
        # else writes it meanwhile, so nothing needs reading first. (A delivered one
        # was written with the round's others.)
        values: dict[str, Any] = {"claimed_until": None, "last_error": error[:1000]}
        if attempt.gone:
            values["status"] = FAILED
        else:
            values["next_attempt_at"] = now + backoff(due.attempts)
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == due.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    if error is not None and attempt.gone:
        return
    # Attempts to one endpoint finish side by side: its counts change in single
    # statements, never read-modify-write.
    state = WebhookEndpointState
    if due.endpoint not in known:
        dialect = sqlite if session.get_bind().dialect.name == "sqlite" else postgresql
        await session.execute(
            dialect.insert(state)
            .values(name=due.endpoint, consecutive_failures=0)
            .on_conflict_do_nothing(index_elements=["name"])
        )
    if error is None:
        if not known.get(due.endpoint, False):
            await session.execute(
                update(state)
                .where(state.name == due.endpoint)
                .values(consecutive_failures=0, last_success_at=now)
                .execution_options(synchronize_session=False)
            )
        known[due.endpoint] = True
        return
    known[due.endpoint] = False
    await session.execute(
        update(state)
        .where(state.name == due.endpoint)
        .values(consecutive_failures=state.consecutive_failures + 1, last_error=error[:1000])
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(state)
        .where(
            state.name == due.endpoint,
            state.paused_at.is_(None),
            state.consecutive_failures >= attempt.pause_after,
        )
        .values(paused_at=now)
        .execution_options(synchronize_session=False)
    )


async def resume_endpoint(db: Database, name: str, now: datetime) -> bool:
    """Resume a paused endpoint: its waiting deliveries are due now. False if not paused."""
    async with db.session() as session:
        state = await session.get(WebhookEndpointState, name)
        if state is None or state.paused_at is None:
            return False
        state.paused_at, state.consecutive_failures = None, 0
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.endpoint == name, WebhookDelivery.status == PENDING)
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        return True


@dataclass(frozen=True)
class EndpointStatus:
    """One endpoint as the console and `careflow webhooks list` show it."""

    name: str
    pending: int
    delivered: int
    failed: int
    consecutive_failures: int
    paused_at: datetime | None
    last_error: str | None
    last_success_at: datetime | None


async def endpoint_statuses(db: Database, names: Sequence[str] = ()) -> list[EndpointStatus]:
    """Every endpoint with deliveries or a state, plus `names`, by name."""
    async with db.session() as session:
        counts: dict[str, dict[str, int]] = {}
        for endpoint, status, number in await session.execute(
            select(WebhookDelivery.endpoint, WebhookDelivery.status, func.count()).group_by(
                WebhookDelivery.endpoint, WebhookDelivery.status
            )
        ):
            counts.setdefault(endpoint, {})[status] = number
        states = {
            state.name: state for state in await session.scalars(select(WebhookEndpointState))
        }
    result = []
    for name in sorted({*counts, *states, *names}):
        state = states.get(name)
        tally = counts.get(name, {})
        result.append(
            EndpointStatus(
                name=name,
                pending=tally.get(PENDING, 0),
                delivered=tally.get(DELIVERED, 0),
                failed=tally.get(FAILED, 0),
                consecutive_failures=state.consecutive_failures if state else 0,
                paused_at=state.paused_at if state else None,
                last_error=state.last_error if state else None,
                last_success_at=state.last_success_at if state else None,
            )
        )
    return result

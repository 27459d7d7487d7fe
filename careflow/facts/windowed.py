"""Windowed facts (`rules/derived_facts.yaml`) computed in SQL as of a time.

Every aggregate over one event type becomes a column of one grouped query for the
page of customers (`FILTER` per fact's window and `where`, as the built-in purchase
facts are computed), so five facts over two event types cost two queries per page.
`last` and `first` take the newest (oldest) event in their window by a window
function; of events at the same instant, the one stored last (first). Windows end
at `at` inclusive and start after `at - within`: the same edges as `orders_last_90d`.

Built-in events are read from their own tables (an imported order counts as much as
a posted one): `order_placed` from orders, `complaint_opened` and
`complaint_resolved` from complaints (opened and resolved times), `survey_answered`
from survey answers; declared events from `custom_events`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Float, and_, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.custom_events import EventDeclarations, PropertyDeclaration
from careflow.facts.pages import ids_filter
from careflow.rules.derived_facts import AggregateSpec, DerivedFacts
from careflow.store.models import Complaint, CustomEvent, Order, SurveyResponse


@dataclass(frozen=True)
class _Table:
    """Where one event type's occurrences are: customer, time, rows and properties."""

    customer: ColumnElement[int]
    time: ColumnElement[datetime]
    row_id: ColumnElement[int]  # breaks ties of time: the one stored later is later
    rows: ColumnElement[bool]
    properties: Mapping[str, ColumnElement[Any]]


def _table(event: str, declarations: EventDeclarations) -> _Table:
    orders, complaints, surveys = (
        Order.__table__.c,
        Complaint.__table__.c,
        SurveyResponse.__table__.c,
    )
    if event == "order_placed":
        return _Table(
            orders.customer_id,
            orders.ordered_at,
            orders.id,
            true(),
            {"amount": func.cast(orders.amount, Float), "items": orders["items"]},
        )
    if event in ("complaint_opened", "complaint_resolved"):
        opened = event == "complaint_opened"
        return _Table(
            complaints.customer_id,
            complaints.opened_at if opened else complaints.resolved_at,
            complaints.id,
            true() if opened else complaints.resolved_at.is_not(None),
            {"severity": complaints.severity, "channel": complaints.channel},
        )
    if event == "survey_answered":
        return _Table(
            surveys.customer_id, surveys.answered_at, surveys.id, true(), {"score": surveys.score}
        )
    events = CustomEvent.__table__.c
    declared = declarations.events[event].properties
    return _Table(
        events.customer_id,
        events.occurred_at,
        events.id,
        events.type == event,
        {name: _json_property(name, spec) for name, spec in declared.items()},
    )


def _json_property(name: str, spec: PropertyDeclaration) -> ColumnElement[Any]:
    value = CustomEvent.properties[name]
    extracted = {
        "number": value.as_float,
        "integer": value.as_integer,
        "boolean": value.as_boolean,
    }.get(spec.type, value.as_string)()
    return cast(ColumnElement[Any], extracted)


def _window(spec: AggregateSpec, table: _Table, at: datetime) -> ColumnElement[bool]:
    """Events in the spec's window (up to `at`) that satisfy its `where`."""
    parts: list[ColumnElement[bool]] = [table.time <= at]
    if spec.within is not None:
        parts.append(table.time > at - spec.within)
    if spec.older_than is not None:
        parts.append(table.time <= at - spec.older_than)
    for name, wanted in spec.where.items():
        column = table.properties[name]
        if isinstance(wanted, list):
            parts.append(column.in_([literal(value) for value in wanted]))
        else:
            parts.append(column == literal(wanted))
    return and_(*parts)


def _aggregate(spec: AggregateSpec, table: _Table, at: datetime) -> ColumnElement[Any]:
    _, _, prop = spec.target.partition(".")
    condition = _window(spec, table, at)
    value = table.properties[prop] if prop else None
    if spec.aggregate == "count":
        counted = func.count(value) if value is not None else func.count()
        return counted.filter(condition)
    assert value is not None  # checked on load: the other aggregates name a property
    aggregated = {
        "sum": func.sum(value),
        "avg": func.avg(value),
        "min": func.min(value),
        "max": func.max(value),
    }[spec.aggregate]
    return aggregated.filter(condition)


@dataclass(frozen=True)
class _Part:
    """One aggregate to compute: a fact, or the `minus` of one (key `name/minus`)."""

    key: str
    spec: AggregateSpec
    event: str


async def windowed_facts(
    session: AsyncSession, customer_ids: Sequence[int], at: datetime, derived: DerivedFacts
) -> dict[int, dict[str, object]]:
    """The derived facts of each customer in the page, by id (unknown ones left out)."""
    if not derived.specs or not customer_ids:
        return {}
    parts: list[_Part] = []
    for name, spec in derived.specs.items():
        parts.append(_Part(name, spec, spec.target.partition(".")[0]))
        if spec.minus is not None:
            parts.append(_Part(f"{name}/minus", spec.minus, spec.minus.target.partition(".")[0]))
    values: dict[str, dict[int, Any]] = {}
    grouped: dict[str, list[_Part]] = defaultdict(list)
    for part in parts:
        if part.spec.aggregate in ("last", "first"):
            values[part.key] = await _edge_values(session, customer_ids, at, part, derived)
        else:
            grouped[part.event].append(part)
    for event, event_parts in grouped.items():
        values.update(await _grouped_values(session, customer_ids, at, event, event_parts, derived))
    return {customer_id: _assembled(customer_id, derived, values) for customer_id in customer_ids}


async def _grouped_values(
    session: AsyncSession,
    customer_ids: Sequence[int],
    at: datetime,
    event: str,
    parts: list[_Part],
    derived: DerivedFacts,
) -> dict[str, dict[int, Any]]:
    """One grouped query for every aggregate over `event`."""
    table = _table(event, derived.declarations)
    # Only the widest window is read: every narrower one is a FILTER inside it.
    widest = (
        None
        if any(part.spec.within is None for part in parts)
        else max(part.spec.within for part in parts if part.spec.within is not None)
    )
    scope = [ids_filter(table.customer, customer_ids), table.rows, table.time <= at]
    if widest is not None:
        scope.append(table.time > at - widest)
    statement = (
        select(table.customer, *(_aggregate(part.spec, table, at) for part in parts))
        .where(*_in_storage_order(session, table, scope))
        .group_by(table.customer)
    )
    values: dict[str, dict[int, Any]] = {part.key: {} for part in parts}
    for row in await session.execute(statement):
        for part, value in zip(parts, row[1:], strict=True):
            if value is not None:
                values[part.key][row[0]] = value
    return values


async def _edge_values(
    session: AsyncSession,
    customer_ids: Sequence[int],
    at: datetime,
    part: _Part,
    derived: DerivedFacts,
) -> dict[int, Any]:
    """The property of each customer's newest (`last`) or oldest (`first`) event."""
    table = _table(part.event, derived.declarations)
    value = table.properties[part.spec.target.partition(".")[2]]
    order = (
        (table.time.desc(), table.row_id.desc())
        if part.spec.aggregate == "last"
        else (table.time.asc(), table.row_id.asc())
    )
    ranked = (
        select(
            table.customer.label("customer"),
            value.label("value"),
            func.row_number().over(partition_by=table.customer, order_by=order).label("rank"),
        )
        .where(
            *_in_storage_order(
                session,
                table,
                [
                    ids_filter(table.customer, customer_ids),
                    table.rows,
                    _window(part.spec, table, at),
                ],
            ),
            value.is_not(None),
        )
        .subquery()
    )
    result = await session.execute(
        select(ranked.c.customer, ranked.c.value).where(ranked.c.rank == 1)
    )
    return {customer: value for customer, value in result.all()}


def _in_storage_order(
    session: AsyncSession, table: _Table, scope: list[ColumnElement[bool]]
) -> list[ColumnElement[bool]]:
    """`scope`, read in the table's storage order on SQLite (as the purchase facts do):
    the page's rows are scattered, and collecting their ids from the index first lets
    SQLite read each table page once instead of once per row."""
    if session.get_bind().dialect.name != "sqlite":
        return scope
    return [table.row_id.in_(select(table.row_id).where(*scope))]


def _assembled(
    customer_id: int, derived: DerivedFacts, values: Mapping[str, Mapping[int, Any]]
) -> dict[str, object]:
    facts: dict[str, object] = {}
    for name, spec in derived.specs.items():
        kind = derived.definitions[name].type
        value = values[name].get(customer_id)
        if value is None and spec.aggregate in ("count", "sum"):
            value = 0  # nothing in the window: none counted, nothing summed
        if value is None:
            continue
        if spec.minus is not None:
            value = value - (values[f"{name}/minus"].get(customer_id) or 0)
        facts[name] = _typed(value, kind)
    return facts


def _typed(value: Any, kind: str) -> object:
    """The value as the fact's type says (SQLite returns JSON booleans as 0 and 1)."""
    if kind == "integer":
        return int(value)
    if kind == "number":
        return round(float(value), 6)
    if kind == "boolean":
        return bool(value)
    return str(value)

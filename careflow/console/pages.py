"""The console's pages (GET): overview, rules, customers, explain, tasks, users, audit.

Each page reads through the code the CLI and the API already use (`compute_kpis`,
`customer_timeline`, `RuleBook.explain`, the tasks query of `GET /tasks`), so the
console shows the same figures as `careflow kpis`, `careflow timeline` and
`careflow rules explain`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from careflow.config_files import ConfigFileError
from careflow.console import charts
from careflow.console.audit import recent_audit
from careflow.console.charts import ChartSpec
from careflow.console.i18n import Formatter, Translator
from careflow.console.masking import mask_personal, mask_text
from careflow.console.roles import ROLE_NAMES, Role
from careflow.console.rulestatus import (
    FIRING_WINDOWS,
    firing_counts,
    recent_decisions,
    rules_status,
)
from careflow.console.series import Period, Trends, compute_trends
from careflow.console.staff_actions import customer_work
from careflow.console.users import list_users
from careflow.console.web import PREFIX, Visit, render, require
from careflow.facts import facts_for_customer
from careflow.intake.apply import find_customer
from careflow.intake.records import EARLIEST_YEAR, LATEST_YEAR, check_time_range
from careflow.journeys import reconcile_customer
from careflow.kpis import compute_kpis, kpi_settings
from careflow.rules.conditions import describe
from careflow.rules.explaining import failure_words
from careflow.rules.facts import EVENT_TYPES
from careflow.staffwork.listing import find_tasks
from careflow.staffwork.states import TASK_OUTCOMES, TASK_STATUSES
from careflow.store import Consent, Customer
from careflow.timeline import customer_timeline, message_reason

router = APIRouter(prefix=PREFIX, include_in_schema=False)

Viewer = Annotated[Visit, Depends(require(Role.VIEWER))]
Admin = Annotated[Visit, Depends(require(Role.ADMIN))]

DEFAULT_DAYS = 30
MIN_DAYS, MAX_DAYS = 7, 90
CONSENT_TOPICS = ("marketing", "care")
CONSENT_CHANNELS = ("email", "sms")


class InputError(ValueError):
    """A query parameter or form field that cannot be used; `key` names the message."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values

    def text(self, t: Translator) -> str:
        return t(self.key, **self.values)


@router.get("/")
async def overview(current: Viewer, days: str = "", until: str = "") -> HTMLResponse:
    """KPIs of the period and charts of messages, satisfaction, breaches and conversion."""
    now = datetime.now(UTC)
    today = now.astimezone(current.zone).date()
    problem: str | None = None
    try:
        period = parse_period(days, until, today=today, zone=current.zone)
    except InputError as error:
        period = Period(today, DEFAULT_DAYS, current.zone)
        problem = error.text(current.t)
    try:
        settings = kpi_settings(current.console.settings.rules_dir)
    except ConfigFileError as error:
        return render(current, "config_error.html.j2", {"problems": [str(error)]}, status=503)
    kpi_end = max(min(period.end, now), period.start + timedelta(seconds=1))
    report = await compute_kpis(
        current.api.db, period.start, kpi_end, settings, timezone=current.fmt.zone_name
    )
    async with current.api.db.session() as session:
        trends = await compute_trends(session, period, settings, now)
    chart_specs = overview_charts(trends, current.t, current.fmt)
    return render(
        current,
        "overview.html.j2",
        {
            "period": period,
            "kpi_end": kpi_end,
            "report": report,
            "trends": trends,
            "charts": chart_specs,
            "scripts": charts.SCRIPTS,
            "problem": problem,
            "days_value": days or str(period.days),
            "until_value": until or period.last_day.isoformat(),
            "min_days": MIN_DAYS,
            "max_days": MAX_DAYS,
        },
        status=400 if problem else 200,
    )


def parse_period(days: str, until: str, *, today: date, zone: tzinfo = UTC) -> Period:
    """`days` whole days in `zone` ending with `until` (a date, default today, never in
    the future)."""
    count = DEFAULT_DAYS
    if days:
        try:
            count = int(days)
        except ValueError:
            raise InputError("error.days", low=MIN_DAYS, high=MAX_DAYS) from None
        if not MIN_DAYS <= count <= MAX_DAYS:
            raise InputError("error.days", low=MIN_DAYS, high=MAX_DAYS)
    last_day = today
    if until:
        try:
            last_day = date.fromisoformat(until)
        except ValueError:
            raise InputError("error.until_format") from None
        if last_day > today:
            raise InputError("error.until_future")
        if last_day.year < EARLIEST_YEAR:
            # The period's first day would fall off the calendar (or before any customer).
            raise InputError("error.until_range", low=EARLIEST_YEAR, high=LATEST_YEAR)
    return Period(last_day, count, zone)


def overview_charts(trends: Trends, t: Translator, fmt: Formatter) -> dict[str, ChartSpec]:
    """The four charts of the overview, labelled in the reader's language."""
    locale = charts.ECHARTS_LOCALES[t.language]
    days = [fmt.day(day) for day in trends.days]
    day_titles = [fmt.date_long(day) for day in trends.days]
    weeks = [fmt.day(week.week_start) for week in trends.retention]
    week_titles = [
        t("overview.week_of", day=fmt.date_long(week.week_start)) for week in trends.retention
    ]
    return {
        "messages": charts.stacked_bars(
            days,
            day_titles,
            {
                t.value("journey", name): counts
                for name, counts in trends.messages_by_journey.items()
            },
            t("overview.messages_chart"),
            locale=locale,
        ),
        "satisfaction": charts.line(
            days,
            day_titles,
            [day.rate for day in trends.satisfaction],
            t("col.rate"),
            t("overview.satisfaction_chart"),
            locale=locale,
        ),
        "sla": charts.stacked_bars(
            days,
            day_titles,
            {t.value("level", level): counts for level, counts in trends.sla_breaches.items()},
            t("overview.sla_chart"),
            locale=locale,
        ),
        "retention": charts.grouped_bars(
            weeks,
            week_titles,
            {
                t("overview.offered"): [week.conversion.offered.rate for week in trends.retention],
                t("overview.holdout"): [week.conversion.holdout.rate for week in trends.retention],
            },
            t("overview.retention_chart"),
            locale=locale,
        ),
    }


@router.get("/rules")
async def rules_page(current: Viewer) -> HTMLResponse:
    """The live rule files: when they last loaded, mistakes of a broken edit, firings."""
    status = await asyncio.to_thread(rules_status, current.console.rulebook)
    counts = await firing_counts(current.api.db, datetime.now(UTC))
    listed = (
        {rule.id for ruleset in status.rulebook.rulesets for rule in ruleset.rules}
        if status.rulebook
        else set()
    )
    # Rules that fired in the window but are no longer in the files (removed or renamed).
    gone = {
        rule_id: windows for rule_id, windows in sorted(counts.items()) if rule_id not in listed
    }
    return render(
        current,
        "rules.html.j2",
        {"status": status, "counts": counts, "gone": gone, "windows": FIRING_WINDOWS},
    )


@router.get("/rules/{rule_id}")
async def rule_page(current: Viewer, rule_id: str) -> HTMLResponse:
    """One rule explained: its conditions in words, what it does, where it is, its firings."""
    status = await asyncio.to_thread(rules_status, current.console.rulebook)
    found = None
    if status.rulebook is not None:
        for ruleset in status.rulebook.rulesets:
            for rule in ruleset.rules:
                if rule.id == rule_id:
                    found = (ruleset, rule)
    counts = (await firing_counts(current.api.db, datetime.now(UTC))).get(rule_id, {})
    decisions = await recent_decisions(current.api.db, rule_id)
    if found is None and not decisions:
        return render(current, "not_found.html.j2", {"what": rule_id}, status=404)
    return render(
        current,
        "rule.html.j2",
        {
            "rule_id": rule_id,
            "ruleset": found[0] if found else None,
            "rule": found[1] if found else None,
            "conditions": current.t.phrase(describe(found[1].when)) if found else None,
            "counts": counts,
            "windows": FIRING_WINDOWS,
            "decisions": decisions,
        },
    )


@router.get("/customers")
async def customers_page(current: Viewer, q: str = "") -> HTMLResponse:
    """Customers whose id starts with `q` (the newest 50 without a query)."""
    query = select(Customer).order_by(Customer.created_at.desc(), Customer.id.desc()).limit(50)
    if q.strip():
        query = query.where(Customer.external_id.startswith(q.strip(), autoescape=True))
    async with current.api.db.session() as session:
        rows = list(await session.scalars(query))
    customers = [
        {
            "id": row.external_id,
            "name": personal(current, row.name),
            "tier": row.tier,
            "locale": row.locale,
            "created_at": row.created_at,
            "erased": row.erased_at is not None,
        }
        for row in rows
    ]
    return render(current, "customers.html.j2", {"q": q, "customers": customers})


def personal(current: Visit, value: object) -> object:
    """The value for roles that see personal data, masked for the others."""
    return value if current.sees_personal_data else mask_text(value)


@dataclass(frozen=True)
class ConsentRow:
    channel: str
    topic: str
    granted: bool
    source: str
    recorded_at: datetime


@router.get("/customers/{customer_id}")
async def customer_page(current: Viewer, customer_id: str) -> HTMLResponse:
    """The customer's timeline, journeys (with Temporal links), messages and consent."""
    return await customer_view(current, customer_id)


async def customer_view(
    current: Visit, customer_id: str, *, problem: str | None = None, status: int = 200
) -> HTMLResponse:
    """The customer page, with `problem` shown above the consent form when a change failed."""
    # Journeys closed in Temporal without telling the store are shown as they ended.
    await reconcile_customer(current.api.db, current.api.client, customer_id)
    entries = await customer_timeline(
        current.api.db, customer_id, secret_key=current.api.secret_key
    )
    async with current.api.db.session() as session:
        customer = await find_customer(session, customer_id)
        consents = (
            []
            if customer is None
            else [
                ConsentRow(row.channel, row.topic, row.granted, row.source, row.recorded_at)
                for row in await session.scalars(
                    select(Consent)
                    .where(Consent.customer_id == customer.id)
                    .order_by(Consent.channel, Consent.topic)
                )
            ]
        )
    if entries is None or customer is None:
        return render(current, "not_found.html.j2", {"what": customer_id}, status=404)
    shown = [
        {
            "at": entry.at,
            "kind": entry.kind,
            "summary": current.t.phrase(entry.summary),
            "details": entry.details
            if current.sees_personal_data
            else mask_personal(entry.details),
        }
        for entry in entries
    ]
    journeys = [
        {
            **entry.details,
            "started_at": entry.at,
            "link": current.console.temporal_link(
                current.request, str(entry.details["workflow_id"])
            ),
        }
        for entry in entries
        if entry.kind == "journey"
    ]
    messages = [
        {
            **entry.details,
            "at": entry.at,
            "reason_words": current.t.phrase(message_reason(str(entry.details["reason"])))
            if entry.details["reason"]
            else None,
        }
        for entry in entries
        if entry.kind == "message"
    ]
    profile = {
        "name": personal(current, customer.name),
        "email": personal(current, customer.email),
        "phone": personal(current, customer.phone),
        "birthday": personal(current, customer.birthday),
        "locale": customer.locale,
        "timezone": customer.timezone,
        "tier": customer.tier,
        "account_manager": customer.account_manager,
        "created_at": customer.created_at,
        "erased_at": customer.erased_at,
    }
    return render(
        current,
        "customer.html.j2",
        {
            "customer_id": customer_id,
            "profile": profile,
            "consents": consents,
            "journeys": journeys,
            "messages": messages,
            "entries": shown,
            "problem": problem,
            "topics": CONSENT_TOPICS,
            "channels": CONSENT_CHANNELS,
            "work": await customer_work(current.api, customer_id),
            "outcomes": TASK_OUTCOMES,
        },
        status=status,
    )


@router.get("/customers/{customer_id}/explain")
async def explain_page(
    current: Viewer, customer_id: str, event: str = "daily_scan", at: str = ""
) -> HTMLResponse:
    """`careflow rules explain` for this customer: each rule, fires or the condition that failed."""
    problem = None
    moment = datetime.now(UTC)
    if event not in EVENT_TYPES:
        problem, event = current.t("error.event", events=", ".join(EVENT_TYPES)), "daily_scan"
    if at:
        try:
            parsed = datetime.fromisoformat(at)
        except ValueError:
            problem = current.t("error.at")
        else:
            try:
                check_time_range(parsed)
            except ValueError:
                problem = current.t("error.at_range", low=EARLIEST_YEAR, high=LATEST_YEAR)
            else:
                # A time without an offset is on the clock the page shows (the team's, or UTC).
                moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=current.zone)
    status = await asyncio.to_thread(rules_status, current.console.rulebook)
    if status.rulebook is None:
        return render(
            current,
            "config_error.html.j2",
            {"problems": [str(e) for e in status.errors]},
            status=503,
        )
    try:
        async with current.api.db.session() as session:
            snapshot = await facts_for_customer(
                session, customer_id, moment, derived=status.rulebook.derived
            )
    except ConfigFileError as error:
        return render(current, "config_error.html.j2", {"problems": [str(error)]}, status=503)
    if snapshot is None:
        return render(current, "not_found.html.j2", {"what": customer_id}, status=404)
    outcomes = status.rulebook.explain({**snapshot, "event_type": event})
    rows: list[dict[str, Any]] = [
        {
            "ruleset": outcome.ruleset,
            "rule_id": outcome.rule_id,
            "fired": outcome.fired,
            "what": ", ".join(intent.label for intent in outcome.intents)
            if outcome.fired
            else current.t.phrase(failure_words(outcome)),
            "matched_facts": outcome.matched_facts,
        }
        for outcome in outcomes
    ]
    return render(
        current,
        "explain.html.j2",
        {
            "customer_id": customer_id,
            "event": event,
            "events": EVENT_TYPES,
            "at": moment,
            "at_value": at,
            "rows": rows,
            "facts": dict(sorted(snapshot.items())),
            "problem": problem,
        },
        status=400 if problem else 200,
    )


@router.get("/tasks")
async def tasks_page(
    current: Viewer, status: str = "", assignee: str = "", kind: str = ""
) -> HTMLResponse:
    """Staff tasks (escalations, calls) and notifications, newest first, with due times."""
    problem = None
    if status and status not in TASK_STATUSES:
        problem, status = current.t("error.status", statuses=", ".join(TASK_STATUSES)), ""
    tasks = await find_tasks(
        current.api.db,
        status=status or None,
        assignee=assignee.strip() or None,
        kind=kind.strip() or None,
        customer_id=None,
        limit=500,
    )
    return render(
        current,
        "tasks.html.j2",
        {
            "tasks": tasks,
            "now": datetime.now(UTC),
            "status": status,
            "assignee": assignee,
            "kind": kind,
            "statuses": TASK_STATUSES,
            "outcomes": TASK_OUTCOMES,
            "problem": problem,
        },
        status=400 if problem else 200,
    )


@router.get("/users")
async def users_page(current: Admin) -> HTMLResponse:
    """Console users and their roles; adding and removing them (admins only)."""
    return await users_view(current)


async def users_view(
    current: Visit,
    *,
    problem: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The users page, with the add form's `problem` and values when adding failed."""
    return render(
        current,
        "users.html.j2",
        {
            "users": await list_users(current.api.db),
            "roles": ROLE_NAMES,
            "problem": problem,
            "form": form or {"name": "", "role": Role.VIEWER.value},
        },
        status=status,
    )


@router.get("/audit")
async def audit_page(current: Admin, action: str = "", actor: str = "") -> HTMLResponse:
    """Who did what and when: operator actions, user changes, logins and refusals."""
    entries = await recent_audit(
        current.api.db, limit=500, action=action.strip() or None, actor=actor.strip() or None
    )
    return render(current, "audit.html.j2", {"entries": entries, "action": action, "actor": actor})

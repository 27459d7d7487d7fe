"""The console in a real browser: Debian's chromium, driven by Playwright, against the
real app served by uvicorn on a loopback port and a seeded store.

The test logs in, opens every page in English and Chinese, checks that the numbers
on the page are the store's (computed here with SQL of its own, not with the
functions the pages use), that each chart (Apache ECharts, drawn in the browser)
shows its table's numbers, answers a hover and hides a series from its legend, and
saves a screenshot of each page under `test-output/console/` (git-ignored). The team
works in Shanghai: the overview's days start at its midnight.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.store import Database
from tests.conftest import IN_CI
from tests.console.conftest import PASSWORD
from tests.console.seed import Seeded
from tests.smtp_sink import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "console"
LANGUAGES = {"en": "Overview", "zh-CN": "概览"}
# The retention window of rules/journeys.yaml (retention_offer.goal_wait_days).
RETENTION_WINDOW = timedelta(days=14)
GOOD_SCORE = 4
TEAM_ZONE = ZoneInfo("Asia/Shanghai")
# SQLite's date() of a stored UTC time, on the team's calendar (Shanghai has no summer time).
SHIFT = "+8 hours"

pytestmark = [
    # One store is enough here: the HTTP tests run on SQLite and PostgreSQL, and the
    # SQL below is SQLite's.
    pytest.mark.parametrize("db", ["sqlite"], indirect=True),
    # A whole browser walk on a machine shared with other test runs.
    pytest.mark.timeout(600),
]


@pytest.fixture
def chromium() -> Path:
    """Debian's chromium; without it the test skips, except in CI where it fails."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (Debian package `chromium`; `./dev test` installs it)"
        if IN_CI:
            pytest.fail(f"{message}; CI must run the browser tests")
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
async def served(
    db: Database,
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    seeded: Seeded,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[str]:
    """The app on uvicorn on a free loopback port, as `careflow up` serves it."""
    monkeypatch.setenv("CAREFLOW_TEAM_TIMEZONE", TEAM_ZONE.key)
    app = create_app(ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no event
        await asyncio.sleep(0.05)
    if task.done():
        await task  # raises why it could not start
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
def screenshots() -> Path:
    """An empty folder for this run's screenshots."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()


async def rows(db: Database, sql: str, **params: Any) -> list[Any]:
    """The query's rows; `:shift` (if used) moves a UTC time to the team's clock."""
    if ":shift" in sql:
        params["shift"] = SHIFT
    async with db.session() as session:
        return list((await session.execute(text(sql), params)).all())


def stored(moment: datetime) -> str:
    """A UTC time as careflow's SQLite columns hold it, for comparisons in SQL."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def parsed(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


async def cell_values(page: Page, selector: str) -> list[dict[str, str]]:
    """The data attributes of each element matching `selector` (and of its row)."""
    values: list[dict[str, str]] = await page.locator(selector).evaluate_all(
        """elements => elements.map(e => {
            const row = e.closest('tr') || e;
            const table = e.closest('table');
            const column = table && e.cellIndex !== undefined
                ? table.tHead.rows[0].cells[e.cellIndex] : null;
            return Object.assign({}, row.dataset, column ? column.dataset : {}, e.dataset);
        })"""
    )
    return values


async def test_every_page_in_both_languages_shows_the_stores_numbers(
    served: str, browser: Browser, db: Database, screenshots: Path
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    # The Content-Security-Policy must not block anything the console itself uses.
    page.on(
        "console",
        lambda message: (
            problems.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )

    # Not logged in: the console sends the browser to the login page.
    await page.goto(f"{served}/console/tasks")
    assert page.url.startswith(f"{served}/console/login?next=")
    await page.fill("input[name=name]", "ada")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{served}/console/tasks")

    pages = {
        "overview": "/console/",
        "rules": "/console/rules",
        "rule": "/console/rules/acknowledge-new-complaint",
        "customers": "/console/customers",
        "customer": "/console/customers/c-alice",
        "explain": "/console/customers/c-alice/explain",
        "tasks": "/console/tasks",
        "users": "/console/users",
        "audit": "/console/audit",
    }
    checks = {
        "overview": check_overview,
        "rules": check_rules,
        "rule": check_rule,
        "customers": check_customers,
        "customer": check_customer,
        "explain": check_explain,
        "tasks": check_tasks,
        "users": check_users,
        "audit": check_audit,
    }
    for language, overview_word in LANGUAGES.items():
        for name, path in pages.items():
            response = await page.goto(f"{served}{path}?lang={language}")
            assert response is not None
            assert response.status == 200, (name, language, response.status)
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            assert await page.get_attribute("html", "lang") == language
            assert await page.locator("nav").get_by_text(overview_word, exact=True).count() == 1
            # Every section open, so the screenshot shows the numbers too.
            await page.locator("details").evaluate_all("all => all.forEach(d => d.open = true)")
            await checks[name](page, db)
            await page.screenshot(path=screenshots / f"{name}.{language}.png", full_page=True)
    # Empty states: a period before any data, an empty search and task filter. No chart
    # is drawn where there is nothing to draw; the page says so instead.
    empty = {
        "overview-empty": "/console/?until=2001-01-31",
        "customers-empty": "/console/customers?q=nobody-at-all",
        "tasks-empty": "/console/tasks?assignee=nobody-at-all",
    }
    for language in LANGUAGES:
        for name, path in empty.items():
            response = await page.goto(f"{served}{path}&lang={language}")
            assert response is not None
            assert response.status == 200, (name, language, response.status)
            await page.locator("details").evaluate_all("all => all.forEach(d => d.open = true)")
            if name == "overview-empty":
                assert await page.locator("[data-chart]").count() == 0
                assert await page.locator("p.empty").count() == 4
                assert await page.locator("svg").count() == 0
            await page.screenshot(path=screenshots / f"{name}.{language}.png", full_page=True)
    assert problems == []
    saved = [
        name
        for name in pages
        for language in LANGUAGES
        if (screenshots / f"{name}.{language}.png").is_file()
    ]
    assert len(saved) == len(pages) * len(LANGUAGES)
    assert all((screenshots / f"{n}.{lang}.png").is_file() for n in empty for lang in LANGUAGES)
    print(f"screenshots: {screenshots}")
    await context.close()


async def check_overview(page: Page, db: Database) -> None:
    period = page.get_by_test_id("period")
    since = parsed(str(await period.get_attribute("data-since")))
    until = parsed(str(await period.get_attribute("data-until")))
    assert until - since == timedelta(days=30)

    # Messages sent per day by journey.
    expected_messages = {
        (day, journey): count
        for day, journey, count in await rows(
            db,
            "select date(l.sent_at, :shift), coalesce(j.journey, 'other'), count(*)"
            " from outreach_ledger l"
            " left join journeys j on j.workflow_id = l.workflow_id"
            " where l.status = 'sent' and l.sent_at >= :since and l.sent_at < :until group by 1, 2",
            since=stored(since),
            until=stored(until),
        )
    }
    shown = await cell_values(page, "#table-messages tbody td.num")
    assert len(shown) == 30 * len({journey for _, journey in expected_messages})
    on_page = {(c["day"], c["journey"]): int(c["value"]) for c in shown if c["value"] != "0"}
    assert on_page == expected_messages
    assert sum(expected_messages.values()) == 6  # the seed's sent messages, all in the period

    # Satisfaction per day: responses and good answers.
    expected_survey = {
        day: (responses, good)
        for day, responses, good in await rows(
            db,
            "select date(answered_at, :shift), count(*), sum(score >= :good)"
            " from survey_responses"
            " where answered_at >= :since and answered_at < :until group by 1",
            good=GOOD_SCORE,
            since=stored(since),
            until=stored(until),
        )
    }
    survey_cells = await cell_values(page, "#table-satisfaction tbody tr")
    on_page_survey = {}
    for row in await page.locator("#table-satisfaction tbody tr").all():
        day = str(await row.get_attribute("data-day"))
        values = await row.locator("td.num").evaluate_all(
            "cells => cells.map(c => c.dataset.value)"
        )
        if values[0] != "0":
            on_page_survey[day] = (int(values[0]), int(values[1]))
    assert len(survey_cells) == 30
    assert on_page_survey == expected_survey

    # SLA breaches per day and level (escalation tasks, level from their key).
    expected_sla = Counter(
        {
            (day, key.rsplit("/task-", 1)[1]): 1
            for day, key in await rows(
                db,
                "select date(created_at, :shift), idempotency_key from tasks"
                " where kind = 'escalation'"
                " and created_at >= :since and created_at < :until",
                since=stored(since),
                until=stored(until),
            )
        }
    )
    sla = await cell_values(page, "#table-sla tbody td.num")
    on_page_sla = {(c["day"], c["level"]): int(c["value"]) for c in sla if c["value"] != "0"}
    assert on_page_sla == dict(expected_sla)
    assert sum(expected_sla.values()) == 3

    # Retention offers against the holdout group, by start week.
    now = datetime.now(UTC)
    measured = min(until, now)
    weeks: dict[str, list[int]] = {}
    for started, status, offer_sent, customer in await rows(
        db,
        "select j.started_at, j.status, l.sent_at, j.customer_id from journeys j"
        " left join outreach_ledger l on l.workflow_id = j.workflow_id and l.step_id = 'offer'"
        " and l.status = 'sent' where j.journey = 'retention_offer'"
        " and j.started_at >= :since and j.started_at < :until",
        since=stored(since),
        until=stored(until),
    ):
        start = parsed(str(started))
        week_start = since + timedelta(days=7 * ((start - since).days // 7))
        week = week_start.astimezone(TEAM_ZONE).date().isoformat()
        holdout = status == "holdout"
        if not holdout and offer_sent is None:
            continue
        clock = start if holdout else parsed(str(offer_sent))
        counts = weeks.setdefault(week, [0, 0, 0, 0])
        if clock + RETENTION_WINDOW > measured:
            continue
        ordered = await rows(
            db,
            "select count(*) from orders where customer_id = :customer"
            " and ordered_at > :start and ordered_at <= :end",
            customer=customer,
            start=stored(clock),
            end=stored(clock + RETENTION_WINDOW),
        )
        column = 2 if holdout else 0
        counts[column] += 1
        counts[column + 1] += 1 if ordered[0][0] else 0
    on_page_weeks = {}
    for row in await page.locator("#table-retention tbody tr").all():
        values = await row.locator("td.num").evaluate_all(
            "cells => cells.map(c => c.dataset.value)"
        )
        offered, converted, _, held, held_converted = (values[i] for i in range(5))
        if any(value != "0" for value in (offered, held)):
            on_page_weeks[str(await row.get_attribute("data-week"))] = [
                int(offered),
                int(converted),
                int(held),
                int(held_converted),
            ]
    assert on_page_weeks == {week: counts for week, counts in weeks.items() if any(counts)}
    assert sum(counts[0] for counts in weeks.values()) == 2  # two offers, windows ended
    assert sum(counts[1] for counts in weeks.values()) == 1  # one converted

    # The KPI cards of the period.
    kpi_until = stored(min(until, now))
    [(responses, good)] = await rows(
        db,
        "select count(*), sum(score >= :good) from survey_responses"
        " where answered_at >= :since and answered_at < :until",
        good=GOOD_SCORE,
        since=stored(since),
        until=kpi_until,
    )
    [(sent,)] = await rows(
        db,
        "select count(*) from outreach_ledger where status = 'sent'"
        " and created_at >= :since and created_at < :until",
        since=stored(since),
        until=kpi_until,
    )
    [(opened,)] = await rows(
        db,
        "select count(*) from complaints where opened_at >= :since and opened_at < :until",
        since=stored(since),
        until=kpi_until,
    )
    kpis = {c["kpi"]: c["value"] for c in await cell_values(page, "#kpis [data-kpi]")}
    assert int(kpis["survey_responses"]) == responses
    assert float(kpis["satisfaction_rate"]) == pytest.approx(good / responses, abs=1e-4)
    assert int(kpis["messages_sent"]) == sent
    assert int(kpis["complaints_opened"]) == opened
    assert int(kpis["sla_breaches"]) == sum(expected_sla.values())
    # The period starts at the team's midnight.
    assert since.astimezone(TEAM_ZONE).hour == 0
    await check_charts(page)


async def chart(page: Page, name: str) -> dict[str, Any]:
    """The chart's series as ECharts holds them, once it has been drawn."""
    await page.wait_for_function(
        "name => window.echarts &&"
        " echarts.getInstanceByDom(document.getElementById('chart-' + name))",
        arg=name,
    )
    option: dict[str, Any] = await page.evaluate(
        """name => {
            const c = echarts.getInstanceByDom(document.getElementById('chart-' + name));
            const o = c.getOption();
            return {series: o.series.map(s => [s.name, s.data]), yMin: o.yAxis[0].min,
                    legend: o.legend[0].selected || {}};
        }""",
        name,
    )
    return option


async def table_columns(
    page: Page, table: str, columns: list[int] | None = None
) -> list[list[Any]]:
    """The table's numeric columns (`data-value`), one list per column."""
    rows = await page.locator(f"#{table} tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.querySelectorAll('td.num')).map(c => c.dataset.value))"
    )
    width = len(rows[0]) if rows else 0
    picked = columns if columns is not None else list(range(width))
    return [[row[i] for row in rows] for i in picked]


def as_numbers(values: list[str]) -> list[float | None]:
    return [None if value == "" else float(value) for value in values]


async def check_charts(page: Page) -> None:
    """Each chart shows its table's numbers, answers a hover, and its legend hides a series."""
    messages = await chart(page, "messages")
    assert [as_numbers(v) for v in await table_columns(page, "table-messages")] == [
        [float(x) for x in values] for _, values in messages["series"]
    ]
    assert messages["yMin"] == 0  # counts never go below zero
    sla = await chart(page, "sla")
    assert [as_numbers(v) for v in await table_columns(page, "table-sla")] == [
        [float(x) for x in values] for _, values in sla["series"]
    ]
    satisfaction = await chart(page, "satisfaction")
    [rates] = await table_columns(page, "table-satisfaction", [2])
    assert as_numbers(rates) == [
        None if x is None else pytest.approx(x, abs=1e-9) for x in satisfaction["series"][0][1]
    ]
    retention = await chart(page, "retention")
    offered, held = await table_columns(page, "table-retention", [2, 5])
    assert [as_numbers(offered), as_numbers(held)] == [
        [None if x is None else pytest.approx(x, abs=1e-9) for x in values]
        for _, values in retention["series"]
    ]

    # Hover over the busiest day's bar: the tooltip names the day and its count.
    name, values = max(messages["series"], key=lambda series: max(series[1]))
    index = max(range(len(values)), key=lambda i: values[i])
    box = await page.locator("#chart-messages").bounding_box()
    assert box is not None
    point = await page.evaluate(
        """([index, value]) => echarts.getInstanceByDom(document.getElementById('chart-messages'))
            .convertToPixel({seriesIndex: 0}, [index, value / 2])""",
        [index, values[index]],
    )
    await page.mouse.move(box["x"] + point[0], box["y"] + point[1])
    day = await page.locator("#table-messages tbody tr").nth(index).locator("td").first.inner_text()
    tip = page.locator("#chart-messages div", has_text=day).last
    await tip.wait_for(state="visible")
    assert name in await tip.inner_text()

    # The day labels never run into each other.
    labels = await page.evaluate(
        """() => {
            const spec = JSON.parse(document.getElementById('chart-messages').dataset.chart);
            return Array.from(document.querySelectorAll('#chart-messages svg text'))
                .filter(t => spec.labels.includes(t.textContent))
                .map(t => { const r = t.getBoundingClientRect(); return [r.left, r.right]; });
        }"""
    )
    assert len(labels) >= 3
    spans = sorted(labels)
    assert all(
        left >= previous_right for (_, previous_right), (left, _) in itertools.pairwise(spans)
    )

    # A click on a legend entry hides its series; a second click shows it again.
    await page.mouse.move(0, 0)
    legend = page.locator("#chart-messages svg text", has_text=name).first
    await legend.click()
    assert (await chart(page, "messages"))["legend"].get(name) is False
    await legend.click()
    assert (await chart(page, "messages"))["legend"].get(name) is True
    # Away from the chart, so the screenshot shows no hover highlight.
    await page.mouse.move(0, 0)


async def firing_counts(db: Database) -> dict[str, dict[str, int]]:
    now = datetime.now(UTC)
    counts: dict[str, dict[str, int]] = {}
    for days in (7, 30):
        for rule_id, count in await rows(
            db,
            "select rule_id, count(*) from rule_decisions where decided_at >= :since"
            " group by rule_id",
            since=stored(now - timedelta(days=days)),
        ):
            counts.setdefault(rule_id, {"7": 0, "30": 0})[str(days)] = count
    return counts


async def check_rules(page: Page, db: Database) -> None:
    expected = await firing_counts(db)
    cells = await cell_values(page, "tr[data-rule] td[data-days]")
    on_page: dict[str, dict[str, int]] = {}
    for cell in cells:
        on_page.setdefault(cell["rule"], {})[cell["days"]] = int(cell["value"])
    fired = {rule: days for rule, days in on_page.items() if any(days.values())}
    assert fired == expected
    # The rule removed from the files is listed apart; the live set loaded without errors.
    assert "retired-rule" in fired
    assert await page.get_by_test_id("loaded-at").count() == 1
    assert await page.get_by_test_id("rule-error").count() == 0


async def check_rule(page: Page, db: Database) -> None:
    expected = (await firing_counts(db))["acknowledge-new-complaint"]
    shown = {c["days"]: c["value"] for c in await cell_values(page, "#rule-counts [data-days]")}
    assert {days: int(value) for days, value in shown.items()} == expected
    [(decisions,)] = await rows(
        db, "select count(*) from rule_decisions where rule_id = 'acknowledge-new-complaint'"
    )
    assert await page.locator("#table-decisions tbody tr").count() == decisions


async def check_customers(page: Page, db: Database) -> None:
    ids = [row[0] for row in await rows(db, "select external_id from customers")]
    on_page = await page.locator("tr[data-customer]").evaluate_all(
        "rows => rows.map(r => r.dataset.customer)"
    )
    assert sorted(on_page) == sorted(ids)


async def check_customer(page: Page, db: Database) -> None:
    [(customer,)] = await rows(db, "select id from customers where external_id = 'c-alice'")
    counts = {
        kind: (await rows(db, sql, customer=customer, external="c-alice"))[0][0]
        for kind, sql in {
            "event": "select count(*) from events where customer_external_id = :external",
            "decision": "select count(*) from rule_decisions where customer_id = :customer",
            "journey": "select count(*) from journeys where customer_id = :customer",
            "message": "select count(*) from outreach_ledger where customer_id = :customer",
            "task": "select count(*) from tasks where customer_id = :customer",
        }.items()
    }
    kinds = await page.locator("#table-timeline tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.kind)"
    )
    assert Counter(kinds) == Counter({kind: n for kind, n in counts.items() if n})
    journeys = await rows(
        db, "select workflow_id, status from journeys where customer_id = :c", c=customer
    )
    shown = await page.locator("#table-journeys tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.workflow, r.dataset.status])"
    )
    assert sorted(map(tuple, shown)) == sorted(map(tuple, journeys))
    # Each journey links to its workflow in the Temporal UI.
    links = await page.locator("#table-journeys a.mono").evaluate_all("as => as.map(a => a.href)")
    assert all("/namespaces/default/workflows/" in link for link in links)
    statuses = await rows(
        db, "select status from outreach_ledger where customer_id = :c", c=customer
    )
    shown_statuses = await page.locator("#table-messages tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.status)"
    )
    assert Counter(shown_statuses) == Counter(row[0] for row in statuses)
    consent = await rows(
        db, "select channel, topic, granted from consents where customer_id = :c", c=customer
    )
    shown_consent = await page.locator("#table-consent tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.channel, r.dataset.topic, r.dataset.granted])"
    )
    assert [tuple(row) for row in shown_consent] == [
        (channel, topic, "yes" if granted else "no") for channel, topic, granted in consent
    ]


def shipped_rule_ids() -> list[str]:
    """The `- id:` lines of the shipped rule files, read as text."""
    rules_files = Path(__file__).resolve().parents[2] / "rules"
    return [
        line.split("id:", 1)[1].strip()
        for path in rules_files.glob("*.rules.yaml")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("- id:")
    ]


async def check_explain(page: Page, db: Database) -> None:
    rule_ids = shipped_rule_ids()
    shown = await page.locator("#table-explain tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.rule, r.dataset.fired])"
    )
    assert sorted(rule for rule, _ in shown) == sorted(rule_ids)
    assert {fired for _, fired in shown} <= {"yes", "no"}
    assert await page.locator("#table-facts tr").count() > 5


async def check_tasks(page: Page, db: Database) -> None:
    tasks = await rows(db, "select id, assignee, due_at, status from tasks")
    [count] = [int(c["value"]) for c in await cell_values(page, "[data-testid=task-count]")]
    assert count == len(tasks)
    shown = await page.locator("#table-tasks tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.task, r.dataset.assignee, r.dataset.due,"
        " r.dataset.status])"
    )
    assert sorted((int(i), a, d, s) for i, a, d, s in shown) == sorted(
        (i, a or "", parsed(str(d)).isoformat() if d else "", s) for i, a, d, s in tasks
    )
    # An open task past its due time is marked.
    overdue = [
        row
        for row in tasks
        if row[3] == "open" and row[2] and parsed(str(row[2])) < datetime.now(UTC)
    ]
    assert await page.locator("#table-tasks td.bad").count() == len(overdue)


async def check_users(page: Page, db: Database) -> None:
    users = await rows(db, "select name, role from console_users")
    shown = await page.locator("#table-users tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.user, r.dataset.role])"
    )
    assert sorted(map(tuple, shown)) == sorted(map(tuple, users))


async def check_audit(page: Page, db: Database) -> None:
    entries = await rows(db, "select action, actor from audit_log")
    shown = await page.locator("#table-audit tbody tr").evaluate_all(
        "rows => rows.map(r => [r.dataset.action, r.dataset.actor])"
    )
    assert Counter(map(tuple, shown)) == Counter(map(tuple, entries))
    assert ("login", "ada") in {tuple(row) for row in shown}


async def test_no_other_page_can_frame_the_console(served: str, browser: Browser) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    refusals: list[str] = []
    page.on("console", lambda message: refusals.append(message.text))
    login = f"{served}/console/login"
    await page.set_content(f'<iframe id="console" src="{login}" width="600" height="400">')
    frame = await (await page.wait_for_selector("iframe#console")).content_frame()
    assert frame is not None
    await frame.wait_for_load_state()
    # chromium shows its own error page instead: the login form is not there to click.
    assert await frame.locator("input[name=password]").count() == 0
    assert any("frame-ancestors" in text for text in refusals), refusals

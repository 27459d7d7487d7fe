"""The staff loop in a real browser: an operator claims and completes a task and responds to
a complaint whose journey runs on the time-skipping server, and the Overview's SLA numbers
and the customer's timeline show it.

The app is served by uvicorn on a loopback port (as in test_browser.py); the complaint's
journey runs on a real worker with the test SMTP sink, so the response reaches the
journey as a signal and the test can skip past the response target to see that no
response breach is recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.store import Database, Task
from careflow.workflows.complaint_escalation import ComplaintEscalationWorkflow
from careflow.workflows.journey import JourneyInput
from tests.conftest import IN_CI
from tests.console.conftest import PASSWORD
from tests.console.seed import Seeded
from tests.console.test_browser import CHROMIUM, CHROMIUM_ARGS, free_port, rows
from tests.smtp_sink import SmtpSink
from tests.workflows.conftest import write_journey_config
from tests.workflows.harness import (
    add_complaint,
    add_customer,
    add_journey_record,
    journey_worker,
    new_id,
    tasks_of,
    write_templates,
)

pytestmark = [
    pytest.mark.parametrize("db", ["sqlite"], indirect=True),
    pytest.mark.timeout(600),
]

CUSTOMER, COMPLAINT = "c-dora", "k-9"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (Debian package `chromium`; `./dev test` installs it)"
        if IN_CI:
            pytest.fail(f"{message}; CI must run the browser tests")
        pytest.skip(message)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()


@pytest.fixture
def journey_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"templates_dir": write_templates(tmp_path / "templates")})


@pytest.fixture
async def served(
    db: Database, workflow_env: WorkflowEnvironment, journey_settings: Settings, seeded: Seeded
) -> AsyncIterator[str]:
    app = create_app(
        ApiState(db, workflow_env.client, journey_settings.task_queue, journey_settings.secret_key)
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no event
        await asyncio.sleep(0.05)
    if task.done():
        await task
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    await task


async def kpi(page: Page, name: str) -> int:
    return int(str(await page.get_attribute(f"[data-kpi={name}]", "data-value")))


async def test_an_operator_closes_the_staff_loop_in_the_browser(
    served: str,
    browser: Browser,
    db: Database,
    workflow_env: WorkflowEnvironment,
    journey_settings: Settings,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> None:
    config = write_journey_config(tmp_path / "journeys.yaml")
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    await page.goto(f"{served}/console/login")
    await page.fill("input[name=name]", "otto")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{served}/console/")
    breaches_before = await kpi(page, "sla_breaches")
    within_before = await kpi(page, "responses_within_target")

    async with journey_worker(workflow_env.client, journey_settings, db, config):
        # A VIP's high-severity complaint: its journey acknowledges it and gives the agents
        # a task due at the 2-hour response target.
        now = await workflow_env.get_current_time()
        await add_customer(db, CUSTOMER, tier="vip", now=now)
        await add_complaint(db, CUSTOMER, COMPLAINT, opened_at=now, severity="high")
        workflow_id = new_id(f"complaint-{CUSTOMER}")
        await add_journey_record(
            db, workflow_id, "complaint_escalation", CUSTOMER, now=now, subject=COMPLAINT
        )
        handle = await workflow_env.client.start_workflow(
            ComplaintEscalationWorkflow.run,
            JourneyInput(
                customer_id=CUSTOMER,
                rule_id="complaint-new",
                ruleset_hash="h",
                subject=COMPLAINT,
            ),
            id=workflow_id,
            task_queue=journey_settings.task_queue,
        )
        await smtp_sink.wait_for(1)
        while not await tasks_of(db, workflow_id):  # noqa: ASYNC110 - the task row is the event
            await asyncio.sleep(0.05)

        # The operator responds on the customer page.
        await page.goto(f"{served}/console/customers/{CUSTOMER}")
        row = page.locator(f'#table-complaints tr[data-complaint="{COMPLAINT}"]')
        await row.locator("input[name=note]").fill("Called her, replacement sent")
        await row.locator("button[data-action=respond]").click()
        await page.wait_for_url(f"{served}/console/customers/{CUSTOMER}?done=complaint_responded")
        responded = page.locator(f'#table-complaints tr[data-complaint="{COMPLAINT}"]')
        assert await responded.get_attribute("data-responded") == "yes"
        assert "otto" in await responded.inner_text()
        timeline = await page.locator("#table-timeline").inner_text()
        assert f"first response to {COMPLAINT} by otto" in timeline

        # Past the response target: the journey heard the response, so nothing escalates.
        await workflow_env.sleep(timedelta(hours=3))
        await handle.signal("customer_erased")
        assert await handle.result() == "erased"
    journey_tasks = await tasks_of(db, workflow_id)
    assert [t.kind for t in journey_tasks if t.kind == "escalation"] == []
    [agent] = journey_tasks
    assert (agent.status, agent.closed_by) == ("done", "otto")

    # Claim and complete the VIP call task on the Tasks page.
    async with db.session() as session:
        call = await session.scalar(select(Task).where(Task.kind == "call"))
    assert call is not None
    await page.goto(f"{served}/console/tasks")
    await page.locator(f'tr[data-task="{call.id}"] button[data-action=claim]').click()
    await page.wait_for_url(f"{served}/console/tasks?done=task_claimed")
    claimed = page.locator(f'tr[data-task="{call.id}"]')
    assert await claimed.get_attribute("data-status") == "assigned"
    assert await claimed.get_attribute("data-assignee") == "otto"
    await claimed.locator("select[name=outcome]").select_option("won_back")
    await claimed.locator("input[name=note]").fill("Will order next week")
    await claimed.locator("button[data-action=complete]").click()
    await page.wait_for_url(f"{served}/console/tasks?done=task_completed")
    done = page.locator(f'tr[data-task="{call.id}"]')
    assert await done.get_attribute("data-status") == "done"
    assert await done.locator("[data-outcome]").get_attribute("data-outcome") == "won_back"
    await page.goto(f"{served}/console/customers/c-carol")
    timeline = await page.locator("#table-timeline").inner_text()
    assert f"call {call.id} taken by otto" in timeline
    assert f"call {call.id} done by otto: won back" in timeline

    # The Overview counts the response within its target, and no new SLA breach.
    await page.goto(f"{served}/console/")
    assert await kpi(page, "responses_within_target") == within_before + 1
    assert await kpi(page, "sla_breaches") == breaches_before
    [(escalations,)] = await rows(db, "select count(*) from tasks where kind = 'escalation'")
    assert breaches_before <= escalations
    [(audited,)] = await rows(
        db,
        "select count(*) from audit_log where actor = 'otto' and action in "
        "('complaint_responded', 'task_claimed', 'task_completed')",
    )
    assert audited == 3
    await page.screenshot(path=tmp_path / "overview.png", full_page=True)
    await context.close()

"""`careflow up --demo` as a newcomer meets it: the banner's credentials open a console
with weeks of real activity (the demo history, careflow/demo/history.py), and the
overview's numbers are the store's."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from careflow.demo.history import read_status
from tests.console.test_browser import CHROMIUM_ARGS, SCREENSHOTS, chromium  # noqa: F401
from tests.runtime.test_careflow_up import Up

# The demo's team zone is the shipped outreach policy's default: Asia/Shanghai (UTC+8).
SHIFT = "+8 hours"
DAYS_SHOWN = 49


def sent_per_day(database: Path) -> dict[str, int]:
    """Messages sent per day on the team's calendar, with SQL of the test's own."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "select date(sent_at, ?), count(*) from outreach_ledger where status = 'sent'"
            " group by 1",
            (SHIFT,),
        ).fetchall()
    return {day: count for day, count in rows}


async def wait_for_history(up: Up, within_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    while True:
        status = read_status(up.home)
        if status is not None and status.state == "done":
            return
        assert status is None or status.state != "failed", status
        assert up.process is not None
        if up.process.poll() is not None:
            pytest.fail(f"careflow up exited with {up.process.returncode}:\n{up.log()}")
        if loop.time() > deadline:
            pytest.fail(f"the demo history was not built in time ({status}):\n{up.log()}")
        await asyncio.sleep(1)


@pytest.mark.timeout(900)
async def test_the_demo_console_shows_weeks_of_the_stores_activity(
    tmp_path: Path,
    chromium: Path,  # noqa: F811 - the fixture imported above
) -> None:
    up = Up(tmp_path / "var")
    up.start("--demo")
    try:
        await up.wait_for_api()
        # The first acknowledgement does not wait for the history.
        await up.wait_for_subject("demo-k101", within_seconds=60)
        found = re.search(r"log in as (\S+), password (\S+)", up.log())
        assert found, up.log()
        name, password = found.groups()
        console = f"http://127.0.0.1:{up.http_port}/console/"
        assert console in up.log()

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
            )
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            await page.goto(console)
            await page.fill("input[name=name]", name)
            await page.fill("input[name=password]", password)
            await page.click("button[type=submit]")
            await page.wait_for_url(console)
            status = read_status(up.home)
            if status is not None and status.state == "building":
                # Seen while it is still being built, the console says so.
                notice = page.get_by_test_id("demo-history")
                assert await notice.count() in (0, 1)

            await wait_for_history(up, within_seconds=600)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            for language in ("en", "zh-CN"):
                await page.goto(f"{console}?days={DAYS_SHOWN}&lang={language}")
                assert await page.get_by_test_id("demo-history").count() == 0
                await page.wait_for_function(
                    "window.echarts && echarts.getInstanceByDom("
                    "document.getElementById('chart-messages'))"
                )
                shown: dict[str, int] = defaultdict(int)
                for row in await page.locator("#table-messages tbody tr").all():
                    day = str(await row.get_attribute("data-day"))
                    values = await row.locator("td.num").evaluate_all(
                        "cells => cells.map(c => Number(c.dataset.value))"
                    )
                    shown[day] += sum(values)
                await page.screenshot(
                    path=SCREENSHOTS / f"demo-overview.{language}.png", full_page=True
                )
                stored = sent_per_day(up.home / "careflow.db")
                assert {day: n for day, n in shown.items() if n} == {
                    day: n for day, n in stored.items() if day in shown and n
                }
                active = sorted(date.fromisoformat(day) for day, n in shown.items() if n)
                # At least four weeks of daily activity behind today.
                assert len(active) >= 28, active
                assert active[-1] - active[0] >= timedelta(days=28)
            await browser.close()
        assert problems == []
    finally:
        assert up.stop() == 0

"""The simulator's chart: the console's ECharts chart in one offline HTML file, checked in
chromium against the numbers it was given; still pictures stay available."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from careflow.simulate.plot import plot_messages
from tests.console.test_browser import CHROMIUM_ARGS, chromium  # noqa: F401 - a fixture

PER_DAY = {
    "1997-10-01": {"retention_offer": 12, "complaint_ack": 2},
    "1997-10-02": {"complaint_ack": 1},
    "1997-10-03": {},
}


def test_the_html_chart_carries_its_numbers_and_needs_nothing_from_elsewhere(
    tmp_path: Path,
) -> None:
    path = tmp_path / "messages.html"
    plot_messages(PER_DAY, path, title="messages per day")
    page = path.read_text(encoding="utf-8")
    # The chart library and careflow's chart code are inside; no address to fetch from.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert page.count("<script>") == 2
    found = re.search(r'data-chart="([^"]+)"', page)
    assert found
    spec = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert spec["labels"] == list(PER_DAY)
    assert {series["name"]: series["values"] for series in spec["series"]} == {
        "complaint_ack": [2, 1, 0],
        "retention_offer": [12, 0, 0],
    }
    # The same data gives the same file.
    again = tmp_path / "again.html"
    plot_messages(PER_DAY, again, title="messages per day")
    assert again.read_bytes() == path.read_bytes()


def test_still_pictures_are_still_written(tmp_path: Path) -> None:
    plot_messages(PER_DAY, tmp_path / "m.svg", title="t")
    assert (tmp_path / "m.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    with pytest.raises(ValueError, match=r"\.html, \.png or \.svg"):
        plot_messages(PER_DAY, tmp_path / "m.pdf", title="t")


@pytest.mark.timeout(120)
async def test_chromium_draws_the_html_chart_with_its_numbers(
    tmp_path: Path,
    chromium: Path,  # noqa: F811 - the fixture imported above
) -> None:
    path = tmp_path / "messages.html"
    plot_messages(PER_DAY, path, title="messages per day")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
        )
        page = await browser.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        await page.goto(path.as_uri())
        await page.wait_for_function(
            "window.echarts && echarts.getInstanceByDom(document.getElementById('chart-messages'))"
        )
        series = await page.evaluate(
            """() => echarts.getInstanceByDom(document.getElementById('chart-messages'))
                .getOption().series.map(s => [s.name, s.data])"""
        )
        assert dict(map(tuple, series)) == {
            "complaint_ack": [2, 1, 0],
            "retention_offer": [12, 0, 0],
        }
        assert await page.locator("#chart-messages svg").count() == 1
        await browser.close()
    assert problems == []

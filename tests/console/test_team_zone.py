"""Days start in the team's time zone: on the console, in `careflow kpis` and `GET /kpis`.

A survey answered at 07:30 in Shanghai is 23:30 UTC the evening before: with the
team's zone set to Asia/Shanghai it counts on its local day, and a viewer who
switches to UTC (or `careflow kpis --timezone UTC`) finds it on the day before.
An answer at 23:30 in Shanghai is 15:30 UTC the same day: on that day either way.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from careflow.cli import app
from careflow.config import Settings
from careflow.store import Customer, Database, SurveyResponse
from careflow.team_zone import team_zone
from tests.console.seed import Seeded, seed_store

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Far enough back that the seed's own answers (3, 7 and 45 days ago) are on other days.
LOCAL_DAY = datetime.now(SHANGHAI).date() - timedelta(days=20)
EARLY = datetime.combine(LOCAL_DAY, time(7, 30), tzinfo=SHANGHAI)  # 23:30 UTC, day before
LATE = datetime.combine(LOCAL_DAY, time(23, 30), tzinfo=SHANGHAI)  # 15:30 UTC, same day

SQLITE = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


@pytest.fixture(autouse=True)
def team_in_shanghai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREFLOW_TEAM_TIMEZONE", "Asia/Shanghai")


async def answer_at(db: Database, *moments: datetime) -> None:
    async with db.session() as session:
        customer = await session.scalar(select(Customer.id).where(Customer.external_id == "c-bob"))
        assert customer is not None
        session.add_all(
            SurveyResponse(customer_id=customer, score=5, answered_at=moment.astimezone(UTC))
            for moment in moments
        )


def responses_by_day(html: str) -> dict[str, int]:
    """The satisfaction table's answers per day (`data-day` -> responses)."""
    table = html.split('id="table-satisfaction"', 1)[1].split("</table>", 1)[0]
    found = re.findall(
        r'<tr data-day="([^"]+)"><td>[^<]*</td><td class="num" data-value="(\d+)"', table
    )
    return {day: int(count) for day, count in found}


@SQLITE
async def test_the_console_cuts_days_in_the_team_zone_and_a_viewer_can_switch_to_utc(
    db: Database, logged_in: dict[str, httpx.AsyncClient], seeded: Seeded
) -> None:
    await answer_at(db, EARLY)
    vera = logged_in["vera"]
    until = (LOCAL_DAY + timedelta(days=1)).isoformat()
    team = await vera.get("/console/", params={"days": 7, "until": until})
    assert team.status_code == 200
    assert 'data-zone="Asia/Shanghai"' in team.text
    by_day = responses_by_day(team.text)
    assert by_day[LOCAL_DAY.isoformat()] == 1
    assert by_day[(LOCAL_DAY - timedelta(days=1)).isoformat()] == 0
    # The period starts at the team's midnight: 16:00 UTC the day before.
    first_midnight = datetime.combine(LOCAL_DAY - timedelta(days=6), time(16), tzinfo=UTC)
    assert f'data-since="{first_midnight.isoformat()}"' in team.text

    utc = await vera.get("/console/", params={"days": 7, "until": until, "tz": "utc"})
    assert 'data-zone="UTC"' in utc.text
    by_utc_day = responses_by_day(utc.text)
    assert by_utc_day[LOCAL_DAY.isoformat()] == 0
    assert by_utc_day[(LOCAL_DAY - timedelta(days=1)).isoformat()] == 1
    # The choice is remembered: the next page shows its times in UTC too.
    tasks = await vera.get("/console/tasks")
    assert 'data-zone="UTC"' in tasks.text
    assert re.search(r"[0-9M] UTC</td>", tasks.text)
    back = await vera.get("/console/tasks", params={"tz": "team"})
    assert 'data-zone="Asia/Shanghai"' in back.text
    assert re.search(r"[0-9M] UTC\+8</td>", back.text)
    # A time without an offset on the explain form is on the team's clock too.
    explain = await vera.get(
        "/console/customers/c-alice/explain", params={"at": "2026-11-23T09:00:00"}
    )
    assert "Nov 23, 2026, 9:00:00\u202fAM UTC+8" in explain.text


@SQLITE
async def test_an_answer_late_in_the_evening_is_on_its_day_either_way(
    db: Database, logged_in: dict[str, httpx.AsyncClient], seeded: Seeded
) -> None:
    await answer_at(db, LATE)
    until = (LOCAL_DAY + timedelta(days=1)).isoformat()
    for zone in ("team", "utc"):
        page = await logged_in["vera"].get(
            "/console/", params={"days": 7, "until": until, "tz": zone}
        )
        assert responses_by_day(page.text)[LOCAL_DAY.isoformat()] == 1, zone


@SQLITE
async def test_the_kpi_api_reads_dates_in_the_team_zone(
    db: Database, anonymous: httpx.AsyncClient, seeded: Seeded
) -> None:
    await answer_at(db, EARLY)
    day = {"since": LOCAL_DAY.isoformat(), "until": (LOCAL_DAY + timedelta(days=1)).isoformat()}
    team = (await anonymous.get("/kpis", params=day)).json()
    assert team["timezone"] == "Asia/Shanghai"
    assert team["satisfaction"]["responses"] == 1
    utc = (await anonymous.get("/kpis", params={**day, "timezone": "UTC"})).json()
    assert utc["timezone"] == "UTC"
    assert utc["satisfaction"]["responses"] == 0
    assert (
        await anonymous.get("/kpis", params={**day, "timezone": "Mars/Olympus"})
    ).status_code == 422


@pytest.fixture
async def store_url(db: Database, monkeypatch: pytest.MonkeyPatch) -> str:
    await seed_store(db)
    await answer_at(db, EARLY)
    monkeypatch.setenv("CAREFLOW_DATABASE_URL", db.url)
    return db.url


def kpis_json(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["kpis", "--json", *args])
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.output)
    return report


def responses(report: dict[str, object]) -> int:
    satisfaction = report["satisfaction"]
    assert isinstance(satisfaction, dict)
    return int(satisfaction["responses"])


@SQLITE
def test_careflow_kpis_counts_the_answer_on_its_local_day(store_url: str) -> None:
    def period(first: date) -> list[str]:
        return ["--since", first.isoformat(), "--until", (first + timedelta(days=1)).isoformat()]

    team = kpis_json(*period(LOCAL_DAY))
    assert team["timezone"] == "Asia/Shanghai"
    assert responses(team) == 1
    assert responses(kpis_json(*period(LOCAL_DAY), "--timezone", "UTC")) == 0
    assert responses(kpis_json(*period(LOCAL_DAY - timedelta(days=1)), "--timezone", "UTC")) == 1
    tables = CliRunner().invoke(app, ["kpis", *period(LOCAL_DAY)])
    after = LOCAL_DAY + timedelta(days=1)
    assert f"KPIs from {LOCAL_DAY} 00:00 to {after} 00:00 Asia/Shanghai (UTC+8)" in tables.output
    wrong = CliRunner().invoke(app, ["kpis", "--timezone", "Mars/Olympus"])
    assert wrong.exit_code == 2
    assert "not an IANA time zone" in wrong.output


def test_the_team_zone_defaults_to_the_outreach_policy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CAREFLOW_TEAM_TIMEZONE")
    rules = tmp_path / "rules"
    rules.mkdir()
    shipped = Path(__file__).resolve().parents[2] / "rules" / "outreach_policy.yaml"
    (rules / "outreach_policy.yaml").write_text(
        shipped.read_text(encoding="utf-8").replace(
            "default_timezone: Asia/Shanghai", "default_timezone: Europe/Berlin"
        ),
        encoding="utf-8",
    )
    assert team_zone(Settings(rules_dir=rules)).key == "Europe/Berlin"
    assert team_zone(Settings(rules_dir=rules, team_timezone="UTC")).key == "UTC"
    with pytest.raises(ValueError, match="unknown IANA time zone"):
        Settings(team_timezone="Mars/Olympus")

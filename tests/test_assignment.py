"""Who gets work: team rosters (rules/teams.yaml), round robin and least loaded among members
on duty, account managers for customers without one, rule notifications with a due time."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from careflow.activities.dispatch import DispatchActivities, DispatchInput
from careflow.assignment import (
    ACCOUNT_MANAGER_ASSIGNED,
    AssignmentError,
    pick_member,
    resolve_target,
)
from careflow.cli import app
from careflow.config import Settings
from careflow.console.audit import recent_audit
from careflow.holdout import HoldoutConfig
from careflow.paths import RULES_DIR
from careflow.rules.intents import Intent
from careflow.store import Customer, Database, Task
from careflow.teams import TeamsConfig, TeamsConfigError, load_teams_config
from careflow.workflows.registry import JOURNEYS
from tests.workflows.harness import add_customer

ROSTER = """\
teams:
  sales:
    strategy: round_robin
    timezone: Asia/Shanghai
    members:
      - {name: li.na, email: li.na@shop.example}
      - {name: zhou.min, email: zhou.min@shop.example, days: [sat, sun]}
      - {name: sun.yi, email: sun.yi@shop.example}
  service:
    strategy: least_loaded
    members:
      - {name: wang.fang, email: wang.fang@shop.example, hours: "00:00-24:00",
         days: [mon, tue, wed, thu, fri, sat, sun]}
      - {name: chen.jie, email: chen.jie@shop.example, hours: "00:00-24:00",
         days: [mon, tue, wed, thu, fri, sat, sun]}
"""
# A Tuesday, 10:00 in Shanghai: li.na and sun.yi work, zhou.min (weekends) does not.
TUESDAY = datetime(2026, 12, 1, 2, tzinfo=UTC)
# A Sunday at 03:00 in Shanghai: nobody in sales works then.
SUNDAY_NIGHT = datetime(2026, 11, 28, 19, tzinfo=UTC)
# Saturday 10:00 in Shanghai.
SATURDAY_MORNING = datetime(2026, 11, 28, 2, tzinfo=UTC)


@pytest.fixture
def teams(tmp_path: Path) -> TeamsConfig:
    path = tmp_path / "teams.yaml"
    path.write_text(ROSTER, encoding="utf-8")
    return load_teams_config(path)


def test_the_shipped_rosters_are_valid() -> None:
    shipped = load_teams_config(RULES_DIR / "teams.yaml")
    assert set(shipped.teams) == {"sales", "service"}
    assert shipped.teams["sales"].strategy == "round_robin"


def test_roster_mistakes_name_their_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "teams.yaml"
    path.write_text(
        "teams:\n"
        "  sales:\n"
        "    strategy: first_come\n"
        "    members:\n"
        "      - name: li.na\n"
        "        email: li.na@shop.example\n"
        "        days: [mon, funday]\n"
        "      - name: zhou.min\n"
        "        hours: 18:00-09:00\n",
        encoding="utf-8",
    )
    with pytest.raises(TeamsConfigError) as raised:
        load_teams_config(path)
    assert raised.value.problems == [
        "teams.yaml:3:5: teams.sales.strategy: Input should be 'round_robin' or 'least_loaded'",
        "teams.yaml:7:9: teams.sales.members.0.days: unknown day(s) ['funday']; expected some "
        "of ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']",
        "teams.yaml:8:9: teams.sales.members.1.email: Field required",
        "teams.yaml:9:9: teams.sales.members.1.hours: the hours '18:00-09:00' must start "
        "before they end",
    ]


def test_careflow_rules_check_reports_roster_mistakes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (rules / "teams.yaml").write_text("teams:\n  sales:\n    members: []\n", encoding="utf-8")
    monkeypatch.setenv("CAREFLOW_RULES_DIR", str(rules))
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path / "var"))
    result = CliRunner().invoke(app, ["rules", "check"])
    assert result.exit_code == 1
    assert (
        "teams.yaml:3:5: teams.sales.members: List should have at least 1 item after "
        "validation, not 0" in result.output
    )


async def _assign(db: Database, team: str, teams: TeamsConfig, now: datetime) -> str:
    """Pick a member and give them a task, as a journey's open_task does."""
    async with db.session() as session:
        member = await pick_member(session, teams.teams[team], now)
        count = len(list(await session.scalars(select(Task.id))))
        session.add(
            Task(
                idempotency_key=f"test/{team}/{count}",
                kind="call",
                assignee=member.address,
                title="call",
                status="open",
                created_at=now,
            )
        )
    return member.name


async def test_round_robin_takes_turns_among_members_on_duty(
    db: Database, teams: TeamsConfig
) -> None:
    turns = [await _assign(db, "sales", teams, TUESDAY) for _ in range(4)]
    # zhou.min works weekends only, so on a Tuesday the turn skips them.
    assert turns == ["li.na", "sun.yi", "li.na", "sun.yi"]
    # When nobody is on duty the work still goes round everyone, from where it stood.
    assert await _assign(db, "sales", teams, SUNDAY_NIGHT) == "li.na"
    # On a Saturday morning only zhou.min works.
    assert await _assign(db, "sales", teams, SATURDAY_MORNING) == "zhou.min"


async def test_least_loaded_gives_work_to_whoever_has_least_open(
    db: Database, teams: TeamsConfig
) -> None:
    assert await _assign(db, "service", teams, TUESDAY) == "wang.fang"
    assert await _assign(db, "service", teams, TUESDAY) == "chen.jie"
    assert await _assign(db, "service", teams, TUESDAY) == "wang.fang"
    # Closing wang.fang's two tasks makes them the least loaded (0 against 1), then level
    # (1 and 1: roster order decides), then chen.jie has fewer.
    async with db.session() as session:
        for task in await session.scalars(
            select(Task).where(Task.assignee == "wang.fang@shop.example")
        ):
            task.status = "done"
    assert [await _assign(db, "service", teams, TUESDAY) for _ in range(3)] == [
        "wang.fang",
        "wang.fang",
        "chen.jie",
    ]


async def test_a_customer_without_an_account_manager_gets_one_from_sales(
    db: Database, teams: TeamsConfig
) -> None:
    await add_customer(db, "V-1", tier="vip", now=TUESDAY)
    async with db.session() as session:
        customer = await session.scalar(select(Customer).where(Customer.external_id == "V-1"))
        assert customer is not None
        first = await resolve_target(
            session,
            "account_manager",
            customer=customer,
            teams=teams,
            now=TUESDAY,
            fallback_teams={},
        )
    async with db.session() as session:
        customer = await session.scalar(select(Customer).where(Customer.external_id == "V-1"))
        assert customer is not None
        assert first is not None
        assert customer.account_manager == first.address == "li.na@shop.example"
        # The same person keeps the customer.
        again = await resolve_target(
            session,
            "account_manager",
            customer=customer,
            teams=teams,
            now=TUESDAY,
            fallback_teams={},
        )
    assert again == first
    [audited] = await recent_audit(db, action=ACCOUNT_MANAGER_ASSIGNED)
    assert (audited.actor, audited.target) == ("careflow", "customer V-1")
    async with db.session() as session:
        with pytest.raises(AssignmentError, match="no one called 'nobody'"):
            await resolve_target(
                session, "person:nobody", customer=None, teams=teams, now=TUESDAY, fallback_teams={}
            )
        named = await resolve_target(
            session, "person:sun.yi", customer=None, teams=teams, now=TUESDAY, fallback_teams={}
        )
        no_roster = await resolve_target(
            session,
            "team:marketing",
            customer=None,
            teams=teams,
            now=TUESDAY,
            fallback_teams={"marketing": "marketing@shop.example"},
        )
    assert named is not None
    assert named.address == "sun.yi@shop.example"
    assert no_roster is not None
    assert (no_roster.address, no_roster.person) == ("marketing@shop.example", False)


async def test_a_rule_notification_goes_to_a_team_member_due_in_business_hours(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(RULES_DIR / "journeys.yaml", rules / "journeys.yaml")
    (rules / "teams.yaml").write_text(ROSTER, encoding="utf-8")
    dispatcher = DispatchActivities(
        workflow_env.client,
        db,
        settings.task_queue,
        JOURNEYS,
        holdout=HoldoutConfig,
        secret_key=settings.secret_key,
        rules_dir=rules,
    )
    await add_customer(db, "V-2", tier="vip", now=TUESDAY)
    # Friday 2026-02-13, 17:00 in Shanghai; 4 business hours: 1 on Friday, 3 on Saturday
    # the 14th, a make-up working day (调休) before the Spring Festival.
    friday = datetime(2026, 2, 13, 9, tzinfo=UTC)
    notify = Intent(
        action="notify_team",
        rule_id="vip-complaint",
        ruleset="complaints",
        ruleset_hash="h",
        team="sales",
        params={"message": "Call the VIP", "assign_to": "team:sales", "due_in": "4h"},
    )
    await dispatcher.dispatch(DispatchInput(customer_id="V-2", intents=[notify], at=friday))
    async with db.session() as session:
        [task] = list(await session.scalars(select(Task).where(Task.kind == "notification")))
    assert task.assignee == "li.na@shop.example"
    assert task.due_at == datetime(2026, 2, 14, 4, tzinfo=UTC)  # 12:00 in Shanghai
    assert task.title == "Call the VIP"

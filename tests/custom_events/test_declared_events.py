"""Declared event types (rules/events.yaml): the file, POST /events, the CLI and imports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.cli import app
from careflow.config import Settings
from careflow.custom_events import EventsFileError, load_event_declarations
from careflow.intake.importer import ImportRejected, import_file
from careflow.store import CustomEvent, Database, Event

NOW = "2026-11-23T09:30:00+08:00"
DECLARED = """\
events:
  points_earned:
    description: Loyalty points credited.
    properties:
      points: {type: number, required: true}
      reason: {type: enum, values: [purchase, birthday]}
  app_login:
    properties:
      platform: {type: string}
      first_time: {type: boolean}
      at_least: {type: integer}
      promised_for: {type: datetime}
"""


@pytest.fixture
def rules_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "events.yaml").write_text(DECLARED, encoding="utf-8")
    monkeypatch.setenv("CAREFLOW_RULES_DIR", str(folder))
    return folder


@pytest.fixture
async def api(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings, rules_dir: Path
) -> AsyncIterator[httpx.AsyncClient]:
    state = ApiState(db, workflow_env.client, settings.task_queue, settings.secret_key)
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow") as client:
        yield client


def test_mistakes_in_the_file_are_named_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "events.yaml"
    path.write_text(
        "events:\n"
        "  order_placed: {}\n"
        "  nps_answered:\n"
        "    properties:\n"
        "      score: {type: percentage}\n"
        "      mood: {type: enum}\n",
        encoding="utf-8",
    )
    with pytest.raises(EventsFileError) as error:
        load_event_declarations(path)
    problems = error.value.problems
    assert any(
        p.startswith("events.yaml:2:3: events.order_placed.[key]: ") and "built in" in p
        for p in problems
    )
    assert any(
        p.startswith("events.yaml:5:15: events.nps_answered.properties.score.type: ")
        and "'string'" in p
        for p in problems
    ), problems
    assert any(
        p.startswith("events.yaml:6:7: events.nps_answered.properties.mood: ")
        and "needs its values" in p
        for p in problems
    ), problems


def test_an_edit_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "events.yaml"
    path.write_text("events:\n  a_thing: {}\n", encoding="utf-8")
    assert list(load_event_declarations(path).events) == ["a_thing"]
    path.write_text("events:\n  a_thing: {}\n  another: {}\n", encoding="utf-8")
    import os

    os.utime(path, ns=(1, 10**18))  # a new modification time, however fast the write
    assert list(load_event_declarations(path).events) == ["a_thing", "another"]


async def test_a_declared_event_is_stored_with_its_properties(
    api: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    event_id = f"pts-{settings.task_queue}"
    body = {
        "type": "points_earned",
        "customer_id": "c-1",
        "occurred_at": NOW,
        "data": {"points": "120", "reason": "purchase"},
        "event_id": event_id,
    }
    response = await api.post("/events", json=body)
    assert response.status_code == 202, response.text
    again = await api.post("/events", json=body)
    assert again.json()["duplicate"] is True
    async with db.session() as session:
        stored = (await session.scalars(select(CustomEvent))).all()
        events = (await session.scalars(select(Event))).all()
    assert [(row.event_id, row.type, row.properties) for row in stored] == [
        (event_id, "points_earned", {"points": 120.0, "reason": "purchase"})
    ]
    assert [row.type for row in events] == ["points_earned"]


@pytest.mark.parametrize(
    ("type_", "data", "where", "words"),
    [
        ("points_earned", {"reason": "purchase"}, ["body", "data", "points"], "Field required"),
        ("points_earned", {"points": True}, ["body", "data", "points"], "not true or false"),
        (
            "points_earned",
            {"points": 1, "reason": "gift"},
            ["body", "data", "reason"],
            "'birthday'",
        ),
        ("points_earned", {"points": 1, "pts": 2}, ["body", "data"], "undeclared property 'pts'"),
        ("app_login", {"at_least": 1.5}, ["body", "data", "at_least"], "integer"),
        (
            "app_login",
            {"promised_for": "2026-11-23T10:00"},
            ["body", "data", "promised_for"],
            "timezone",
        ),
        ("app_login", {"platform": 7}, ["body", "data", "platform"], "string"),
        (
            "nps_answered",
            {},
            ["body", "type"],
            "declared in rules/events.yaml (app_login, points_earned)",
        ),
    ],
)
async def test_wrong_data_is_refused_naming_the_property(
    api: httpx.AsyncClient,
    db: Database,
    type_: str,
    data: dict[str, object],
    where: list[str],
    words: str,
) -> None:
    response = await api.post(
        "/events", json={"type": type_, "customer_id": "c-1", "occurred_at": NOW, "data": data}
    )
    assert response.status_code == 422, response.text
    details = response.json()["detail"]
    assert any(d["loc"] == where and words in d["msg"] for d in details), details
    async with db.session() as session:
        assert (await session.scalars(select(CustomEvent))).first() is None


def test_the_cli_names_the_property_before_anything_is_sent(
    tmp_path: Path, rules_dir: Path
) -> None:
    result = CliRunner().invoke(
        app,
        ["event", "points_earned", "c-1", "--data", '{"points": "many"}'],
        env={
            "CAREFLOW_HOME": str(tmp_path / "var"),
            "CAREFLOW_DATABASE_URL": "",
            "TEMPORAL_ADDRESS": "127.0.0.1:1",
        },
    )
    assert result.exit_code == 1
    assert "data.points: Input should be a valid number" in result.output
    unknown = CliRunner().invoke(
        app,
        ["event", "nps", "c-1"],
        env={"CAREFLOW_HOME": str(tmp_path / "var"), "TEMPORAL_ADDRESS": "127.0.0.1:1"},
    )
    assert unknown.exit_code == 1
    assert "unknown event type 'nps'" in unknown.output
    assert "(app_login, points_earned)" in unknown.output
    assert not (tmp_path / "var" / "careflow.db").exists(), "nothing written"


async def test_import_events_checks_every_row_then_imports_once(
    db: Database, tmp_path: Path, rules_dir: Path
) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,timezone\nc1,Asia/Shanghai\nc2,\n", encoding="utf-8")
    await import_file(db, customers, "customers")
    bad = tmp_path / "events.csv"
    bad.write_text(
        "event_id,type,customer_id,occurred_at,points,reason\n"
        "e1,points_earned,c1,2026-01-05,100,purchase\n"
        "e2,points_earned,c2,2026-01-06T10:00:00Z,lots,\n"
        "e3,nps_answered,c2,2026-01-06T10:00:00Z,,\n"
        "e4,order_placed,c2,2026-01-06T10:00:00Z,,\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as rejected:
        await import_file(db, bad, "events")
    shown = [str(problem) for problem in rejected.value.problems]
    assert shown[0].startswith(f"{bad}:3: points: Input should be a valid number")
    assert shown[1].startswith(f"{bad}:4: type: unknown event type 'nps_answered'")
    assert shown[2].startswith(f"{bad}:5: type: 'order_placed' is built in")
    good = tmp_path / "events.jsonl"
    good.write_text(
        '{"event_id": "e1", "type": "points_earned", "customer_id": "c1", '
        '"occurred_at": "2026-01-05", "points": 100, "reason": "purchase"}\n'
        '{"event_id": "e2", "type": "app_login", "customer_id": "c2", '
        '"occurred_at": "2026-01-06T10:00:00Z", "data": {"first_time": "true"}}\n',
        encoding="utf-8",
    )
    first = await import_file(db, good, "events")
    second = await import_file(db, good, "events")
    assert (first.imported, second.imported, second.already_present) == (2, 0, 2)
    async with db.session() as session:
        rows = (await session.scalars(select(CustomEvent).order_by(CustomEvent.event_id))).all()
    assert [(row.type, row.properties) for row in rows] == [
        ("points_earned", {"points": 100.0, "reason": "purchase"}),
        ("app_login", {"first_time": True}),
    ]
    # A bare date is midnight in the customer's own zone (UTC+8).
    assert rows[0].occurred_at.isoformat() == "2026-01-04T16:00:00+00:00"

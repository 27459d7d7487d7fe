"""`careflow simulate` running the real journeys on the time-skipping test server.

Over real CDNOW purchase histories (the first customers of the public sample), the
run's rule firings must be the quick replay's (itself checked against `rules
explain`), its messages the ledger's and the KPIs', the same data must give the same
report, and a moved threshold must change exactly the customers between the two.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from time import monotonic, sleep

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from careflow.cli import app
from careflow.config import Settings
from careflow.facts import compute_facts
from careflow.journey_config import load_journey_config
from careflow.kpis.report import compute_kpis, kpi_settings
from careflow.rule_references import shipped_references
from careflow.rules import RuleBook, load_rulebook
from careflow.rules.rulebook import RULE_FILE_PATTERN
from careflow.simulate import replay, scratch_store
from careflow.simulate.history import CYCLE
from careflow.simulate.outcomes import compare_runs, summarise_run
from careflow.simulate.run import SIMULATION_KEY, SKIP_TIMEOUT, JourneyRun, _advance, run_journeys
from careflow.store import Customer, JourneyRecord, OutreachLedger
from careflow.timeline import customer_timeline

CDNOW = Path(__file__).resolve().parents[1] / "facts" / "data"
SHIPPED = Path(__file__).resolve().parents[2] / "rules"
# The derived facts and declared events the shipped rules name.
OPERATOR_FACT_FILES = (SHIPPED / "derived_facts.yaml", SHIPPED / "events.yaml")
START = date(1997, 10, 1)
# Enough customers for every shipped journey kind the history triggers, few enough
# that a test runs in seconds.
CUSTOMERS = 120

pytestmark = pytest.mark.timeout(600)


def shipped_rules(folder: Path) -> RuleBook:
    """The rules in `folder`, checked against the shipped journeys and templates."""
    return load_rulebook(folder, references=shipped_references())


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The first CUSTOMERS customers of the CDNOW sample and all their orders."""
    folder = tmp_path / "data"
    folder.mkdir()
    with (CDNOW / "cdnow_customers.csv").open(encoding="utf-8") as source:
        rows = list(csv.reader(source))
    kept = rows[: CUSTOMERS + 1]
    ids = {row[0] for row in kept[1:]}
    with (folder / "customers.csv").open("w", encoding="utf-8", newline="") as target:
        csv.writer(target).writerows(kept)
    with (CDNOW / "cdnow_orders.csv").open(encoding="utf-8") as source:
        orders = list(csv.reader(source))
    with (folder / "orders.csv").open("w", encoding="utf-8", newline="") as target:
        csv.writer(target).writerows([orders[0], *(o for o in orders[1:] if o[1] in ids)])
    return folder


def settings_for(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "var")


async def simulate(
    data: Path, rules: Path, work: Path, days: int, *, assume: bool = True
) -> JourneyRun:
    return await run_journeys(
        data,
        rules,
        settings=settings_for(work),
        work_dir=work,
        start=START,
        days=days,
        assume_consent=assume,
        assume_email=assume,
    )


async def test_journeys_run_send_and_agree_with_the_replay_ledger_and_kpis(
    data: Path, tmp_path: Path
) -> None:
    days = 9  # the offers of day one, and their reminders a week later
    run = await simulate(data, SHIPPED, tmp_path / "run", days)
    try:
        assert run.shift % CYCLE == timedelta(0)
        assert run.begin > datetime.now(UTC), "the history runs after the wall clock"
        report, receivers = await summarise_run(run, ["cdnow-00021"])

        # Rule firings: the same customers as the quick replay over the unshifted history.
        scratch = await scratch_store(data, tmp_path / "scratch", assume_consent=True)
        try:
            quick = await replay(
                scratch,
                shipped_rules(SHIPPED),
                start=START,
                days=days,
            )
        finally:
            await scratch.dispose()
        assert receivers.rules == {rule: set(c) for rule, c in quick.customers_by_rule.items()}
        assert {r.rule_id: r.customers for r in report.rules if r.customers} == {
            rule: len(c) for rule, c in quick.customers_by_rule.items()
        }

        # Journeys ran: offers on day one, reminders a week later for those who did not order.
        [offers] = [j for j in report.journeys if j.journey == "retention_offer"]
        assert offers.started > 0
        day_one = report.messages_per_day[START.isoformat()]
        reminders = report.messages_per_day[(START + timedelta(days=7)).isoformat()]
        assert day_one["retention_offer"] + len(report.deferred_customers["quiet_hours"]) >= 1
        assert 0 < reminders["retention_reminder"] <= day_one["retention_offer"]
        assert offers.started == offers.completed + offers.in_flight
        assert report.offers[0].sent == sum(
            counts.get("retention_offer", 0) for counts in report.messages_per_day.values()
        )
        timeline = [line.summary for line in report.timelines["cdnow-00021"]]
        assert "retention_offer sent" in timeline
        assert "retention_reminder sent" in timeline

        # The ledger holds what the report counts, day by day on the journeys' clock.
        async with run.db.session() as session:
            ledger = (
                await session.execute(
                    select(OutreachLedger.template_id, OutreachLedger.sent_at).where(
                        OutreachLedger.status == "sent"
                    )
                )
            ).all()
        per_day: dict[str, dict[str, int]] = {}
        for template, sent_at in ledger:
            day = (sent_at - run.shift).date().isoformat()
            per_day.setdefault(day, {}).setdefault(template, 0)
            per_day[day][template] += 1
        assert {d: c for d, c in report.messages_per_day.items() if c} == per_day

        # `careflow kpis` on the simulated store agrees with counts straight from it.
        kpis = await compute_kpis(run.db, run.begin, run.end, kpi_settings(SHIPPED))
        async with run.db.session() as session:
            by_status = dict(
                (
                    await session.execute(
                        text(
                            "SELECT status, count(*) FROM outreach_ledger "
                            "WHERE created_at >= :begin AND created_at < :end GROUP BY status"
                        ),
                        {"begin": _naive(run.begin), "end": _naive(run.end)},
                    )
                ).all()
            )
            journeys = await session.scalar(
                select(func.count())
                .select_from(JourneyRecord)
                .where(
                    JourneyRecord.journey == "retention_offer",
                    JourneyRecord.status != "holdout",
                )
            )
            held_out = await session.scalar(
                select(func.count())
                .select_from(JourneyRecord)
                .where(JourneyRecord.status == "holdout")
            )
            customers = await session.scalar(select(func.count()).select_from(Customer))
        assert kpis.messages_by_status == by_status
        # What the progress bar counted as it went (`on_sent`) is what was sent.
        assert run.sends.sent == by_status["sent"]
        assert by_status["sent"] == sum(sum(c.values()) for c in report.messages_per_day.values())
        offered = kpis.retention_offer.offered
        assert offered.journeys + offered.waiting == journeys == offers.started
        holdout = kpis.retention_offer.holdout
        assert holdout.journeys + holdout.waiting == held_out == offers.held_out
        assert sum(tier.customers for tier in kpis.churn_by_tier) == customers
    finally:
        await run.db.dispose()


def _naive(moment: datetime) -> datetime:
    # The store keeps UTC without an offset on SQLite (careflow.store.types.UtcDateTime).
    return moment.astimezone(UTC).replace(tzinfo=None)


async def test_same_data_and_rules_give_the_same_report(data: Path, tmp_path: Path) -> None:
    reports = []
    for attempt in ("first", "second"):
        run = await simulate(data, SHIPPED, tmp_path / attempt, 3)
        try:
            report, _ = await summarise_run(run, ["cdnow-00021", "cdnow-00004"])
        finally:
            await run.db.dispose()
        reports.append(json.dumps(asdict(report), default=str, sort_keys=True))
    assert reports[0] == reports[1]


async def test_the_next_offer_starts_the_instant_the_first_gives_up(tmp_path: Path) -> None:
    """cdnow-01099 is due for an offer by two rules on the first day. The first offer
    gives up 14 days later at the scan's own time, and the scan at that instant starts
    the other rule's offer: not a day later on a slower run (the scan used to race the
    give-up, and about 20 days of a 2,357-customer report moved between runs; the
    dispatcher's side is tested in tests/workflows/test_dispatch_to_journeys.py)."""
    folder = _only_customer(tmp_path / "data", "cdnow-01099")
    goal_wait = timedelta(
        days=load_journey_config(SHIPPED / "journeys.yaml").retention_offer.goal_wait_days
    )
    run = await simulate(folder, SHIPPED, tmp_path / "run", goal_wait.days + 1)
    try:
        async with run.db.session() as session:
            offers = list(
                await session.scalars(select(JourneyRecord).order_by(JourneyRecord.started_at))
            )
        timeline = await customer_timeline(run.db, "cdnow-01099", secret_key=SIMULATION_KEY)
    finally:
        await run.db.dispose()
    first, second = offers
    # Meanwhile a rule fired every day (the first one, then, the customer now dormant,
    # the second), and the timeline says why no offer started: the first offer.
    assert timeline is not None
    waiting = {
        entry.at
        for entry in timeline
        if "retention_offer not started: " in str(entry.summary)
        and first.workflow_id in str(entry.summary)
    }
    assert waiting == {first.started_at + timedelta(days=day) for day in range(1, goal_wait.days)}
    scan_time = run.begin + timedelta(hours=6)
    assert (first.started_at, first.outcome) == (scan_time, "goal_not_met")
    assert second.started_at == scan_time + goal_wait
    assert second.rule_id != first.rule_id
    assert second.status == "running"


def _only_customer(folder: Path, customer: str) -> Path:
    """An import folder holding one CDNOW customer of the test data and their orders."""
    folder.mkdir()
    for name, column in (("customers", 0), ("orders", 1)):
        with (CDNOW / f"cdnow_{name}.csv").open(encoding="utf-8") as source:
            header, *rows = list(csv.reader(source))
        with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as target:
            csv.writer(target).writerows([header, *(r for r in rows if r[column] == customer)])
    return folder


async def test_a_moved_threshold_changes_exactly_the_customers_between(
    data: Path, tmp_path: Path
) -> None:
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    for path in [*SHIPPED.glob(RULE_FILE_PATTERN), *OPERATOR_FACT_FILES]:
        shutil.copy(path, other_dir / path.name)
    retention = other_dir / "retention.rules.yaml"
    text_ = retention.read_text(encoding="utf-8")
    retention.write_text(text_.replace("between: [90, 365]", "between: [120, 365]"), "utf-8")
    runs = [
        await simulate(data, SHIPPED, tmp_path / "base", 1),
        await simulate(data, other_dir, tmp_path / "other-run", 1),
    ]
    try:
        base, other = [await summarise_run(run) for run in runs]
        comparison = compare_runs(base, other)
        async with runs[0].db.session() as session:
            ids = dict((await session.execute(select(Customer.id, Customer.external_id))).all())
            facts = await compute_facts(session, list(ids), runs[0].begin + timedelta(hours=6))
    finally:
        for run in runs:
            await run.db.dispose()
    between = {
        ids[pk]
        for pk, f in facts.items()
        if f["lifecycle_stage"] == "dormant"
        and f["tier"] != "vip"
        and 90 <= int(f.get("days_since_last_order", -1)) < 120  # type: ignore[call-overload]
    }
    assert between
    [rule] = [r for r in comparison.rules if r.journey == "dormant-win-back"]
    assert (rule.newly, rule.no_longer) == ([], sorted(between))
    # Some of them still get an offer: another rule (declining frequency) asks for one.
    [journey] = [j for j in comparison.journeys if j.journey == "retention_offer"]
    assert journey.newly == []
    assert journey.no_longer
    assert set(journey.no_longer) <= between
    assert all(j.newly == j.no_longer == [] for j in comparison.journeys if j is not journey)
    day = START.isoformat()
    lost = len(journey.no_longer)
    assert comparison.messages_per_day_change[day]["retention_offer"] == -lost
    offers_before = base[0].offers[0]
    offers_after = other[0].offers[0]
    assert offers_before.sent - offers_after.sent == lost
    currency = offers_before.currency
    assert comparison.offer_value_sent_change[currency] == pytest.approx(
        offers_after.value_sent - offers_before.value_sent
    )
    assert comparison.offer_value_sent_change[currency] < 0


def test_cli_journeys_report_plot_and_json(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path / "var"))
    out, chart = tmp_path / "report.json", tmp_path / "messages.svg"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            *("--data", str(data), "--from", "1997-10-01", "--days", "2"),
            *("--assume-consent", "--assume-email", "--customer", "cdnow-00021"),
            *("--json", str(out), "--plot", str(chart)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "messages sent per day" in result.output
    assert "timeline of cdnow-00021" in result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["messages_per_day"]["1997-10-01"]["retention_offer"] > 0
    assert {"rules", "journeys", "deferred_customers", "offers", "timelines"} <= set(report)
    assert chart.read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_cli_refuses_a_plot_it_cannot_write(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--data",
            str(tmp_path),
            "--from",
            "1997-10-01",
            "--days",
            "1",
            "--plot",
            str(tmp_path / "chart.pdf"),
        ],
    )
    assert result.exit_code != 0
    assert ".html, .png or .svg" in result.output


class _SkippingServer:
    """Just enough of a TimeSkippingServer to see how `_advance` asks for a skip."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.requests: list[tuple[timedelta, timedelta]] = []

    async def current_time(self) -> datetime:
        return self.now

    async def skip(self, duration: timedelta, *, rpc_timeout: timedelta) -> None:
        self.requests.append((duration, rpc_timeout))


async def test_a_skip_may_take_as_long_as_the_journeys_it_lets_run() -> None:
    # The server answers a skip once every journey due before its end has run; the
    # client's default timeout for an ordinary call stopped 90 days of 2,357 customers.
    now = datetime(2053, 10, 1, 6, tzinfo=UTC)
    server = _SkippingServer(now)
    await _advance(server, now + timedelta(hours=18))  # type: ignore[arg-type]
    await _advance(server, now)  # no skip backwards or in place
    assert server.requests == [(timedelta(hours=18), SKIP_TIMEOUT)]
    assert timedelta(hours=1) <= SKIP_TIMEOUT


async def test_the_report_is_the_same_whatever_the_number_of_workers(
    data: Path, tmp_path: Path
) -> None:
    """Customers split across 4 processes' servers give the very report of one server,
    and so do 4 partitions in 2 processes, each simulating two one after the other."""
    reports = []
    for workers, partitions in ((1, 1), (4, 4), (2, 4)):
        work = tmp_path / f"workers-{workers}-{partitions}"
        run = await run_journeys(
            data,
            SHIPPED,
            settings=settings_for(work),
            work_dir=work,
            start=START,
            days=9,
            assume_consent=True,
            assume_email=True,
            workers=workers,
            partition_customers=-(-CUSTOMERS // partitions),
        )
        try:
            assert len(run.parts) == partitions
            report, _ = await summarise_run(run, ["cdnow-00021", "cdnow-00004"])
        finally:
            await run.dispose()
        reports.append(json.dumps(asdict(report), default=str, ensure_ascii=False, indent=1))
    assert sum(json.loads(reports[0])["messages_by_outcome"].values()) > 0
    assert reports[0] == reports[1] == reports[2]


def _session_processes(session: int) -> dict[int, str]:
    """Pid -> command name of every live process in the session `session` (Linux)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8")
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid pgrp session ...": comm may hold spaces and parentheses.
        name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
        state, _ppid, _group, owner = fields.split()[:4]
        if int(owner) == session and state != "Z":
            found[int(entry.name)] = name
    return found


def _stopped_by(
    command: list[str], environment: dict[str, str], servers: int, stop: int = signal.SIGTERM
) -> tuple[int, str]:
    """Run `command` until `servers` test servers run, send it the signal `stop`, and
    check that it left nothing running; its exit status and what it wrote to stderr."""
    # A session of its own: what it starts, and only that, has its session id.
    process = subprocess.Popen(
        command,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = monotonic() + 120
        running: dict[int, str] = {}
        while len(running) < servers and process.poll() is None and monotonic() < deadline:
            # The kernel keeps 15 characters of a command's name: "temporal-test-s".
            running = {
                pid: name
                for pid, name in _session_processes(process.pid).items()
                if name.startswith("temporal-test")
            }
            sleep(0.05)  # polling for the servers to start, not waiting out a race
        assert len(running) == servers, "the simulation's test servers never all started"
        process.send_signal(stop)
        # A process left running would hold the pipes open: this would time out.
        _, errors = process.communicate(timeout=120)
        assert process.returncode != 0, "the simulation ran to its end: nothing was stopped"
        # multiprocessing's resource tracker ends on its own once its parent has gone,
        # a moment later; a test server left behind never does.
        deadline = monotonic() + 10
        while (left := _session_processes(process.pid)) and monotonic() < deadline:
            sleep(0.05)  # polling for processes to end, not waiting out a race
        assert left == {}, "left running after the simulation"
        return process.returncode, errors
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


needs_proc = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="reads processes from /proc"
)


@needs_proc
@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_stops_the_test_servers_and_workers(
    data: Path, tmp_path: Path, workers: int
) -> None:
    """A simulation told to stop (SIGTERM: a CI timeout, `kill`, systemd) leaves nothing
    running: before, its test servers went on after it, one per partition."""
    command = [sys.executable, "-m", "careflow", "simulate", "--data", str(data)]
    command += ["--from", "1997-10-01", "--days", "90", "--assume-consent", "--assume-email"]
    command += ["--workers", str(workers)]
    environment = {**os.environ, "CAREFLOW_HOME": str(tmp_path / "var")}
    status, errors = _stopped_by(command, environment, servers=workers)
    assert status == 128 + signal.SIGTERM, errors
    assert "simulation stopped (SIGTERM)" in errors


@needs_proc
@pytest.mark.parametrize("workers", [1, 2])
def test_a_killed_simulation_leaves_nothing_running(
    data: Path, tmp_path: Path, workers: int
) -> None:
    """SIGKILL (the OOM killer, `kill -9`) gives careflow no chance to stop anything:
    the kernel stops its test servers and worker processes, which stop theirs."""
    command = [sys.executable, "-m", "careflow", "simulate", "--data", str(data)]
    command += ["--from", "1997-10-01", "--days", "90", "--assume-consent", "--assume-email"]
    command += ["--workers", str(workers)]
    environment = {**os.environ, "CAREFLOW_HOME": str(tmp_path / "var")}
    status, _ = _stopped_by(command, environment, servers=workers, stop=signal.SIGKILL)
    assert status == -signal.SIGKILL


@needs_proc
def test_sigterm_starts_no_partition_still_waiting(data: Path, tmp_path: Path) -> None:
    """4 partitions in 2 processes: those still queued are never started once told to
    stop (a worker that went back to the pool would take one and start its server)."""
    script = (
        "import asyncio, sys\n"
        "from datetime import date\n"
        "from pathlib import Path\n"
        "from careflow.config import Settings\n"
        "from careflow.simulate.run import run_journeys\n"
        "data, rules, work = map(Path, sys.argv[1:])\n"
        "asyncio.run(run_journeys(data, rules, settings=Settings(home=work / 'var'),\n"
        "    work_dir=work, start=date(1997, 10, 1), days=90, assume_consent=True,\n"
        f"    assume_email=True, workers=2, partition_customers={CUSTOMERS // 4}))\n"
    )
    command = [sys.executable, "-c", script, str(data), str(SHIPPED), str(tmp_path / "run")]
    _stopped_by(command, dict(os.environ), servers=2)


def test_a_worker_whose_stop_hangs_ends_after_the_grace() -> None:
    """A worker process told to stop ends by itself once the grace is over, even if its
    way out never finishes: when its parent was SIGKILLed, nobody else would end it."""
    script = (
        "import threading\n"
        "import careflow.simulate.run as run\n"
        "run.STOP_GRACE_SECONDS = 0.5\n"
        "run._exit_after_grace()\n"
        "threading.Event().wait()  # a way out that never finishes\n"
    )
    process = subprocess.run([sys.executable, "-c", script], timeout=60, check=False)
    assert process.returncode == 128 + signal.SIGTERM

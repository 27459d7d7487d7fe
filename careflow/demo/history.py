"""The demo's lived-in history: six weeks of real purchases run through careflow.

`careflow up --demo` starts this module as a separate, low-priority process after the
demo's first acknowledgements are on their way (`start_history_build`), unless the
history was built before under `CAREFLOW_HOME`. The process:

1. runs the simulator (`careflow.simulate.run_journeys`, the production worker on
   Temporal's time-skipping test server) over `data/history/` - 400 real CDNOW
   customers with their purchases, and invented complaints and survey answers (the
   folder's README says how) - for `DAYS` days from `START`, with every customer's
   marketing consent and an address under `simulated.invalid` assumed, and a tenth
   of retention offers held out so the holdout comparison has two sides. The live
   rule files and journeys are used; its store is `CAREFLOW_HOME/demo/history/`.
2. copies everything the run stored (customers, orders, complaints, events, rule
   decisions, journeys, messages, surveys, tasks, consent) into the live store, every
   time moved so that the simulated window ends at the start of today (UTC): the
   console then has weeks of real activity behind today. Ids are renumbered after
   the live store's own. Journeys still running when the window ended never ran in
   this Temporal: they are recorded as ended with the outcome `demo_history_ended`.
3. writes `status.json` beside its store all along (`building`, day by day, then
   `done`, `failed` or `stopped`), which the console shows until the history is in.

The copy is one transaction: an interrupted build leaves nothing behind, and the next
`careflow up --demo` builds again. On 2 cores a build takes about a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import func, insert, select, text, update

from careflow.config import Settings, load_settings
from careflow.paths import DEMO_DATA_DIR
from careflow.store import Database, JourneyRecord, create_database
from careflow.store.models import Base

HISTORY_DATA = DEMO_DATA_DIR / "history"
START = date(1997, 3, 10)
DAYS = 49
# The share of retention offers held out in the demo's history (holdout.yaml's key).
HOLDOUT_SHARE = 0.1
ENDED_OUTCOME = "demo_history_ended"
STATUS_FILE = "status.json"
# What the run stored that the console shows; users, sessions and the audit log are
# the live store's own.
COPIED_TABLES = (
    "customers",
    "events",
    "complaints",
    "consents",
    "customer_tags",
    "journeys",
    "orders",
    "outreach_ledger",
    "rule_decisions",
    "survey_responses",
    "tasks",
)
# Rows per INSERT: well under the bound parameters SQLite and asyncpg take at once.
BATCH = 200

log = logging.getLogger("careflow.demo.history")


def history_dir(home: Path) -> Path:
    return home / "demo" / "history"


@dataclass(frozen=True)
class HistoryStatus:
    """Where the build is: `building` (with the days simulated so far), `done`, `failed`,
    or `stopped` (with careflow up, before it was done: `careflow up --demo` starts again)."""

    state: Literal["building", "done", "failed", "stopped"]
    day: int = 0
    days: int = DAYS
    detail: str = ""


def read_status(home: Path) -> HistoryStatus | None:
    """The build's status, or None when no build was ever started under `home`."""
    try:
        raw = json.loads((history_dir(home) / STATUS_FILE).read_text(encoding="utf-8"))
        return HistoryStatus(**raw)
    except (OSError, ValueError, TypeError):
        return None


def write_status(home: Path, status: HistoryStatus) -> None:
    """Replace the status file in one step: a reader never sees half of it."""
    folder = history_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{STATUS_FILE}.{os.getpid()}"
    partial.write_text(json.dumps(asdict(status)), encoding="utf-8")
    partial.replace(folder / STATUS_FILE)


def _demo_rules(configured: Path, target: Path) -> Path:
    """The live operator files, with `HOLDOUT_SHARE` of retention offers held out."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path in sorted(configured.glob("*.yaml")):
        # Contents only: copying the checkout's mode bits would leave these world-readable
        # under a home the service keeps private.
        shutil.copyfile(path, target / path.name)
    holdout = target / "holdout.yaml"
    lines = holdout.read_text(encoding="utf-8").splitlines() if holdout.exists() else []
    kept = [line for line in lines if not line.strip().startswith("retention_offer:")]
    if not any(line.startswith("journeys:") for line in kept):
        kept.append("journeys:")
    at = next(i for i, line in enumerate(kept) if line.startswith("journeys:"))
    kept.insert(at + 1, f"  retention_offer: {HOLDOUT_SHARE}")
    holdout.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return target


async def build_history(settings: Settings, *, today: date | None = None) -> dict[str, int]:
    """Simulate the demo's history and copy it into the live store; returns rows copied."""
    # Imported here: the simulator brings the time-skipping test server's client along.
    from careflow.simulate.run import run_journeys

    home = settings.resolved_home
    work = history_dir(home)
    write_status(home, HistoryStatus("building"))
    rules = await asyncio.to_thread(_demo_rules, settings.rules_dir, work / "rules-source")
    run = await run_journeys(
        HISTORY_DATA,
        rules,
        settings=settings,
        work_dir=work / "run",
        start=START,
        days=DAYS,
        assume_consent=True,
        assume_email=True,
        on_day=lambda day: write_status(home, HistoryStatus("building", (day - START).days + 1)),
    )
    live = create_database(settings.sqlalchemy_url)
    try:
        first_hour = datetime.combine(today or datetime.now(UTC).date(), time(), UTC)
        copied = await copy_history(run.db, live, shift=first_hour - run.end, ended_at=first_hour)
    finally:
        await live.dispose()
        await run.db.dispose()
    write_status(home, HistoryStatus("done", DAYS))
    return copied


async def copy_history(
    source: Database, target: Database, *, shift: timedelta, ended_at: datetime
) -> dict[str, int]:
    """Every row of COPIED_TABLES from `source` into `target`, in one transaction:
    integer ids after the target's own (references follow), times moved by `shift`."""
    tables = [table for table in Base.metadata.sorted_tables if table.name in COPIED_TABLES]
    offsets: dict[str, int] = {}
    copied: dict[str, int] = {}
    async with source.engine.connect() as reading, target.engine.begin() as writing:
        for table in tables:  # referenced tables first
            offset = int((await writing.execute(select(func.max(table.c.id)))).scalar() or 0)
            offsets[table.name] = offset
            rows = [dict(row) for row in (await reading.execute(select(table))).mappings()]
            for row in rows:
                _move(row, table, offsets, shift)
            for first in range(0, len(rows), BATCH):
                await writing.execute(insert(table), rows[first : first + BATCH])
            copied[table.name] = len(rows)
        await writing.execute(
            update(JourneyRecord)
            .where(JourneyRecord.status == "running", JourneyRecord.id > offsets["journeys"])
            .values(status="ended", outcome=ENDED_OUTCOME, ended_at=ended_at)
        )
        if writing.dialect.name == "postgresql":
            # Ids were given explicitly: move each serial on past them.
            for table in tables:
                await writing.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"  # noqa: S608 - table names from the models
                        f" (SELECT max(id) FROM {table.name}))"
                    )
                )
    return copied


def _move(row: dict[str, Any], table: Any, offsets: dict[str, int], shift: timedelta) -> None:
    row["id"] += offsets[table.name]
    for column in table.columns:
        value = row[column.name]
        if value is None or column.primary_key:
            continue
        references = [key.column.table.name for key in column.foreign_keys]
        if references:
            row[column.name] = value + offsets[references[0]]
        elif isinstance(value, datetime):
            row[column.name] = value + shift


def history_needed(home: Path) -> bool:
    """A build is started unless one finished under `home` before."""
    status = read_status(home)
    return status is None or status.state != "done"


async def start_history_build(settings: Settings) -> asyncio.subprocess.Process | None:
    """Start building the history in a process of its own (niced, its own session, so a
    terminal's Ctrl-C reaches it only through `careflow up`); None when already built."""
    if not history_needed(settings.resolved_home):
        return None
    write_status(settings.resolved_home, HistoryStatus("building"))
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "careflow.demo.history", start_new_session=True
    )


async def stop_history_build(process: asyncio.subprocess.Process, *, grace: float = 20) -> None:
    """SIGTERM to the build (it stops its test server), then SIGKILL to its whole group."""
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), grace)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


async def _main() -> int:
    settings = load_settings()
    home = settings.resolved_home
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for stop in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop, task.cancel)
    try:
        copied = await build_history(settings)
    except asyncio.CancelledError:
        write_status(home, HistoryStatus("stopped"))
        return 1
    except Exception as error:
        log.exception("the demo history could not be built")
        write_status(home, HistoryStatus("failed", detail=f"{type(error).__name__}: {error}"))
        return 1
    print(
        f"demo history: {DAYS} days of CDNOW purchases run through careflow, "
        f"{sum(copied.values())} rows copied into the store",
        flush=True,
    )
    return 0


def main() -> None:
    # The live worker and API come first: this is background work.
    os.nice(10)
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(_main()))


if __name__ == "__main__":
    main()

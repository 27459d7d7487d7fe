"""Backtesting a draft against the active release over the store's own recent history.

A bounded sample of real customers (every k-th by store key, at most `sample`, the
size stated in the result) is written out in the `careflow import` format without
names, addresses or free text, and `careflow simulate --compare`'s machinery runs the
active release and the draft over the last `days` days of it on Temporal's
time-skipping test server (careflow/simulate/): who newly gets or no longer gets each
journey, messages per day, offer value. Since the sample has no addresses or consent,
both runs assume every customer has an address and marketing consent
(`--assume-email --assume-consent`). The sample folder stays beside the result, so
`careflow simulate` over it (the command is in the result) gives the same numbers.
"""

from __future__ import annotations

import asyncio
import csv
import shutil
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from careflow.config import Settings
from careflow.releases.bundle import RULES_PREFIX, TEMPLATES_PREFIX
from careflow.releases.materialize import materialize
from careflow.releases.repository import active_release_id, record_backtest, release_files
from careflow.store import Complaint, Customer, Database, Order, SurveyResponse

DEFAULT_SAMPLE = 200
MAX_SAMPLE = 2000
DEFAULT_DAYS = 30
MAX_DAYS = 90


class BacktestUnavailable(Exception):
    """No backtest can be run (no active release, no customers); the message says which."""


def _iso(value: datetime | date | None) -> str:
    return "" if value is None else value.isoformat()


async def export_sample(db: Database, folder: Path, *, sample: int, until: datetime) -> int:
    """Write up to `sample` customers (every k-th by key) and their orders, complaints and
    survey answers before `until` into `folder` as import files; how many customers."""
    async with db.session() as session:
        total = await session.scalar(
            select(func.count()).select_from(Customer).where(Customer.erased_at.is_(None))
        )
        step = max(1, (total or 0) // sample)
        customers = list(
            await session.scalars(
                select(Customer)
                .where(Customer.erased_at.is_(None), Customer.id % step == 0)
                .order_by(Customer.id)
                .limit(sample)
            )
        )
        keys = {customer.id: customer.external_id for customer in customers}
        orders = list(
            await session.scalars(
                select(Order)
                .where(Order.customer_id.in_(keys), Order.ordered_at < until)
                .order_by(Order.id)
            )
        )
        complaints = list(
            await session.scalars(
                select(Complaint)
                .where(Complaint.customer_id.in_(keys), Complaint.opened_at < until)
                .order_by(Complaint.id)
            )
        )
        complaint_ids = {complaint.id: complaint.external_id for complaint in complaints}
        surveys = list(
            await session.scalars(
                select(SurveyResponse)
                .where(SurveyResponse.customer_id.in_(keys), SurveyResponse.answered_at < until)
                .order_by(SurveyResponse.id)
            )
        )
    tables: dict[str, tuple[list[str], list[list[str]]]] = {
        "customers.csv": (
            [
                "customer_id",
                "locale",
                "timezone",
                "birthday",
                "birthday_calendar",
                "tier",
                "created_at",
            ],
            [
                [
                    c.external_id,
                    c.locale or "",
                    c.timezone or "",
                    _iso(c.birthday),
                    c.birthday_calendar,
                    c.tier or "",
                    _iso(c.created_at),
                ]
                for c in customers
            ],
        ),
        "orders.csv": (
            ["order_id", "customer_id", "ordered_at", "amount"],
            [
                [o.external_id, keys[o.customer_id], _iso(o.ordered_at), str(o.amount)]
                for o in orders
            ],
        ),
        "complaints.csv": (
            [
                "complaint_id",
                "customer_id",
                "opened_at",
                "severity",
                "channel",
                "status",
                "resolved_at",
            ],
            [
                [
                    c.external_id,
                    keys[c.customer_id],
                    _iso(c.opened_at),
                    c.severity,
                    c.channel or "",
                    c.status,
                    _iso(c.resolved_at if c.resolved_at and c.resolved_at < until else None),
                ]
                for c in complaints
            ],
        ),
        "surveys.csv": (
            ["customer_id", "answered_at", "score", "complaint_id"],
            [
                [
                    keys[s.customer_id],
                    _iso(s.answered_at),
                    str(s.score),
                    complaint_ids.get(s.complaint_id, "") if s.complaint_id else "",
                ]
                for s in surveys
                if s.complaint_id is None or s.complaint_id in complaint_ids
            ],
        ),
    }
    await asyncio.to_thread(_write_tables, folder, tables)
    return len(customers)


def _write_tables(folder: Path, tables: dict[str, tuple[list[str], list[list[str]]]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (header, rows) in tables.items():
        with (folder / name).open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(header)
            writer.writerows(rows)


async def backtest_release(
    db: Database,
    release_id: str,
    *,
    settings: Settings,
    actor: str,
    sample: int = DEFAULT_SAMPLE,
    days: int = DEFAULT_DAYS,
    today: date | None = None,
) -> dict[str, Any]:
    """Run the draft and the active release over the last `days` days of a sample of
    `sample` customers, store the comparison on the release, and return it."""
    if not 1 <= sample <= MAX_SAMPLE:
        raise ValueError(f"the sample is 1 to {MAX_SAMPLE} customers")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a backtest covers 1 to {MAX_DAYS} days")
    from careflow.simulate.outcomes import compare_runs, summarise_run
    from careflow.simulate.run import run_journeys

    active = await active_release_id(db)
    if active is None:
        raise BacktestUnavailable("no release is active to compare with")
    cache = settings.resolved_home / "releases"
    today = today or datetime.now(UTC).date()
    first_day = today - timedelta(days=days)
    work = cache / "backtests" / f"{release_id[:12]}-vs-{active[:12]}"
    await asyncio.to_thread(shutil.rmtree, work, ignore_errors=True)
    customers = await export_sample(
        db, work / "data", sample=sample, until=datetime.combine(today, datetime.min.time(), UTC)
    )
    if customers == 0:
        raise BacktestUnavailable("the store has no customers to backtest with")
    summaries = []
    folders = []
    for number, release in enumerate((active, release_id)):
        files = await release_files(db, release)
        folder = await asyncio.to_thread(materialize, files, cache, release)
        folders.append(folder)
        run = await run_journeys(
            work / "data",
            folder / RULES_PREFIX,
            settings=settings.model_copy(
                update={
                    "rules_dir": folder / RULES_PREFIX,
                    "templates_dir": folder / TEMPLATES_PREFIX,
                }
            ),
            work_dir=work / f"run-{number}",
            start=first_day,
            days=days,
            assume_consent=True,
            assume_email=True,
        )
        try:
            summaries.append(await summarise_run(run))
        finally:
            await run.db.dispose()
    comparison = compare_runs(summaries[0], summaries[1])
    result: dict[str, Any] = {
        "against": active,
        "sample": customers,
        "sample_limit": sample,
        "days": days,
        "from": first_day.isoformat(),
        "data": str(work / "data"),
        "command": (
            f"careflow simulate --data {work / 'data'} --from {first_day} --days {days} "
            f"--rules {folders[0] / RULES_PREFIX} --compare {folders[1] / RULES_PREFIX} "
            "--assume-consent --assume-email"
        ),
        "journeys": [
            {"journey": item.journey, "newly": len(item.newly), "no_longer": len(item.no_longer)}
            for item in comparison.journeys
        ],
        "comparison": asdict(comparison),
    }
    await record_backtest(db, release_id, actor=actor, backtest=_jsonable(result))
    return result


def _jsonable(value: Any) -> Any:
    """Sets and dates as JSON has them (the comparison's customer sets, its days)."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(item) for item in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, date):
        return value.isoformat()
    return value

"""The scratch store a simulation runs on: a SQLite file loaded with `careflow import`.

The data folder holds the files `careflow import` reads, named by kind:
`customers.csv` (or `.jsonl`), and optionally `orders` and `complaints`. They go
through the importer itself, so a simulation sees exactly what an import would
store, and a bad row is reported the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

from sqlalchemy import insert, select

from careflow import __version__
from careflow.facts.customers import EMAIL_CHANNEL, MARKETING_TOPIC
from careflow.intake.importer import ImportKind, import_file
from careflow.store import Consent, Customer, Database, create_database

SUFFIXES = (".csv", ".jsonl")
# Consent assumed for every customer counts from the start of time.
_ALWAYS = datetime(1970, 1, 1, tzinfo=UTC)


class SimulationDataError(ValueError):
    """The data folder lacks a file the simulation needs."""


def data_files(folder: Path) -> dict[ImportKind, Path]:
    """The import file of each kind found in `folder`; customers are required."""
    found: dict[ImportKind, Path] = {}
    for kind in get_args(ImportKind):
        for suffix in SUFFIXES:
            path = folder / f"{kind}{suffix}"
            if path.is_file():
                found[kind] = path
                break
    if "customers" not in found:
        raise SimulationDataError(
            f"{folder}: no customers.csv or customers.jsonl (the `careflow import` format)"
        )
    return found


def data_digest(files: dict[ImportKind, Path], *, assume_consent: bool) -> str:
    """Names the scratch store of this data: the files' bytes, the consent assumption and
    careflow's version (an importer that changed may store the same files differently)."""
    digest = hashlib.sha256(f"{__version__}\0consent={assume_consent}\0".encode())
    for kind, path in sorted(files.items()):
        digest.update(kind.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


async def scratch_store(folder: Path, cache_dir: Path, *, assume_consent: bool) -> Database:
    """The migrated SQLite store holding the folder's data, imported once per content.

    Importing a large history takes far longer than replaying it, and operators
    replay the same data under many rule sets, so the store is kept in `cache_dir`
    under the data's digest and reused. It is built under a temporary name and
    renamed when complete, so an interrupted import is never reused.

    With `assume_consent`, every customer has given email marketing consent: public
    purchase histories carry no consent, and without it no marketing rule fires.
    """
    files = data_files(folder)
    name = await asyncio.to_thread(data_digest, files, assume_consent=assume_consent)
    target = cache_dir / f"{name}.db"
    if not await asyncio.to_thread(target.exists):
        await asyncio.to_thread(cache_dir.mkdir, parents=True, exist_ok=True)
        building = cache_dir / f"{name}.{os.getpid()}.building"
        await _build(files, building, assume_consent=assume_consent)
        await asyncio.to_thread(os.replace, building, target)
    db = create_database(f"sqlite+aiosqlite:///{target}")
    await db.migrate()
    return db


async def _build(files: dict[ImportKind, Path], path: Path, *, assume_consent: bool) -> None:
    db = create_database(f"sqlite+aiosqlite:///{path}")
    try:
        await db.migrate()
        for kind, source in files.items():  # customers first: the others refer to them
            await import_file(db, source, kind)
        if assume_consent:
            await grant_marketing_consent(db)
    finally:
        await db.dispose()


async def grant_marketing_consent(db: Database) -> None:
    """Every stored customer without a marketing consent record consents to email, always."""
    async with db.session() as session:
        recorded = set(
            await session.scalars(
                select(Consent.customer_id).where(
                    Consent.channel == EMAIL_CHANNEL, Consent.topic == MARKETING_TOPIC
                )
            )
        )
        rows = [
            {
                "customer_id": customer_pk,
                "channel": EMAIL_CHANNEL,
                "topic": MARKETING_TOPIC,
                "granted": True,
                "source": "simulate --assume-consent",
                "recorded_at": _ALWAYS,
            }
            for customer_pk in await session.scalars(select(Customer.id))
            if customer_pk not in recorded
        ]
        if rows:
            await session.execute(insert(Consent), rows)

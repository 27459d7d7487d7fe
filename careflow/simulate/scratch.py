"""The scratch store a simulation runs on: a fresh SQLite file loaded with `careflow import`.

The data folder holds the files `careflow import` reads, named by kind:
`customers.csv` (or `.jsonl`), and optionally `orders` and `complaints`. They go
through the importer itself, so a simulation sees exactly what an import would
store, and a bad row is reported the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

from sqlalchemy import select

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


async def scratch_store(folder: Path, database_file: Path, *, assume_consent: bool) -> Database:
    """A new, migrated SQLite store at `database_file` (which must not exist yet).

    With `assume_consent`, every customer has given email marketing consent: public
    purchase histories carry no consent, and without it no marketing rule fires.
    """
    files = data_files(folder)
    db = create_database(f"sqlite+aiosqlite:///{database_file}")
    await db.migrate()
    for kind, path in files.items():  # customers first: the others refer to them
        await import_file(db, path, kind)
    if assume_consent:
        async with db.session() as session:
            for customer_pk in await session.scalars(select(Customer.id)):
                session.add(
                    Consent(
                        customer_id=customer_pk,
                        channel=EMAIL_CHANNEL,
                        topic=MARKETING_TOPIC,
                        granted=True,
                        source="simulate --assume-consent",
                        recorded_at=_ALWAYS,
                    )
                )
    return db

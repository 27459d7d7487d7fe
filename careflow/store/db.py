"""Engine, sessions and migrations for the store (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

UPGRADE_COMMAND = "careflow db upgrade"


class SchemaBehindError(Exception):
    """The store's schema is older than this code; the message names the command to run."""


@dataclass(frozen=True)
class SchemaState:
    """Where the store's schema stands against the migrations this code ships."""

    current: str | None  # the revision stamped in the store; None: no careflow schema
    head: str  # the newest revision this code knows
    known: bool  # False: a newer careflow migrated the store (a rolling upgrade)

    @property
    def behind(self) -> bool:
        return self.current != self.head and self.known


class Database:
    """One engine and session factory; every part of careflow shares one per process."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        engine_options: dict[str, Any] = {}
        if self.is_sqlite:
            # The API, the worker and the CLI may write at once: wait for locks
            # rather than failing at the first one.
            engine_options["connect_args"] = {"timeout": 30}
        else:
            engine_options["pool_pre_ping"] = True
            engine_options["pool_size"] = 10
            if schema:
                # A PostgreSQL schema of its own (tests, several careflows on one server).
                engine_options["connect_args"] = {"server_settings": {"search_path": schema}}
        self.engine: AsyncEngine = create_async_engine(url, **engine_options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _configure_sqlite)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    def sync_sqlite_engine(self) -> Engine:
        """A synchronous engine on the same SQLite file, with the same settings.

        For work that runs whole transactions in one thread of its own: aiosqlite
        hands every call (cursor, execute, fetch, close, commit) to its thread and
        back, which costs more than a short statement itself.
        """
        if not self.is_sqlite:
            raise ValueError("a synchronous engine is for SQLite only")
        url = make_url(self.url).set(drivername="sqlite")
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _configure_sqlite)
        return engine

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision`, by default the newest Alembic revision."""
        async with self.engine.begin() as connection:
            await connection.run_sync(_upgrade, revision)

    async def schema_state(self) -> SchemaState:
        """The store's Alembic revision next to the code's head, without changing anything."""
        async with self.engine.connect() as connection:
            current = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
        scripts = ScriptDirectory.from_config(alembic_config())
        head = scripts.get_current_head()
        assert head is not None, "careflow ships at least one migration"
        known = current is None or current in {
            script.revision for script in scripts.walk_revisions()
        }
        return SchemaState(current=current, head=head, known=known)

    async def require_current_schema(self) -> SchemaState:
        """Refuse (SchemaBehindError) a store whose schema is older than the code.

        Services never migrate by themselves: several of them start at once during a
        deployment, and the schema is changed once, by `careflow db upgrade`. A schema
        newer than the code is accepted: during a rolling upgrade the store is
        migrated first and the old workers keep running until they are replaced.
        """
        state = await self.schema_state()
        if state.behind:
            where = make_url(self.url).render_as_string(hide_password=True)
            have = f"is at revision {state.current}" if state.current else "has no careflow schema"
            raise SchemaBehindError(
                f"the store {where} {have}, this careflow needs {state.head}: "
                f"run `{UPGRADE_COMMAND}` first"
            )
        return state

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (API, CLI) run beside the worker's writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


def create_database(url: str, *, schema: str | None = None) -> Database:
    """Make the database object; for SQLite also make its folder."""
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    return Database(url, schema=schema)

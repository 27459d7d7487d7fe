"""Engine, sessions and migrations for the store (SQLite or PostgreSQL)."""

from __future__ import annotations

import ast
import contextlib
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from careflow.store.driver import KeptConnection
from careflow.store.sqlite_connection import connect_with_fewer_hops

# Alembic is imported where a migration runs or the schema is compared: a command that
# finds its store at the newest revision (most runs) never needs it.
if TYPE_CHECKING:
    from alembic.config import Config

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


# What SQLAlchemy's SQLite URLs name an in-memory database by.
_IN_MEMORY = (None, "", ":memory:")


class Database:
    """One engine and session factory; every part of careflow shares one per process."""

    def __init__(self, url: str, *, schema: str | None = None, scratch: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # An in-memory database lives in one connection (SQLAlchemy's StaticPool).
        self.in_memory = self.is_sqlite and make_url(url).database in _IN_MEMORY
        # A throwaway SQLite store (a simulation's): statements run in the event loop's
        # thread (careflow/store/inline_sqlite.py) and nothing waits for the disk.
        self.scratch = scratch
        if scratch and not (self.is_sqlite and make_url(url).database):
            raise ValueError("a scratch store is a SQLite file")
        engine_options: dict[str, Any] = {}
        if self.is_sqlite:
            # The API, the worker and the CLI may write at once: wait for locks
            # rather than failing at the first one.
            # Each statement goes to aiosqlite's thread once, not four times
            # (careflow/store/sqlite_connection.py).
            engine_options["connect_args"] = {
                "timeout": 30,
                "async_creator_fn": connect_with_fewer_hops,
            }
            # Kept open as PostgreSQL's are: with SQLAlchemy's default 5, a burst of
            # requests opened and closed overflow connections all along (a thread,
            # the file and its pragmas each time; 26 opens per 200 events measured).
            # (An in-memory database is one connection, SQLAlchemy's StaticPool.)
            if not self.in_memory:
                engine_options["pool_size"] = 10
        else:
            engine_options["pool_size"] = 10
            if schema:
                # A PostgreSQL schema of its own (tests, several careflows on one server).
                engine_options["connect_args"] = {"server_settings": {"search_path": schema}}
        self._engine_options = dict(engine_options)
        if not self.is_sqlite:
            engine_options["pool_pre_ping"] = True
        if scratch:
            from careflow.store.inline_sqlite import inline_connector

            engine_options["async_creator"] = inline_connector(str(make_url(url).database))
        self.engine: AsyncEngine = create_async_engine(url, **engine_options)
        self._unpinged: AsyncEngine | None = None
        self._kept: KeptConnection | None = None
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", self._configure_sqlite)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def side_session(self) -> AsyncIterator[AsyncSession | None]:
        """Another session, whose statements run at the same time as a first one's; None
        where they cannot (a scratch store runs every statement in the event loop's
        thread; an in-memory database is one connection).

        Each file SQLite connection has a thread of its own (aiosqlite) and each
        PostgreSQL connection a server process, so a long read in one session need not
        wait for the other's statements, and the Python work between them overlaps it.
        It reads what is committed, in its own transaction: for reads that do not
        depend on what the first session has written (the daily scan's facts).
        """
        if self.scratch or self.in_memory:
            yield None
            return
        async with self.session() as session:
            yield session

    def unpinged_engine(self) -> AsyncEngine:
        """Another engine on this database whose pool sends nothing at checkout.

        `engine` pings every connection it hands out (on PostgreSQL with asyncpg that
        is BEGIN, an empty query and ROLLBACK: three round trips), so that a
        connection the server dropped (a restart, a failover) is replaced before use.
        This engine skips that: a dropped connection fails at its first statement,
        which invalidates it and every older connection of the pool, and the caller
        runs its work again on a new one. For work that is safe to run twice and
        runs often (the send step's ledger, see careflow/outreach/ledger.py). Made
        once, on first use, and disposed with this Database. On SQLite, which pings
        nothing, it is `engine` itself (an in-memory database lives in its connection).
        """
        if self.is_sqlite:
            return self.engine
        if self._unpinged is None:
            self._unpinged = create_async_engine(self.url, **self._engine_options)
        return self._unpinged

    def kept_connection(self) -> KeptConnection:
        """The one connection of `unpinged_engine` kept checked out for the send step's
        marks (careflow.store.driver.py), closed by `dispose`. PostgreSQL only.
        """
        if self.is_sqlite:
            raise ValueError("a kept connection is for PostgreSQL only")
        if self._kept is None:
            self._kept = KeptConnection(self.unpinged_engine())
        return self._kept

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
        event.listen(engine, "connect", self._configure_sqlite)
        return engine

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision`, by default the newest Alembic revision.

        A store already at the newest revision is left as it is with one query,
        without loading Alembic and the migration scripts.
        """
        if revision == "head" and (head := shipped_head()) is not None:
            async with self.engine.connect() as connection:
                if await _stamped_revision(connection) == head:
                    return
        async with self.engine.begin() as connection:
            await connection.run_sync(_upgrade, revision)

    async def schema_state(self) -> SchemaState:
        """The store's Alembic revision next to the code's head, without changing anything."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

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
        if self._kept is not None:
            await self._kept.close()
        if self._unpinged is not None:
            await self._unpinged.dispose()
        await self.engine.dispose()

    def _configure_sqlite(self, dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers (API, CLI) run beside the worker's writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # A scratch store is thrown away if the machine stops: no need to sync.
        cursor.execute("PRAGMA synchronous=OFF" if self.scratch else "PRAGMA synchronous=NORMAL")
        cursor.close()


async def _stamped_revision(connection: Any) -> str | None:
    """The revision Alembic stamped in the store; None when it has none (or several)."""
    try:
        rows = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
    except DBAPIError:  # no alembic_version table: a store never migrated
        await connection.rollback()
        return None
    return rows[0][0] if len(rows) == 1 else None


@functools.cache
def shipped_head() -> str | None:
    """The newest revision among the migration scripts, read without importing Alembic.

    Each script's module-level `revision` and `down_revision` literals are read; the
    head is the one revision no other script names as its parent. None when that is
    not one revision (a branch, a script written another way): then Alembic decides.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found: dict[str, object] = {}
        for node in ast.parse(script.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name):
                with contextlib.suppress(ValueError):
                    found[target.id] = ast.literal_eval(value)
        revision, parent = found.get("revision"), found.get("down_revision")
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        if isinstance(parent, str):
            parents.add(parent)
        elif parent is not None:  # a merge point: several parents
            return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


def create_database(url: str, *, schema: str | None = None, scratch: bool = False) -> Database:
    """Make the database object; for SQLite also make its folder. `scratch`: see Database."""
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    return Database(url, schema=schema, scratch=scratch)

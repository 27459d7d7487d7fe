"""Fixtures of the fault suite: a Temporal dev server, a SQLite store and a PostgreSQL
database of the test's own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.store import Database, create_database
from tests.conftest import IN_CI, POSTGRES_URL, _postgres_reachable
from tests.smtp_sink import free_port


@pytest.fixture
async def temporal(tmp_path: Path) -> AsyncIterator[EmbeddedTemporal]:
    """A real dev server persisted under tmp_path, so a test can kill and restart it."""
    server = EmbeddedTemporal(tmp_path / "temporal", free_port(), free_port())
    await server.start()
    yield server
    server.stop()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite store file that the test and `careflow up` share."""
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'careflow.db'}")
    await db.migrate()
    yield db
    await db.dispose()


@pytest.fixture
async def postgres_database() -> AsyncIterator[str]:
    """The URL of a fresh, empty PostgreSQL database, dropped afterwards.

    A database rather than a schema: `careflow up` takes only a URL. Skips when
    PostgreSQL is absent, except in CI, like the store fixture.
    """
    problem = await _postgres_reachable()
    if problem is not None:
        message = f"PostgreSQL at {POSTGRES_URL} is not reachable ({problem})"
        if IN_CI:
            pytest.fail(f"{message}; CI must run the PostgreSQL tests")
        pytest.skip(message)
    name = f"careflow_faults_{uuid.uuid4().hex[:12]}"
    # CREATE/DROP DATABASE cannot run inside a transaction.
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield str(make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False))
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()

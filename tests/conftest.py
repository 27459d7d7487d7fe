"""Fixtures every test area reuses: the store on SQLite and PostgreSQL, the Temporal
time-skipping test server, an SMTP sink on loopback, and settings under tmp_path."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.runtime.binaries import temporal_test_server_path
from careflow.store import Database, create_database
from tests.smtp_sink import SmtpSink

POSTGRES_URL = os.environ.get(
    "CAREFLOW_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


async def _postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    probe = create_database(POSTGRES_URL)
    try:
        async with probe.engine.connect() as connection:
            await connection.execute(text("select 1"))
    except Exception as error:  # any failure means "not reachable"
        return f"{type(error).__name__}: {error}"
    finally:
        await probe.dispose()
    return None


@pytest.fixture(autouse=True)
def _private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's `var/` is its own: nothing a test writes lands in the checkout."""
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path / "var"))


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh, migrated store per test, on SQLite and on PostgreSQL.

    PostgreSQL tests skip with the reason when the server is absent, except in CI
    (`CI=true`), where an absent server is a failure.
    """
    if request.param == "sqlite":
        database = create_database(f"sqlite+aiosqlite:///{tmp_path / 'careflow.db'}")
        await database.migrate()
        yield database
        await database.dispose()
        return
    problem = await _postgres_reachable()
    if problem is not None:
        message = f"PostgreSQL at {POSTGRES_URL} is not reachable ({problem})"
        if IN_CI:
            pytest.fail(f"{message}; CI must run the PostgreSQL tests")
        pytest.skip(message)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_database(POSTGRES_URL)
    async with admin.engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    database = create_database(POSTGRES_URL, schema=schema)
    try:
        await database.migrate()
        yield database
    finally:
        await database.dispose()
        async with admin.engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture(scope="module")
async def workflow_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server from the pinned wheel; nothing is downloaded.

    One server per test module: the server cannot skip time while any workflow it
    ever saw still has a task pending (even after termination, measured here), so a
    module that starts workflows without running them would stall later modules.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(temporal_test_server_path())
    )
    yield env
    await env.shutdown()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on a free loopback port that keeps what it receives."""
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def settings(tmp_path: Path, smtp_sink: SmtpSink) -> Settings:
    """Settings pointing at the test's SMTP sink and a private home folder."""
    return Settings(
        home=tmp_path / "var",
        smtp_url=f"smtp://127.0.0.1:{smtp_sink.port}",
        task_queue=f"test-{uuid.uuid4().hex[:8]}",
    )

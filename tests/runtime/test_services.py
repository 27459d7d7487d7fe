"""`careflow worker`, `careflow api` and `careflow db` as a deployment runs them:
separate processes, against a Temporal namespace of their own over mutual TLS and one
PostgreSQL store, stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from careflow.config import Settings
from careflow.pseudonyms import customer_pseudonym
from careflow.runtime.schedule import SCHEDULE_ID
from careflow.store import create_database
from careflow.temporal_connection import connect_temporal, load_temporal_connection
from careflow.workflows.ids import complaint_workflow_id
from tests.faults.conftest import postgres_database
from tests.faults.tcp_proxy import TcpProxy
from tests.runtime.conftest import NAMESPACE, Pki
from tests.smtp_sink import SmtpSink, free_port
from tests.store.test_schema_state import HEAD, PREVIOUS
from tests.subprocesses import run_careflow

__all__ = ["postgres_database"]  # the fault suite's fixture: a fresh PostgreSQL database


class Service:
    """One careflow command as a child process with its own log."""

    def __init__(self, name: str, env: dict[str, str], logs: Path, *args: str) -> None:
        self.name = name
        self.log = logs / f"{name}.log"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "careflow", *args], env=env, stdout=log, stderr=log
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_for(self, needle: str, within_seconds: float = 120) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        while needle not in self.text():
            if self.process.poll() is not None or loop.time() > deadline:
                pytest.fail(f"{self.name} never logged {needle!r}:\n{self.text()[-4000:]}")
            await asyncio.sleep(0.2)

    async def terminate(self) -> int:
        """SIGTERM, as a service manager stops a service; the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, 60)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


async def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A careflow command to its end (in a thread: the TLS proxy keeps serving)."""
    return await asyncio.to_thread(run_careflow, *args, env=env)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """What a refused start said: one line on stderr (after any log lines), no trace."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    said = [line for line in result.stderr.splitlines() if line.startswith("careflow: ")]
    assert len(said) == 1, result.stderr
    assert result.stderr.rstrip().endswith(said[0])
    return said[0]


@pytest.mark.timeout(300)
async def test_services_refuse_a_store_behind_the_code(tmp_path: Path) -> None:
    path = tmp_path / "careflow.db"
    env = {
        **os.environ,
        "CAREFLOW_HOME": str(tmp_path / "var"),
        "CAREFLOW_DATABASE_URL": f"sqlite:///{path}",
        # Nothing listens here: the store is checked before Temporal is looked for.
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
    }
    url = f"sqlite+aiosqlite:///{path}"
    empty = one_line_error(await run(env, "worker"))
    assert empty == (
        f"careflow: the store {url} has no careflow schema, this careflow needs {HEAD}: "
        "run `careflow db upgrade` first"
    )

    old = create_database(url)
    await old.migrate(PREVIOUS)  # a store last migrated by an older careflow
    await old.dispose()
    for command in ("worker", "api"):
        assert one_line_error(await run(env, command)) == (
            f"careflow: the store {url} is at revision {PREVIOUS}, this careflow needs {HEAD}: "
            "run `careflow db upgrade` first"
        )
    current = await run(env, "db", "current")
    assert current.returncode == 1
    assert f"revision {PREVIOUS}, this careflow needs {HEAD}: run `careflow db upgrade`" in (
        current.stdout
    )

    upgraded = await run(env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"{url} upgraded from {PREVIOUS} to {HEAD}" in upgraded.stdout
    again = await run(env, "db", "upgrade")
    assert f"{url} is up to date at revision {HEAD}" in again.stdout
    current = await run(env, "db", "current")
    assert (current.returncode, current.stdout.strip()) == (
        0,
        f"{url}: revision {HEAD} (up to date)",
    )

    # Past the store, a worker waits for a Temporal server that may still be starting,
    # and says so; SIGTERM meanwhile stops it at once, cleanly.
    waiting = Service("waiting-worker", env, tmp_path, "worker")
    try:
        await waiting.wait_for(
            "cannot reach Temporal at 127.0.0.1:1: connection refused — check TEMPORAL_ADDRESS; "
            "trying again for up to"
        )
        assert await waiting.terminate() == 0
        assert "careflow worker stopped while starting" in waiting.text()
    finally:
        waiting.kill()


@pytest.mark.timeout(400)
async def test_workers_and_an_api_in_their_own_namespace_over_mutual_tls(
    tmp_path: Path,
    mtls_proxy: TcpProxy,
    pki: Pki,
    postgres_database: str,
    smtp_sink: SmtpSink,
) -> None:
    http_port = free_port()
    env = {
        **os.environ,
        "CAREFLOW_HOME": str(tmp_path / "var"),
        "CAREFLOW_DATABASE_URL": postgres_database,
        "CAREFLOW_SMTP_URL": f"smtp://127.0.0.1:{smtp_sink.port}",
        "CAREFLOW_HTTP": f"127.0.0.1:{http_port}",
        "CAREFLOW_SECRET_KEY": "one-key-for-every-host",
        "CAREFLOW_TASK_QUEUE": f"svc-{uuid.uuid4().hex[:8]}",
        "TEMPORAL_ADDRESS": f"127.0.0.1:{mtls_proxy.port}",
        "TEMPORAL_NAMESPACE": NAMESPACE,
        "TEMPORAL_TLS_SERVER_NAME": "temporal.test",
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki.ca_file),
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(pki.client_cert_file),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(pki.client_key_file),
    }
    upgraded = await run(env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr

    services = [
        Service("worker-1", env, tmp_path, "worker"),
        Service("worker-2", env, tmp_path, "worker"),
        Service("api", env, tmp_path, "api"),
    ]
    try:
        for service in services[:2]:
            await service.wait_for("careflow worker polling task queue")
        await services[2].wait_for("careflow api listening")

        # Both workers made sure of the daily scan's schedule: it exists once.
        created = [s.name for s in services[:2] if "created the daily scan schedule" in s.text()]
        assert len(created) == 1, created
        client = await connect_temporal(load_temporal_connection(Settings(), env))
        schedules = [entry.id async for entry in await client.list_schedules()]
        assert schedules == [SCHEDULE_ID]

        now = datetime.now(UTC).isoformat()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as http:
            for event in (
                {"type": "customer_upserted", "customer_id": "svc-1", "occurred_at": now,
                 "data": {"email": "svc-1@example.com", "locale": "en"}},
                {"type": "complaint_opened", "customer_id": "svc-1", "occurred_at": now,
                 "data": {"complaint_id": "k-api", "severity": "high"}},
            ):  # fmt: skip
                response = await http.post("/events", json=event, timeout=30)
                assert response.status_code == 202, response.text
        # The CLI reaches the same namespace the same way.
        posted = await run(
            env, "event", "complaint_opened", "svc-1", "--data", '{"complaint_id": "k-cli"}'
        )
        assert posted.returncode == 0, posted.stderr

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90
        while not all(
            any(k in str(m["Subject"]) for m in smtp_sink.messages) for k in ("k-api", "k-cli")
        ):
            assert loop.time() < deadline, [str(m["Subject"]) for m in smtp_sink.messages]
            await asyncio.sleep(0.2)
        ids = Counter(str(m["Message-ID"]) for m in smtp_sink.messages)
        assert all(count == 1 for count in ids.values()), ids
        journey_id = complaint_workflow_id(
            customer_pseudonym(env["CAREFLOW_SECRET_KEY"], "svc-1"), "k-api"
        )
        journey = await client.get_workflow_handle(journey_id).describe()
        assert journey.namespace == NAMESPACE
        # A command given the wrong CA says so in one line, naming the setting.
        wrong_ca = {**env, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki.other_ca_file)}
        assert one_line_error(await run(wrong_ca, "scan")) == (
            "careflow: TLS handshake with 127.0.0.1 failed: certificate signed by unknown "
            "authority — check TEMPORAL_TLS_SERVER_CA_CERT_PATH"
        )

        # A burst while worker-1 is told to stop: it finishes what it holds and exits 0,
        # worker-2 takes the rest, and every acknowledgement goes out exactly once.
        burst = [f"k-burst-{n}" for n in range(8)]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as http:
            for n, complaint in enumerate(burst):
                if n == 3:
                    services[0].process.send_signal(signal.SIGTERM)
                customer = f"svc-burst-{n}"
                for event in (
                    {"type": "customer_upserted", "customer_id": customer, "occurred_at": now,
                     "data": {"email": f"{customer}@example.com", "locale": "en"}},
                    {"type": "complaint_opened", "customer_id": customer, "occurred_at": now,
                     "data": {"complaint_id": complaint, "severity": "high"}},
                ):  # fmt: skip
                    response = await http.post("/events", json=event, timeout=30)
                    assert response.status_code == 202, response.text
        assert await asyncio.to_thread(services[0].process.wait, 60) == 0
        deadline = loop.time() + 120
        while not all(any(k in str(m["Subject"]) for m in smtp_sink.messages) for k in burst):
            assert loop.time() < deadline, [str(m["Subject"]) for m in smtp_sink.messages]
            await asyncio.sleep(0.2)
        ids = Counter(str(m["Message-ID"]) for m in smtp_sink.messages)
        assert all(count == 1 for count in ids.values()), ids

        for service in services:
            assert await service.terminate() == 0, service.text()[-4000:]
            assert "Traceback" not in service.text(), service.text()[-4000:]
        assert all("careflow worker stopped" in s.text() for s in services[:2])
        assert "careflow api stopped" in services[2].text()
    finally:
        for service in services:
            service.kill()

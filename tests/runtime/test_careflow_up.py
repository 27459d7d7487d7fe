"""`careflow up --demo` as a newcomer runs it: real processes, real ports, real files."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from temporalio.client import Client, WorkflowExecutionStatus

from careflow.config import local_secret_key
from careflow.pseudonyms import customer_pseudonym
from careflow.runtime.worker_service import capture_secret
from careflow.workflows.ids import complaint_workflow_id
from tests.smtp_sink import free_port


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line mentions `text` (our private home folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


class Up:
    """One `careflow up` process with its own home and ports."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.temporal_port = free_port()
        self.http_port = free_port()
        self.env = {
            **os.environ,
            "CAREFLOW_HOME": str(home),
            "CAREFLOW_TEMPORAL_PORT": str(self.temporal_port),
            "CAREFLOW_HTTP": f"127.0.0.1:{self.http_port}",
            "CAREFLOW_SMTP_CAPTURE_PORT": str(free_port()),
            "CAREFLOW_CAPTURE_HTTP_PORT": str(free_port()),
        }
        for name in ("CAREFLOW_DATABASE_URL", "CAREFLOW_SMTP_URL", "TEMPORAL_ADDRESS"):
            self.env.pop(name, None)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> None:
        log = (self.home.parent / "up.log").open("ab")
        # Its own session, as a terminal gives a command its own process group.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "careflow", "up", *args],
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def press_ctrl_c(self) -> int:
        """SIGINT to the whole process group, as a terminal's Ctrl-C sends it."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=60)

    def log(self) -> str:
        return (self.home.parent / "up.log").read_text(errors="replace")

    def outbox(self) -> list[Path]:
        folder = self.home / "outbox"
        return sorted(folder.glob("*.eml")) if folder.exists() else []

    async def post_event(self, event: dict[str, object]) -> dict[str, object]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.http_port}") as http:
            response = await http.post("/events", json=event, timeout=10)
        assert response.status_code == 202, response.text
        result: dict[str, object] = response.json()
        return result

    def subjects(self) -> dict[str, EmailMessage]:
        """Every message in the outbox by its subject."""
        messages = (
            message_from_bytes(path.read_bytes(), policy=policy.default) for path in self.outbox()
        )
        return {str(m["Subject"]): m for m in messages if isinstance(m, EmailMessage)}

    async def wait_for_subject(self, needle: str, within_seconds: float) -> EmailMessage:
        """The first message whose subject mentions `needle`, once it has arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        while True:
            found = [m for subject, m in self.subjects().items() if needle in subject]
            if found:
                return found[0]
            assert self.process is not None
            if self.process.poll() is not None:
                log = (self.home.parent / "up.log").read_text(errors="replace")
                pytest.fail(f"careflow up exited with {self.process.returncode}:\n{log}")
            if loop.time() > deadline:
                pytest.fail(f"no email about {needle!r}; outbox: {sorted(self.subjects())}")
            await asyncio.sleep(0.2)

    async def wait_for_capture(self, endpoint: str, within_seconds: float) -> dict[str, Any]:
        """The first request the capture endpoint wrote for `endpoint`, once it is there."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        folder = self.home / "outbox" / "webhooks"
        while True:
            found = sorted(folder.glob(f"*-{endpoint}-*.json")) if folder.exists() else []
            if found:
                captured: dict[str, Any] = json.loads(found[0].read_text(encoding="utf-8"))
                return captured
            assert self.process is not None
            if self.process.poll() is not None or loop.time() > deadline:
                pytest.fail(f"nothing captured for {endpoint!r}:\n{self.log()}")
            await asyncio.sleep(0.2)

    async def wait_for_sms(self, needle: str, within_seconds: float) -> dict[str, Any]:
        """The first SMS the capture gateway wrote whose text mentions `needle`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        folder = self.home / "outbox" / "sms"
        while True:
            for path in sorted(folder.glob("*.json")) if folder.exists() else []:
                request: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["request"]
                if needle in str(request.get("text")):
                    return request
            assert self.process is not None
            if self.process.poll() is not None or loop.time() > deadline:
                pytest.fail(f"no SMS about {needle!r}:\n{self.log()}")
            await asyncio.sleep(0.2)

    async def wait_for_outbox(self, count: int, within_seconds: float) -> list[Path]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        while len(self.outbox()) < count:
            assert self.process is not None
            if self.process.poll() is not None:
                log = (self.home.parent / "up.log").read_text(errors="replace")
                pytest.fail(f"careflow up exited with {self.process.returncode}:\n{log}")
            if loop.time() > deadline:
                pytest.fail(f"expected {count} emails in the outbox, found {len(self.outbox())}")
            await asyncio.sleep(0.2)
        return self.outbox()

    async def wait_for_api(self, within_seconds: float = 90) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        while True:
            try:
                async with httpx.AsyncClient() as http:
                    await http.get(f"http://127.0.0.1:{self.http_port}/health", timeout=2)
                return
            except httpx.TransportError:
                assert self.process is not None
                if self.process.poll() is not None or loop.time() > deadline:
                    log = (self.home.parent / "up.log").read_text(errors="replace")
                    pytest.fail(f"careflow up did not come up:\n{log}")
                await asyncio.sleep(0.2)


async def log_in_to_console(port: int, name: str, password: str) -> None:
    """Log in through the console's form and open the overview."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        form = await http.get("/console/login", timeout=10)
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token, form.text
        login = await http.post(
            "/console/login",
            data={"name": name, "password": password, "csrf": token.group(1), "next": ""},
            timeout=10,
        )
        assert login.status_code == 303, login.text
        overview = await http.get("/console/", timeout=30)
        assert overview.status_code == 200
        assert f"{name} (" in overview.text


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    runtime = Up(tmp_path / "var")
    yield runtime
    if runtime.process is not None and runtime.process.poll() is None:
        runtime.process.kill()
        runtime.process.wait()


@pytest.mark.timeout(300)
async def test_demo_acknowledges_complaints_and_survives_a_restart(up: Up) -> None:
    up.start("--demo")
    await up.wait_for_api()
    # Two demo complaints come from customers with an email address (a third has none).
    vip_ack = await up.wait_for_subject("demo-k101", within_seconds=60)
    # The VIP's complaint alerts the service team's WeCom robot, and the demo CRM
    # hears of it, signed: both land in the capture endpoint's folder.
    robot = await up.wait_for_capture("staff-service-1-wecom", within_seconds=30)
    assert robot["body"]["msgtype"] == "text"
    assert "demo-c001" in robot["body"]["text"]["content"]
    # The customer who prefers SMS gets the acknowledgement by SMS, through the
    # capture gateway.
    sms = await up.wait_for_sms("demo-k104", within_seconds=60)
    assert sms["to"] == "+8613600000007"
    assert str(sms["text"]).startswith("【careflow】")
    crm = await up.wait_for_capture("demo-crm", within_seconds=30)
    secret = capture_secret(local_secret_key(up.home))
    assert Webhook(secret).verify(crm["raw_body"], crm["headers"])["type"]
    await up.wait_for_subject("demo-k102", within_seconds=60)
    assert vip_ack["To"] == "li.wei@example.com"
    assert vip_ack["Content-Language"] == "zh-CN"
    # The banner names the console and a demo admin's password, which logs in.
    console_url = f"http://127.0.0.1:{up.http_port}/console/"
    assert f"Console       {console_url}" in up.log()
    found = re.search(r"log in as (\S+), password (\S+)", up.log())
    assert found, up.log()
    await log_in_to_console(up.http_port, found.group(1), found.group(2))

    accepted = await up.post_event(
        {
            "type": "complaint_opened",
            "customer_id": "demo-c002",
            "occurred_at": datetime.now(UTC).isoformat(),
            "data": {"complaint_id": "k-live-1", "severity": "high", "subject": "Parcel lost"},
            "event_id": "live-1",
        }
    )
    assert accepted["duplicate"] is False
    live = await up.wait_for_subject("k-live-1", within_seconds=30)
    assert live["To"] == "emma.clarke@example.com"
    assert "Emma Clarke" in live.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    sent_before_restart = len(up.outbox())

    assert up.stop() == 0
    assert processes_mentioning(str(up.home)) == [], "a careflow child process outlived it"

    # A second `careflow up` on the same var/ carries on: the complaint journeys still run.
    banners = up.log().count("careflow is up")
    up.start()
    await up.wait_for_api()
    client = await Client.connect(f"127.0.0.1:{up.temporal_port}")
    journey_id = complaint_workflow_id(
        customer_pseudonym(local_secret_key(up.home), "demo-c002"), "k-live-1"
    )
    description = await client.get_workflow_handle(journey_id).describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    await up.post_event(
        {
            "type": "complaint_resolved",
            "customer_id": "demo-c002",
            "occurred_at": datetime.now(UTC).isoformat(),
            "data": {"complaint_id": "k-live-1"},
            "event_id": "live-2",
        }
    )
    await up.wait_for_outbox(sent_before_restart + 1, within_seconds=30)
    # Without --demo the banner still names the console; the demo admin exists, so it
    # does not ask for a first admin.
    assert up.log().count("careflow is up") == banners + 1
    assert up.log().count(f"Console       {console_url}") == 2
    assert "no admin yet" not in up.log()
    resolved = [m for subject, m in up.subjects().items() if "k-live-1" in subject]
    assert len(resolved) == 2, "the acknowledgement and, after the restart, the resolution"
    # Ctrl-C reaches the Temporal server too unless careflow keeps it out of the
    # terminal's group: it must stay up until the worker has shut down gracefully
    # (in-flight sends report to it), so careflow stops it last.
    assert up.process is not None
    children = [pid for pid in processes_mentioning(str(up.home)) if pid != up.process.pid]
    assert children, "the embedded Temporal server runs under careflow's home"
    assert all(os.getpgid(pid) != os.getpgid(up.process.pid) for pid in children)
    assert up.press_ctrl_c() == 0
    assert "errored during worker shutdown" not in up.log()
    assert processes_mentioning(str(up.home)) == []


@pytest.mark.timeout(300)
async def test_everything_under_home_is_private_to_the_service_account(up: Up) -> None:
    # A home an earlier careflow left readable to every account on the machine.
    (up.home / "outbox").mkdir(parents=True)
    up.home.chmod(0o755)
    (up.home / "outbox").chmod(0o755)
    old_message = up.home / "outbox" / "old.eml"
    old_message.write_text("Subject: sent before\n\nhello\n")
    old_message.chmod(0o644)
    (up.home / "secret_key").write_text("an old key\n")
    (up.home / "secret_key").chmod(0o644)

    up.start("--demo")
    await up.wait_for_api()
    await up.wait_for_subject("demo-k101", within_seconds=60)
    assert up.stop() == 0

    written = [up.home, *up.home.rglob("*")]
    names = {path.relative_to(up.home).as_posix() for path in written}
    # The store, Temporal's database, the outbox and the key: what must not leak.
    assert {"careflow.db", "temporal.db", "outbox", "secret_key"} <= names, names
    assert len(up.outbox()) > 1
    readable = {
        path.relative_to(up.home).as_posix(): oct(path.stat().st_mode & 0o777)
        for path in written
        if path.stat().st_mode & 0o077
    }
    assert readable == {}
    assert "made 4 file(s) under" in up.log()

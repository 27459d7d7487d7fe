"""An aiosmtpd server on loopback that collects every message, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Collector:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address in self.sink.refused_recipients:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.sink.temporary_failures > 0:
            with self.sink.lock:
                self.sink.temporary_failures -= 1
            return "451 4.3.0 try again later"
        message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.sink.lock:
            self.sink.messages.append(message)
        self.sink.received.set()
        return "250 Message accepted"


class SmtpSink:
    """Collects messages; can refuse recipients or answer 4xx a number of times."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.refused_recipients: set[str] = set()
        self.temporary_failures = 0
        self.lock = threading.Lock()
        self.received = threading.Event()
        self.controller = Controller(_Collector(self), hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def outage(self) -> None:
        """Stop accepting connections (an SMTP outage) until `recover()`."""
        self.controller.stop()

    def recover(self) -> None:
        """Listen again on the same port."""
        self.controller = Controller(_Collector(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def wait_for(self, count: int, within_seconds: float = 30.0) -> list[EmailMessage]:
        """Wait until `count` messages arrived (polling the list the server thread fills)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        while len(self.messages) < count:
            if loop.time() > deadline:
                raise TimeoutError(f"expected {count} messages, got {len(self.messages)}")
            await asyncio.to_thread(self.received.wait, 0.1)
            self.received.clear()
        return list(self.messages)

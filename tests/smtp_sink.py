"""An aiosmtpd server on loopback that collects every message, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


def free_port() -> int:
    """A loopback port nothing listens on, for a server a test starts next.

    Taken below the kernel's ephemeral range, not by binding port 0: a port from that
    range can be handed to one of the many outgoing connections (workers to Temporal,
    clients to the store) between this call and the server's bind, which then fails
    with "address already in use". A port is never handed out twice in a process.
    """
    low = _ephemeral_low()
    for _ in range(1000):
        port = _ports.randrange(_LOWEST_PORT, low)
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue  # something listens there already
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port between {_LOWEST_PORT} and {low}")


# Well clear of the machine's own services' usual ports (PostgreSQL, Redis, RabbitMQ...).
_LOWEST_PORT = 20000
_ports = random.Random()
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    """The first port of the kernel's range for outgoing connections (Linux; else IANA's)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as ports:
            low = int(ports.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 49152
    return low if low > _LOWEST_PORT + 1000 else 49152


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
        drop = self.sink.take_drop()
        if drop is not None:
            await self._drop_mid_exchange(server, envelope, keep=drop)
        if self.sink.temporary_failures > 0:
            with self.sink.lock:
                self.sink.temporary_failures -= 1
            return "451 4.3.0 try again later"
        message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.sink.lock:
            self.sink.messages.append(message)
            if self.sink.keep_envelopes:
                self.sink.envelopes.append(
                    (envelope.mail_from, list(envelope.rcpt_tos), list(envelope.mail_options))
                )
        self.sink.received.set()
        return "250 Message accepted"

    async def _drop_mid_exchange(self, server: Any, envelope: Envelope, *, keep: bool) -> None:
        """Reset the connection after the message data, before the reply."""
        if keep:
            # The server took the message and died before it could say so: the
            # client cannot tell this from a lost message (RFC 5321 6.1).
            message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
            assert isinstance(message, EmailMessage)
            with self.sink.lock:
                self.sink.messages.append(message)
            self.sink.received.set()
        server.transport.abort()
        # connection_lost() cancels this handler; no reply is ever sent.
        await asyncio.Event().wait()


class SmtpSink:
    """Collects messages; can refuse recipients, answer 4xx a number of times, or drop
    connections in the middle of an exchange.

    `smtputf8` makes the server offer SMTPUTF8 (aiosmtpd does not by default);
    `keep_envelopes` also keeps each accepted message's (MAIL FROM, RCPT TOs, MAIL
    options) in `envelopes`.
    """

    def __init__(self, *, smtputf8: bool = False, keep_envelopes: bool = False) -> None:
        self.port = free_port()
        self.smtputf8 = smtputf8
        self.keep_envelopes = keep_envelopes
        self.envelopes: list[tuple[str | None, list[str], list[str]]] = []
        self.messages: list[EmailMessage] = []
        self.refused_recipients: set[str] = set()
        self.temporary_failures = 0
        self.lock = threading.Lock()
        self.received = threading.Event()
        # Pending drops, in order: True keeps the message before dropping.
        self.pending_drops: list[bool] = []
        self.controller = self._controller()

    def _controller(self) -> Controller:
        return Controller(
            _Collector(self),
            hostname="127.0.0.1",
            port=self.port,
            enable_SMTPUTF8=self.smtputf8,
        )

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def outage(self) -> None:
        """Stop accepting connections (an SMTP outage) until `recover()`."""
        self.controller.stop()

    def recover(self) -> None:
        """Listen again on the same port."""
        self.controller = self._controller()
        self.controller.start()

    def drop_connections(self, count: int = 1, *, after_accepting: bool = False) -> None:
        """The next `count` messages: reset the connection after their data, before the
        reply; `after_accepting` keeps each message first (the client sees the same drop)."""
        with self.lock:
            self.pending_drops.extend([after_accepting] * count)

    def take_drop(self) -> bool | None:
        """The next pending drop (whether it keeps the message), or None."""
        with self.lock:
            return self.pending_drops.pop(0) if self.pending_drops else None

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

"""A local SMTP server that writes every message it receives as an `.eml` file.

It is the embedded default delivery target, so a newcomer sees real emails (as
the customer would receive them) under `var/outbox/` without configuring SMTP.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import Envelope, Session
except ModuleNotFoundError as missing:  # a deployment installed without the extra
    raise ModuleNotFoundError(
        "the embedded capture SMTP server needs careflow's embedded extra: "
        "pip install 'careflow[embedded]'"
    ) from missing

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class OutboxHandler:
    """aiosmtpd handler: one file per received message, written atomically."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self.outbox.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        write_eml(self.outbox, content)
        return "250 Message accepted for delivery"


def write_eml(outbox: Path, content: bytes) -> Path:
    """Write one message as `<time>-<message-id>.eml`; a partial file is never visible."""
    message_id = _header(content, b"message-id") or "no-message-id"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    name = f"{stamp}-{_UNSAFE.sub('_', message_id.strip('<>'))[:120]}.eml"
    target = outbox / name
    temporary = outbox / f".{name}.tmp"
    temporary.write_bytes(content)
    os.replace(temporary, target)
    return target


def _header(content: bytes, name: bytes) -> str | None:
    head = content.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    for line in head.splitlines():
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode("ascii", "replace")
    return None


class CaptureSmtpServer:
    """The capture server on loopback; `start()` and `stop()` run it in its own thread."""

    def __init__(self, outbox: Path, port: int, host: str = "127.0.0.1") -> None:
        self.outbox = outbox
        self.controller = Controller(OutboxHandler(outbox), hostname=host, port=port)

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

"""Email delivery: SMTP through one reused aiosmtplib connection, or the dry-run outbox.

A delivery takes an `EmailMessage` (`deliver`); the ones here also take a message
already written out as bytes with its envelope (`deliver_flat`, see
`careflow.outreach.envelope.flat_email`), which is what the send step hands them.

Failures are classified for Temporal: a 5xx reply or a refused recipient is
permanent (recorded, never retried); a 4xx reply or a lost connection is transient
and propagates so the activity is retried with backoff.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol, runtime_checkable

import aiosmtplib

from careflow.config import SmtpTarget
from careflow.outreach.envelope import OutgoingEmail
from careflow.runtime.smtp_capture import write_eml


class PermanentDeliveryError(Exception):
    """The server refused the message for good (5xx, refused recipient)."""

    def __init__(self, code: int, reply: str) -> None:
        super().__init__(f"SMTP {code}: {reply}")
        self.code = code
        self.reply = reply


class TransientDeliveryError(Exception):
    """Try again later: 4xx reply, timeout or connection trouble."""


class Delivery(Protocol):
    """Something that delivers a finished message."""

    async def deliver(self, message: EmailMessage) -> None: ...

    async def close(self) -> None: ...


@runtime_checkable
class FlatDelivery(Protocol):
    """A delivery that also sends a message already flattened to bytes."""

    async def deliver_flat(self, message: OutgoingEmail) -> None: ...


class SmtpDelivery:
    """Delivers over one SMTP connection, reconnecting when the server dropped it."""

    def __init__(self, target: SmtpTarget) -> None:
        self.target = target
        self._client: aiosmtplib.SMTP | None = None
        # One connection carries one transaction at a time.
        self._lock = asyncio.Lock()

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        client = aiosmtplib.SMTP(
            hostname=self.target.host,
            port=self.target.port,
            use_tls=self.target.use_tls,
            start_tls=self.target.start_tls,
            timeout=self.target.timeout_seconds,
        )
        await client.connect()
        if self.target.username and self.target.password:
            await client.login(self.target.username, self.target.password)
        self._client = client
        return client

    async def deliver(self, message: EmailMessage) -> None:
        async def exchange(client: aiosmtplib.SMTP) -> None:
            _, _ = await client.send_message(message)

        await self._exchange(exchange)

    async def deliver_flat(self, message: OutgoingEmail) -> None:
        """Send the bytes as they are, with the options `send_message` would give them."""

        async def exchange(client: aiosmtplib.SMTP) -> None:
            if client.is_ehlo_or_helo_needed:
                await _greet(client)
            options = []
            if message.utf8:
                if not client.supports_extension("smtputf8"):
                    raise aiosmtplib.SMTPNotSupported(
                        "An address containing non-ASCII characters was provided, but "
                        "SMTPUTF8 is not supported by this server"
                    )
                options.append("SMTPUTF8")
            if client.supports_extension("8BITMIME"):
                options.append("BODY=8BITMIME")
            _, _ = await client.sendmail(
                message.sender, message.recipients, message.data, mail_options=options
            )

        await self._exchange(exchange)

    async def _exchange(self, exchange: Callable[[aiosmtplib.SMTP], Awaitable[None]]) -> None:
        """One SMTP transaction on the shared connection, its failures classified."""
        async with self._lock:
            try:
                await exchange(await self._connected())
            except aiosmtplib.SMTPRecipientsRefused as error:
                first = error.recipients[0]
                raise PermanentDeliveryError(first.code, first.message) from error
            except aiosmtplib.SMTPResponseException as error:
                if error.code >= 500:
                    await self._reset()
                    raise PermanentDeliveryError(error.code, error.message) from error
                await self._drop()
                raise TransientDeliveryError(f"SMTP {error.code}: {error.message}") from error
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                await self._drop()
                raise TransientDeliveryError(f"{type(error).__name__}: {error}") from error

    async def _reset(self) -> None:
        # After a refused transaction the connection is still good; RSET clears it.
        if self._client is not None and self._client.is_connected:
            try:
                await self._client.rset()
            except aiosmtplib.SMTPException:
                await self._drop()

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def close(self) -> None:
        async with self._lock:
            client, self._client = self._client, None
            if client is not None and client.is_connected:
                try:
                    await client.quit()
                except aiosmtplib.SMTPException:
                    client.close()


class OutboxDelivery:
    """Dry-run delivery: writes each message to the outbox folder instead of sending it."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        outbox.mkdir(parents=True, exist_ok=True)

    async def deliver(self, message: EmailMessage) -> None:
        await asyncio.to_thread(write_eml, self.outbox, bytes(message))

    async def deliver_flat(self, message: OutgoingEmail) -> None:
        await asyncio.to_thread(write_eml, self.outbox, message.data)

    async def close(self) -> None:
        return None


async def _greet(client: aiosmtplib.SMTP) -> None:
    """EHLO, or HELO for a server that does not know EHLO (as `send_message` does)."""
    try:
        await client.ehlo()
    except aiosmtplib.SMTPHeloError:
        if not client.is_connected:
            raise
        await client.helo()

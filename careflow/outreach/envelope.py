"""Turning a rendered message into the email that goes out: headers, parts, Message-ID."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime

from careflow.outreach.templates import RenderedMessage


class _HeaderClasses(HeaderRegistry):
    """The standard header classes, each built once.

    The stdlib registry builds a new class every time it parses a header, about a
    third of the cost of building a message; the classes hold no state, so one per
    header name serves every message.
    """

    def __init__(self) -> None:
        super().__init__()
        self._built: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        built = self._built.get(key)
        if built is None:
            built = self._built[key] = super().__getitem__(name)
        return built


# The default email policy (which refuses line breaks in header values) with the
# header classes built once.
_POLICY = policy.default.clone(header_factory=_HeaderClasses())


def message_domain(mail_from: str) -> str:
    """The domain of the sender address, used on the right of every Message-ID."""
    return mail_from.rsplit("@", 1)[-1].strip("> ") or "careflow.localhost"


def message_id_for(key: str, domain: str) -> str:
    """A Message-ID derived from the idempotency key: a resend is recognisably the same mail."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def build_email(
    rendered: RenderedMessage,
    *,
    sender: str,
    recipient: str,
    message_id: str,
    unsubscribe_url: str | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """The email for one rendered message; with `unsubscribe_url`, RFC 8058 one-click headers.

    `EmailMessage` refuses line breaks in header values, and subjects are folded to
    one line by the renderer, so no customer data can add a header. `date` is the
    sender's clock (the journey's time in a simulation); the wall clock by default.
    """
    message = EmailMessage(policy=_POLICY)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = rendered.subject
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(date or datetime.now(UTC))
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    # A random boundary of our own: the generator would otherwise make one and
    # compile a new regular expression for every message to check it is unused;
    # 128 random bits cannot turn up in the text by chance, nor be guessed.
    message.make_alternative(boundary=f"=_{secrets.token_hex(16)}")
    message.add_alternative(rendered.html, subtype="html")
    # After the parts exist: making the message multipart moves Content-* headers
    # into its first part.
    message["Content-Language"] = rendered.locale
    return message

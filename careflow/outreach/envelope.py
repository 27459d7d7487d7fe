"""Turning a rendered message into the email that goes out: headers, parts, Message-ID."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from careflow.outreach.templates import RenderedMessage


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
) -> EmailMessage:
    """The email for one rendered message; with `unsubscribe_url`, RFC 8058 one-click headers.

    `EmailMessage` refuses line breaks in header values, and subjects are folded to
    one line by the renderer, so no customer data can add a header.
    """
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = rendered.subject
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(datetime.now(UTC))
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    # After the parts exist: making the message multipart moves Content-* headers
    # into its first part.
    message["Content-Language"] = rendered.locale
    return message

"""Erasure in the files careflow writes under `CAREFLOW_HOME`: the outbox and the logs."""

from __future__ import annotations

import email
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

from careflow.erasure._scrub import Scrubber


def local_part(message_id: str) -> str:
    """`<abc@host>` -> `abc`: careflow's Message-IDs are a digest of the step's key."""
    return message_id.strip().strip("<>").partition("@")[0]


def clean_outbox(outbox: Path, scrubber: Scrubber, message_ids: set[str]) -> int:
    """Delete every captured message to the person or about them.

    A message is theirs when its Message-ID is one careflow derived for their
    ledger rows and staff notifications, or when it names their id or contacts.
    """
    if not outbox.is_dir():
        return 0
    deleted = 0
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email_policy.default)
        if local_part(str(message.get("Message-ID", ""))) in message_ids or scrubber.names_them(
            _readable(message)
        ):
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted


def _readable(message: EmailMessage) -> str:
    """A message's headers and every text part, decoded (names travel RFC 2047-encoded)."""
    texts = [f"{name}: {value}" for name, value in message.items()]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            try:
                texts.append(str(part.get_content()))
            except (LookupError, ValueError):
                texts.append(str(part.get_payload()))  # an unknown charset: as it is
    return "\n".join(texts)


def rewrite_logs(logs: Path, scrubber: Scrubber) -> int:
    """Rewrite log lines naming the person or their workflows with the pseudonyms."""
    if not logs.is_dir():
        return 0
    rewritten = 0
    for path in sorted(logs.rglob("*")):
        if not path.is_file():
            continue
        original = path.read_text(encoding="utf-8", errors="surrogateescape")
        cleaned = scrubber.text(original, names=False)
        if cleaned != original:
            path.write_text(cleaned, encoding="utf-8", errors="surrogateescape")
            rewritten += 1
    return rewritten

"""The audit log: every operator action, user change and failed login, with who and when.

Entries are written in the same transaction as the change they describe when there
is one, so a change is never without its entry; they are only ever added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.store import AuditEntry, Database

# Actions, as the audit page shows and filters them.
LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGIN_THROTTLED = "login_throttled"
LOGOUT = "logout"
FORBIDDEN = "forbidden"
JOURNEY_CANCELLED = "journey_cancelled"
CONSENT_CHANGED = "consent_changed"
USER_ADDED = "user_added"
USER_REMOVED = "user_removed"
# A user's password was set anew (every session of theirs ended with it).
USER_REKEYED = "password_changed"
# A login replaced an older password hash with a current one.
HASH_UPGRADED = "password_rehashed"
# The actor of changes made with `careflow users` on the server itself.
CLI_ACTOR = "cli"


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any]


def add_audit_entry(
    session: AsyncSession,
    actor: str,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> None:
    """Add an entry to the session's transaction (committed with it)."""
    session.add(
        AuditEntry(
            at=at or datetime.now(UTC),
            actor=audit_actor(actor),
            action=action,
            target=None if target is None else target[:300],
            details=details or {},
        )
    )


def audit_actor(name: str) -> str:
    """The actor as stored: a name tried at the login may be longer than the column."""
    return name[:64]


async def record_audit(
    db: Database,
    actor: str,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Write one entry in a transaction of its own (for actions outside the store)."""
    async with db.session() as session:
        add_audit_entry(session, actor, action, target, details)


async def recent_audit(
    db: Database, *, limit: int = 200, action: str | None = None, actor: str | None = None
) -> list[AuditRecord]:
    """The newest entries first, optionally of one action or one actor."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    async with db.session() as session:
        rows = await session.scalars(query)
        return [
            AuditRecord(row.at, row.actor, row.action, row.target, dict(row.details))
            for row in rows
        ]

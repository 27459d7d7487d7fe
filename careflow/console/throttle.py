"""Failed-login throttling: after too many failures for a user name or from a client
address within a window, further logins are refused with 429 and Retry-After.

The failures are counted from the audit log's `login_failed` entries, so the count
holds across restarts and is shared by every API process on the same store. A name
that does not exist is counted and refused exactly like one that does, so the
answer never tells whether a user exists. A successful login starts its name's
count afresh; an address's count is not reset (one account an attacker holds must
not unlock guessing at the others). Two processes checking at the same instant may
each let one more attempt through: the limit is a brake on guessing, not a quota.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select

from careflow.console.audit import LOGIN, LOGIN_FAILED, audit_actor
from careflow.store import AuditEntry, Database

# Defaults of CAREFLOW_CONSOLE_LOGIN_ATTEMPTS and CAREFLOW_CONSOLE_LOGIN_WINDOW (seconds).
DEFAULT_LOGIN_ATTEMPTS = 5
DEFAULT_LOGIN_WINDOW_SECONDS = 15 * 60


@dataclass(frozen=True)
class LoginLimits:
    """At most `attempts` failed logins per name and per address within `window`."""

    attempts: int
    window: timedelta


async def login_retry_after(
    db: Database, limits: LoginLimits, *, name: str, client: str | None, now: datetime
) -> int | None:
    """Seconds until a login for `name` from `client` may be tried again; None: try now."""
    since = now - limits.window
    async with db.session() as session:
        keys: list[ColumnElement[bool]] = []
        if name:
            actor = audit_actor(name)
            last_login = await session.scalar(
                select(func.max(AuditEntry.at)).where(
                    AuditEntry.action == LOGIN, AuditEntry.actor == actor, AuditEntry.at >= since
                )
            )
            keys.append((AuditEntry.actor == actor) & (AuditEntry.at > (last_login or since)))
        if client:
            keys.append(AuditEntry.details["client"].as_string() == client)
        waits = []
        for key in keys:
            # The newest `attempts` failures: while that many are in the window, wait
            # until the oldest of them leaves it.
            failures = list(
                await session.scalars(
                    select(AuditEntry.at)
                    .where(AuditEntry.action == LOGIN_FAILED, AuditEntry.at >= since, key)
                    .order_by(AuditEntry.at.desc())
                    .limit(limits.attempts)
                )
            )
            if len(failures) >= limits.attempts:
                left = failures[-1] + limits.window - now
                waits.append(max(1, math.ceil(left.total_seconds())))
    return max(waits) if waits else None

"""Console logins held on the server, so a session can be ended before its cookie expires.

Each login is a `console_sessions` row named by the SHA-256 of a random token that
only the (signed) cookie carries. A request's cookie counts only while its row exists
and has not expired: logging out deletes the row, and changing a user's password or
removing the user deletes all of theirs, so a copied or stolen cookie stops working
at once, on every API process sharing the store.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.store import ConsoleSession, Database


def _row_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


async def open_login(db: Database, user_id: int, lifetime: timedelta) -> str:
    """Record a login for the user; the token its cookie must carry. The user's expired
    logins are cleared on the way, so the table holds only live ones."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    async with db.session() as session:
        await session.execute(
            delete(ConsoleSession).where(
                ConsoleSession.user_id == user_id, ConsoleSession.expires_at <= now
            )
        )
        session.add(
            ConsoleSession(
                id=_row_id(token), user_id=user_id, created_at=now, expires_at=now + lifetime
            )
        )
    return token


async def login_is_live(db: Database, token: str, user_id: int) -> bool:
    """Does the cookie's login still stand: not ended, not expired, and the same user's?"""
    async with db.session() as session:
        found = await session.scalar(
            select(ConsoleSession.id).where(
                ConsoleSession.id == _row_id(token),
                ConsoleSession.user_id == user_id,
                ConsoleSession.expires_at > datetime.now(UTC),
            )
        )
    return found is not None


async def close_login(db: Database, token: str) -> None:
    """End one login (logout)."""
    async with db.session() as session:
        await session.execute(delete(ConsoleSession).where(ConsoleSession.id == _row_id(token)))


async def close_user_logins(session: AsyncSession, user_id: int) -> None:
    """End every login of a user, in the caller's transaction (password change, removal)."""
    await session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))

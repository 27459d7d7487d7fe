"""Console users in the store: add, list, remove, and checking a login.

Every change is audited in the same transaction. Names are short identifiers
(`li.wei`, `ops-lead`) because they appear in the audit log and in URLs.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from careflow.console.audit import (
    HASH_UPGRADED,
    USER_ADDED,
    USER_REKEYED,
    USER_REMOVED,
    add_audit_entry,
)
from careflow.console.logins import close_user_logins
from careflow.console.passwords import (
    PasswordError,
    dummy_verify,
    hash_password,
    verify_and_update,
)
from careflow.console.roles import ROLE_NAMES, Role
from careflow.store import ConsoleUser, Database

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class UserError(ValueError):
    """A user change that cannot be made; the message says why, `code` which rule it broke.

    Codes: `name`, `role`, `password`, `exists`, `unknown`, `last_admin` (the console
    shows each in the reader's language).
    """

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class UserInfo:
    id: int
    name: str
    role: Role
    created_at: datetime


def check_name(name: str) -> str:
    """The name, or UserError saying what a name may contain."""
    if not NAME_PATTERN.fullmatch(name):
        raise UserError(
            f"{name!r} is not a valid user name: 1 to 64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit",
            "name",
        )
    return name


def parse_role(value: str) -> Role:
    """The role named `value`, or UserError listing the roles."""
    try:
        return Role(value)
    except ValueError:
        expected = ", ".join(ROLE_NAMES)
        raise UserError(f"{value!r} is not a role: expected one of {expected}", "role") from None


async def add_user(db: Database, name: str, role: Role, password: str, *, actor: str) -> UserInfo:
    """Create a user; UserError when the name is taken or invalid or the password too weak."""
    check_name(name)
    try:
        # Argon2 takes tens of milliseconds and 64 MiB on purpose: off the event loop.
        password_hash = await asyncio.to_thread(hash_password, password)
    except PasswordError as error:
        raise UserError(str(error), "password") from None
    now = datetime.now(UTC)
    user = ConsoleUser(
        name=name, role=role.value, password_hash=password_hash, created_at=now, updated_at=now
    )
    try:
        async with db.session() as session:
            if await session.scalar(select(ConsoleUser.id).where(ConsoleUser.name == name)):
                raise UserError(f"a user named {name!r} exists already", "exists")
            session.add(user)
            add_audit_entry(session, actor, USER_ADDED, name, {"role": role.value}, at=now)
    except IntegrityError:
        # Added concurrently between the check and the insert.
        raise UserError(f"a user named {name!r} exists already", "exists") from None
    return UserInfo(user.id, user.name, role, user.created_at)


async def list_users(db: Database) -> list[UserInfo]:
    """Every user, by name."""
    async with db.session() as session:
        rows = await session.scalars(select(ConsoleUser).order_by(ConsoleUser.name))
        return [UserInfo(row.id, row.name, Role(row.role), row.created_at) for row in rows]


async def remove_user(db: Database, name: str, *, actor: str) -> None:
    """Delete a user (their sessions end with it); UserError when unknown or the last admin."""
    async with db.session() as session:
        user = await session.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
        if user is None:
            raise UserError(f"no user named {name!r}", "unknown")
        if user.role == Role.ADMIN:
            admins = await session.scalar(
                select(func.count()).where(ConsoleUser.role == Role.ADMIN.value)
            )
            if (admins or 0) <= 1:
                raise UserError(
                    f"{name!r} is the last admin; add another admin first", "last_admin"
                )
        # Explicitly, not only by the foreign key: SQLite enforces none unless asked.
        await close_user_logins(session, user.id)
        await session.delete(user)
        add_audit_entry(session, actor, USER_REMOVED, name, {"role": user.role})


async def change_password(db: Database, name: str, password: str, *, actor: str) -> None:
    """Set a user's password and end every session they have (a stolen cookie included);
    UserError when the user is unknown or the password too weak."""
    try:
        password_hash = await asyncio.to_thread(hash_password, password)
    except PasswordError as error:
        raise UserError(str(error), "password") from None
    async with db.session() as session:
        user = await session.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
        if user is None:
            raise UserError(f"no user named {name!r}", "unknown")
        user.password_hash = password_hash
        user.updated_at = datetime.now(UTC)
        await close_user_logins(session, user.id)
        add_audit_entry(session, actor, USER_REKEYED, name)


async def find_user(db: Database, user_id: int, name: str) -> UserInfo | None:
    """The user a session names, if they still exist under that id (a re-added name is new)."""
    async with db.session() as session:
        user = await session.get(ConsoleUser, user_id)
    if user is None or user.name != name:
        return None
    return UserInfo(user.id, user.name, Role(user.role), user.created_at)


async def authenticate(db: Database, name: str, password: str) -> UserInfo | None:
    """The user when the password is theirs, else None (taking as long for unknown names).

    A hash of an older scheme (scrypt) or weaker parameters is replaced with a current
    one while the password is at hand: the only moment it can be."""
    async with db.session() as session:
        user = await session.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
    if user is None:
        await asyncio.to_thread(dummy_verify, password)
        return None
    matches, new_hash = await asyncio.to_thread(verify_and_update, password, user.password_hash)
    if not matches:
        return None
    if new_hash is not None:
        async with db.session() as session:
            stored = await session.get(ConsoleUser, user.id)
            # Unless the password was changed meanwhile.
            if stored is not None and stored.password_hash == user.password_hash:
                stored.password_hash = new_hash
                add_audit_entry(session, name, HASH_UPGRADED, name)
    return UserInfo(user.id, user.name, Role(user.role), user.created_at)

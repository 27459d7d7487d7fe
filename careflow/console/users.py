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

from careflow.console.audit import USER_ADDED, USER_REMOVED, add_audit_entry
from careflow.console.passwords import (
    PasswordError,
    dummy_verify,
    hash_password,
    verify_password,
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
        # scrypt takes tens of milliseconds on purpose: off the event loop.
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
        await session.delete(user)
        add_audit_entry(session, actor, USER_REMOVED, name, {"role": user.role})


async def find_user(db: Database, user_id: int, name: str) -> UserInfo | None:
    """The user a session names, if they still exist under that id (a re-added name is new)."""
    async with db.session() as session:
        user = await session.get(ConsoleUser, user_id)
    if user is None or user.name != name:
        return None
    return UserInfo(user.id, user.name, Role(user.role), user.created_at)


async def authenticate(db: Database, name: str, password: str) -> UserInfo | None:
    """The user when the password is theirs, else None (taking as long for unknown names)."""
    async with db.session() as session:
        user = await session.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
    if user is None:
        await asyncio.to_thread(dummy_verify, password)
        return None
    if not await asyncio.to_thread(verify_password, password, user.password_hash):
        return None
    return UserInfo(user.id, user.name, Role(user.role), user.created_at)

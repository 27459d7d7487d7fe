"""The way into the console that `careflow up` prints in its banner.

With `--demo`, a demo admin is made (or, on a later `--demo` start, given a new
password, which ends its old sessions) with a generated password, printed once
with the console's address: a newcomer logs in without reading anything first.
Without `--demo` the banner gives the address and, while the store has no admin,
the command that makes the first one.
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from careflow.console.roles import Role
from careflow.console.users import add_user, change_password
from careflow.store import ConsoleUser, Database

DEMO_ADMIN = "demo"
DEMO_ACTOR = "careflow up --demo"
FIRST_ADMIN_COMMAND = "careflow users add NAME --role admin"


def generated_password() -> str:
    """16 URL-safe characters (96 random bits): typed from a terminal, never guessed."""
    return secrets.token_urlsafe(12)


async def demo_admin(db: Database) -> tuple[str, str]:
    """The demo admin's name and a fresh password, the user created when missing."""
    password = generated_password()
    async with db.session() as session:
        role = await session.scalar(select(ConsoleUser.role).where(ConsoleUser.name == DEMO_ADMIN))
    if role is None:
        await add_user(db, DEMO_ADMIN, Role.ADMIN, password, actor=DEMO_ACTOR)
    else:
        await change_password(db, DEMO_ADMIN, password, actor=DEMO_ACTOR)
    return DEMO_ADMIN, password


async def has_admin(db: Database) -> bool:
    async with db.session() as session:
        count = await session.scalar(
            select(func.count()).where(ConsoleUser.role == Role.ADMIN.value)
        )
    return bool(count)


async def console_access_lines(db: Database, console_url: str, *, demo: bool) -> list[str]:
    """The banner's console lines: the address, then how to log in."""
    lines = [f"  Console       {console_url}"]
    if demo:
        name, password = await demo_admin(db)
        lines.append(f"                log in as [bold]{name}[/], password [bold]{password}[/]")
    elif not await has_admin(db):
        lines.append(f"                no admin yet; make the first: {FIRST_ADMIN_COMMAND}")
    return lines

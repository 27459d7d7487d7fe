"""Console sessions end on the server: a copy of the cookie taken before logout, a
password change or the user's removal no longer opens anything; and passwords are
Argon2id, with careflow's first scrypt hashes replaced at the next successful login."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from careflow.console.audit import HASH_UPGRADED
from careflow.console.logins import close_user_logins
from careflow.console.roles import Role
from careflow.console.users import add_user, change_password, remove_user
from careflow.store import AuditEntry, ConsoleSession, ConsoleUser, Database
from tests.console.conftest import PASSWORD, csrf_token, log_in
from tests.console.seed import Seeded


@pytest.fixture
async def client(console_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=console_app), base_url="http://careflow.test"
    ) as found:
        yield found


def copy_of(client: httpx.AsyncClient, app: FastAPI) -> httpx.AsyncClient:
    """Another browser holding the same cookies (a copied or stolen session)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://careflow.test",
        cookies=httpx.Cookies(client.cookies),
    )


async def opens_overview(client: httpx.AsyncClient) -> bool:
    response = await client.get("/console/tasks")
    if response.status_code == 303:
        assert response.headers["location"].startswith("/console/login")
        return False
    assert response.status_code == 200, response.text
    return True


async def test_logout_ends_the_session_for_every_copy_of_the_cookie(
    console_app: FastAPI, client: httpx.AsyncClient, seeded: Seeded, db: Database
) -> None:
    assert (await log_in(client, "vera")).status_code == 303
    async with copy_of(client, console_app) as stolen:
        assert await opens_overview(stolen)
        # A second login of the same user, elsewhere, is a session of its own.
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=console_app), base_url="http://careflow.test"
        ) as other_device:
            assert (await log_in(other_device, "vera")).status_code == 303
            token = await csrf_token(client, "/console/tasks")
            assert (await client.post("/console/logout", data={"csrf": token})).status_code == 303
            assert not await opens_overview(client)
            assert not await opens_overview(stolen)
            assert await opens_overview(other_device)


async def test_a_password_change_ends_every_session_of_the_user(
    console_app: FastAPI, client: httpx.AsyncClient, seeded: Seeded, db: Database
) -> None:
    assert (await log_in(client, "otto")).status_code == 303
    async with copy_of(client, console_app) as stolen:
        await change_password(db, "otto", "a brand new passphrase", actor="test")
        assert not await opens_overview(client)
        assert not await opens_overview(stolen)
    assert (await log_in(client, "otto")).status_code == 401
    assert (await log_in(client, "otto", "a brand new passphrase")).status_code == 303
    assert await opens_overview(client)


async def test_removing_a_user_ends_their_sessions_and_leaves_no_rows(
    console_app: FastAPI, client: httpx.AsyncClient, seeded: Seeded, db: Database
) -> None:
    assert (await log_in(client, "vera")).status_code == 303
    async with copy_of(client, console_app) as stolen:
        await remove_user(db, "vera", actor="test")
        # The same name added again is a new user: the old cookie does not pass for them.
        await add_user(db, "vera", Role.ADMIN, PASSWORD, actor="test")
        assert not await opens_overview(stolen)
    async with db.session() as session:
        vera = await session.scalar(select(ConsoleUser.id).where(ConsoleUser.name == "vera"))
        rows = list(await session.scalars(select(ConsoleSession.user_id)))
    assert vera not in rows


async def test_an_expired_or_deleted_login_row_is_a_logged_out_cookie(
    console_app: FastAPI, client: httpx.AsyncClient, seeded: Seeded, db: Database
) -> None:
    assert (await log_in(client, "ada")).status_code == 303
    assert await opens_overview(client)
    async with db.session() as session:
        ada = await session.scalar(select(ConsoleUser.id).where(ConsoleUser.name == "ada"))
        assert ada is not None
        await close_user_logins(session, ada)
    assert not await opens_overview(client)


def legacy_scrypt_hash(password: str) -> str:
    """A hash as careflow stored them before pwdlib: `scrypt$n$r$p$salt$hash`, n=2**14."""
    salt = b"0123456789abcdef"
    key = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, maxmem=2**25, dklen=32)
    encoded = [base64.b64encode(part).decode() for part in (salt, key)]
    return "$".join(("scrypt", str(2**14), "8", "1", *encoded))


async def test_an_old_scrypt_hash_is_upgraded_at_the_next_login(
    console_app: FastAPI, client: httpx.AsyncClient, seeded: Seeded, db: Database
) -> None:
    async with db.session() as session:
        user = await session.scalar(select(ConsoleUser).where(ConsoleUser.name == "vera"))
        assert user is not None
        user.password_hash = legacy_scrypt_hash(PASSWORD)

    assert (await log_in(client, "vera", "not the password")).status_code == 401
    async with db.session() as session:
        stored = await session.scalar(
            select(ConsoleUser.password_hash).where(ConsoleUser.name == "vera")
        )
    assert stored is not None
    assert stored.startswith("scrypt$")  # a failure changes nothing

    assert (await log_in(client, "vera")).status_code == 303
    async with db.session() as session:
        stored = await session.scalar(
            select(ConsoleUser.password_hash).where(ConsoleUser.name == "vera")
        )
        rehashed = list(
            await session.scalars(
                select(AuditEntry.actor).where(AuditEntry.action == HASH_UPGRADED)
            )
        )
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert rehashed == ["vera"]
    # The new hash opens the console just as the old one did.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=console_app), base_url="http://careflow.test"
    ) as again:
        assert (await log_in(again, "vera")).status_code == 303

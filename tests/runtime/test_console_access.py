"""The banner's way into the console: a demo admin with a generated password, or the
command that makes the first admin."""

from __future__ import annotations

import pytest

from careflow.console.users import authenticate, list_users
from careflow.runtime.console_access import (
    DEMO_ADMIN,
    FIRST_ADMIN_COMMAND,
    console_access_lines,
)
from careflow.store import Database

URL = "http://127.0.0.1:8080/console/"

pytestmark = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


async def test_without_demo_the_banner_says_how_to_make_the_first_admin(db: Database) -> None:
    lines = await console_access_lines(db, URL, demo=False)
    assert lines[0].split() == ["Console", URL]
    assert FIRST_ADMIN_COMMAND in lines[1]
    assert await list_users(db) == []


def printed_password(lines: list[str]) -> str:
    words = lines[1].replace("[bold]", "").replace("[/]", "").replace(",", "").split()
    assert words[:4] == ["log", "in", "as", DEMO_ADMIN]
    assert words[4] == "password"
    return words[5]


async def test_demo_makes_an_admin_whose_printed_password_logs_in(db: Database) -> None:
    first = printed_password(await console_access_lines(db, URL, demo=True))
    user = await authenticate(db, DEMO_ADMIN, first)
    assert user is not None
    assert user.role.value == "admin"
    # A later --demo start prints a new password; the old one stops working.
    second = printed_password(await console_access_lines(db, URL, demo=True))
    assert second != first
    assert await authenticate(db, DEMO_ADMIN, second) is not None
    assert await authenticate(db, DEMO_ADMIN, first) is None
    # With an admin in the store, a plain start only gives the address.
    assert await console_access_lines(db, URL, demo=False) == [f"  Console       {URL}"]

"""`careflow users add|list|remove`: the first admin is made on the server, every mistake
is named, and every change is audited."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from typer.testing import CliRunner

from careflow.cli import app
from careflow.console.audit import recent_audit
from careflow.console.passwords import verify_password
from careflow.store import create_database

PASSWORD = "correct horse battery staple"


def store_url() -> str:
    return f"sqlite+aiosqlite:///{Path(os.environ['CAREFLOW_HOME']) / 'careflow.db'}"


async def stored_users() -> list[tuple[str, str, str]]:
    from sqlalchemy import text

    db = create_database(store_url())
    try:
        async with db.session() as session:
            rows = await session.execute(
                text("select name, role, password_hash from console_users order by name")
            )
            return [tuple(row) for row in rows.all()]
    finally:
        await db.dispose()


async def audit_actions() -> list[tuple[str, str | None]]:
    db = create_database(store_url())
    try:
        return [(entry.action, entry.target) for entry in reversed(await recent_audit(db))]
    finally:
        await db.dispose()


def test_add_list_and_remove_users() -> None:
    runner = CliRunner()
    added = runner.invoke(
        app, ["users", "add", "root", "--role", "admin", "--password-stdin"], input=f"{PASSWORD}\n"
    )
    assert added.exit_code == 0, added.output
    assert "added root (admin)" in added.output
    second = runner.invoke(
        app, ["users", "add", "li.wei", "--role", "viewer", "--password-stdin"], input=PASSWORD
    )
    assert second.exit_code == 0, second.output
    [(name, role, hashed), viewer] = asyncio.run(stored_users())
    assert (name, role) == ("li.wei", "viewer")
    assert viewer[:2] == ("root", "admin")
    # Stored as a salted Argon2id hash, never as given; the line ending is not part of it.
    assert PASSWORD not in hashed
    assert hashed.startswith("$argon2id$")
    assert verify_password(PASSWORD, viewer[2])

    listed = runner.invoke(app, ["users", "list"])
    assert listed.exit_code == 0
    assert "root" in listed.output
    assert "viewer" in listed.output

    removed = runner.invoke(app, ["users", "remove", "li.wei", "--yes"])
    assert removed.exit_code == 0, removed.output
    assert [user[0] for user in asyncio.run(stored_users())] == ["root"]
    assert asyncio.run(audit_actions()) == [
        ("user_added", "root"),
        ("user_added", "li.wei"),
        ("user_removed", "li.wei"),
    ]


def test_mistakes_are_named_and_change_nothing() -> None:
    runner = CliRunner()
    add = ["users", "add", "--password-stdin"]
    cases = [
        (
            ["x", "--role", "boss"],
            PASSWORD,
            2,
            "'boss' is not a role: expected one of viewer, operator, admin",
        ),
        (["x", "--role", "admin"], "short", 1, "at least 10 characters"),
        (["bad name", "--role", "admin"], PASSWORD, 1, "is not a valid user name"),
    ]
    for arguments, password, code, message in cases:
        result = runner.invoke(app, [*add[:2], *arguments, add[2]], input=password)
        assert result.exit_code == code, (arguments, result.output)
        # rich may wrap the message in a box: compare the words only.
        assert message in " ".join(result.output.replace("│", " ").split()), arguments
    assert asyncio.run(stored_users()) == []

    assert (
        runner.invoke(app, [*add[:2], "root", "--role", "admin", add[2]], input=PASSWORD).exit_code
        == 0
    )
    twice = runner.invoke(app, [*add[:2], "root", "--role", "admin", add[2]], input=PASSWORD)
    assert twice.exit_code == 1
    assert "exists already" in twice.output
    last = runner.invoke(app, ["users", "remove", "root", "--yes"])
    assert last.exit_code == 1
    assert "last admin" in last.output
    unknown = runner.invoke(app, ["users", "remove", "nobody", "--yes"])
    assert unknown.exit_code == 1
    assert "no user named 'nobody'" in unknown.output

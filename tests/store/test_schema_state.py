"""Services check the store's schema against the code's migrations, on SQLite and
PostgreSQL: behind is refused naming `careflow db upgrade`; newer (a store already
migrated by the next version during a rolling upgrade) is accepted."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from careflow.store import Database, SchemaBehindError
from careflow.store.db import alembic_config

_SCRIPTS = ScriptDirectory.from_config(alembic_config())
# The code's newest revision and the one before it (another branch may add migrations).
HEAD = str(_SCRIPTS.get_current_head())
PREVIOUS = str(_SCRIPTS.get_revision(HEAD).down_revision)


async def stamp(db: Database, revision: str) -> None:
    async with db.engine.begin() as connection:
        await connection.execute(
            text("UPDATE alembic_version SET version_num = :r"), {"r": revision}
        )


async def test_schema_state_follows_the_stamped_revision(db: Database) -> None:
    state = await db.require_current_schema()
    assert (state.current, state.head, state.known, state.behind) == (HEAD, HEAD, True, False)

    await stamp(db, PREVIOUS)
    with pytest.raises(SchemaBehindError) as caught:
        await db.require_current_schema()
    assert str(caught.value).endswith(
        f"is at revision {PREVIOUS}, this careflow needs {HEAD}: run `careflow db upgrade` first"
    )

    await stamp(db, "9999")  # migrated by a newer careflow: the old workers keep running
    state = await db.require_current_schema()
    assert (state.current, state.known, state.behind) == ("9999", False, False)

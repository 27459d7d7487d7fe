"""The Releases page: the history, one release's check, backtest and diff side by side,
and activation by a second admin only; rollback in one step; all of it audited."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from careflow.config import load_settings
from careflow.console.audit import recent_audit
from careflow.console.roles import Role
from careflow.console.users import add_user
from careflow.releases.backtest import backtest_release
from careflow.releases.lifecycle import Actor, ReviewPolicy, activate, propose_folder
from careflow.releases.repository import active_release_id, get_release
from careflow.store import Database
from tests.console.conftest import PASSWORD, csrf_token, log_in
from tests.releases.folders import operator_folder


async def test_release_review_on_the_console(
    db: Database,
    console_app: FastAPI,
    logged_in: dict[str, httpx.AsyncClient],
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    first = await propose_folder(
        db, *operator_folder(tmp_path / "first"), actor="otto", cache_dir=cache
    )
    await activate(
        db, first.release_id, actor=Actor("ada", Role.ADMIN), policy=ReviewPolicy(), cache_dir=cache
    )
    second = await propose_folder(
        db,
        *operator_folder(tmp_path / "second", ack_description="Every complaint, at once."),
        actor="ada",
        cache_dir=cache,
    )
    backtest = await backtest_release(
        db, second.release_id, settings=load_settings(), actor="ada", sample=5, days=1
    )

    ada, otto = logged_in["ada"], logged_in["otto"]
    page = await ada.get("/console/releases", params={"release": second.release_id})
    assert page.status_code == 200
    text = page.text
    assert f'data-release="{first.release_id}" data-active="true"' in text
    assert 'data-check="passed"' in text
    assert (
        f'data-testid="messages-change" data-value="{backtest["comparison"]["messages_change"]}"'
        in text
    )
    for row in backtest["journeys"]:
        assert f'<tr data-journey="{row["journey"]}">' in text
    assert "rules/complaints.rules.yaml: rule acknowledge-new-complaint" in text
    assert "+    description: Every complaint, at once." in text

    async def post(client: httpx.AsyncClient, path: str, **data: str) -> httpx.Response:
        token = await csrf_token(client, "/console/releases")
        return await client.post(path, data={"csrf": token, **data})

    refused = await post(ada, "/console/releases/activate", release=second.release_id)
    assert refused.status_code == 403
    assert "ada proposed release" in refused.text
    refused = await post(otto, "/console/releases/activate", release=second.release_id)
    assert refused.status_code == 403
    assert "needs the admin role" in refused.text
    # In the reader's language.
    refused = await post(otto, "/console/releases/activate?lang=zh-CN", release=second.release_id)
    assert refused.status_code == 403
    assert "激活发布需要管理员角色" in refused.text
    assert await active_release_id(db) == first.release_id

    await add_user(db, "bea", Role.ADMIN, PASSWORD, actor="test")
    transport = httpx.ASGITransport(app=console_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://careflow.test") as bea:
        assert (await log_in(bea, "bea")).status_code == 303
        done = await post(bea, "/console/releases/activate", release=second.release_id)
        assert done.status_code == 303
        assert "done=release_activated" in done.headers["location"]
        assert await active_release_id(db) == second.release_id
        assert (await get_release(db, second.release_id)).approved_by == "bea"
        back = await post(bea, "/console/releases/rollback")
        assert back.status_code == 303
        assert await active_release_id(db) == first.release_id

    actions = [
        (entry.actor, entry.action)
        for entry in reversed(await recent_audit(db, limit=100))
        if entry.action.startswith("release_")
    ]
    assert actions[-6:] == [
        ("ada", "release_activation_refused"),
        ("otto", "release_activation_refused"),
        ("otto", "release_activation_refused"),
        ("bea", "release_approved"),
        ("bea", "release_activated"),
        ("bea", "release_rolled_back"),
    ]

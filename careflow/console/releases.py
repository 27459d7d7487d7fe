"""The console's Releases page: every release with who proposed, checked, approved and
activated it; for one release its check, backtest and diff against the active release
side by side, the journeys in flight its changes concern, and the buttons to activate
it or roll back. The gates are careflow/releases/lifecycle.py's, as for the CLI: a
refusal is shown on the page and is in the audit log.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from careflow.console.roles import Role
from careflow.console.web import PREFIX, FormVisit, Visit, redirect, render, require, require_form
from careflow.releases.diff import diff_releases
from careflow.releases.impact import journeys_in_flight_of_changes
from careflow.releases.lifecycle import ActivationRefused, Actor, ReviewPolicy, activate, rollback
from careflow.releases.repository import (
    ReleaseNotFound,
    active_release_id,
    get_release,
    list_releases,
    release_files,
)
from careflow.rules import RuleFileError

router = APIRouter(prefix=PREFIX, include_in_schema=False)

Viewer = Annotated[Visit, Depends(require(Role.VIEWER))]
ViewerForm = Annotated[FormVisit, Depends(require_form(Role.VIEWER))]


def review_policy(current: Visit) -> ReviewPolicy:
    settings = current.console.settings
    return ReviewPolicy(
        approver_role=Role(settings.release_approver_role),
        self_approval=settings.release_self_approval,
    )


@router.get("/releases")
async def releases_page(current: Viewer, release: str = "") -> HTMLResponse:
    """The release history, and one release (`?release=ID`, else the newest) in detail."""
    return await releases_view(current, release)


async def releases_view(
    current: Visit, selected: str = "", *, problem: str | None = None, status: int = 200
) -> HTMLResponse:
    db = current.api.db
    releases = await list_releases(db)
    active = await active_release_id(db)
    chosen = next((item for item in releases if item.id == selected), None)
    if chosen is None and releases:
        chosen = releases[0]
    detail: dict[str, Any] = {}
    if chosen is not None:
        record = await get_release(db, chosen.id)
        detail["check"] = record.check_report or {}
        detail["backtest"] = record.backtest
        changes = []
        if active is not None and active != chosen.id:
            changes = diff_releases(
                await release_files(db, active), await release_files(db, chosen.id)
            )
        detail["changes"] = changes
        in_flight = []
        if chosen.check_status == "passed" and chosen.id != active:
            cache = current.console.settings.resolved_home / "releases"
            try:
                in_flight = await journeys_in_flight_of_changes(db, chosen.id, cache)
            except RuleFileError:
                in_flight = []  # checked by another careflow version; its check says more
        detail["in_flight"] = in_flight
    return render(
        current,
        "releases.html.j2",
        {
            "releases": releases,
            "chosen": chosen,
            "active_id": active,
            "problem": problem,
            "approver_role": review_policy(current).approver_role.value,
            **detail,
        },
        status=status,
    )


@router.post("/releases/activate")
async def activate_action(submitted: ViewerForm) -> Response:
    """Activate the release (its check passed; a second person with the approver role)."""
    current = submitted.visit
    release_id = submitted.field("release")
    assert current.user is not None
    try:
        await activate(
            current.api.db,
            release_id,
            actor=Actor(current.user.name, current.user.role),
            policy=review_policy(current),
            cache_dir=current.console.settings.resolved_home / "releases",
        )
    except ActivationRefused as refused:
        return await releases_view(
            current,
            release_id,
            problem=current.t.phrase(refused.reason),
            status=403 if refused.forbidden else 409,
        )
    except ReleaseNotFound:
        return render(current, "not_found.html.j2", {"what": release_id or "-"}, status=404)
    # Let this process serve it now rather than at its next poll.
    if current.api.follower is not None:
        await current.api.follower.sync()
    return redirect(
        current, f"{PREFIX}/releases?release={quote(release_id, safe='')}&done=release_activated"
    )


@router.post("/releases/rollback")
async def rollback_action(submitted: ViewerForm) -> Response:
    """Re-activate the release active before the active one, in one step."""
    current = submitted.visit
    assert current.user is not None
    try:
        activation = await rollback(
            current.api.db,
            actor=Actor(current.user.name, current.user.role),
            policy=review_policy(current),
        )
    except ActivationRefused as refused:
        return await releases_view(
            current,
            problem=current.t.phrase(refused.reason),
            status=403 if refused.forbidden else 409,
        )
    if current.api.follower is not None:
        await asyncio.shield(current.api.follower.sync())
    return redirect(
        current,
        f"{PREFIX}/releases?release={quote(activation.release_id, safe='')}"
        "&done=release_rolled_back",
    )

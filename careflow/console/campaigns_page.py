"""The console's Campaigns page: every campaign file with its state and progress; for one
campaign its ledger counts, a preview on request, and the buttons to launch or cancel
it (operators and admins; viewers see, and a viewer's POST is refused and audited by
`require_form`). The actions are careflow/campaigns/client.py's, as for the CLI, and
are audited with the console user as the actor.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from careflow.campaigns.client import (
    CampaignStatus,
    LaunchOutcome,
    campaign_status,
    cancel_campaign,
    launch_campaign,
)
from careflow.campaigns.preview import preview_configured
from careflow.campaigns.spec import CampaignFileError, CampaignSpec, campaign_files, load_campaign
from careflow.console.roles import Role
from careflow.console.web import PREFIX, FormVisit, Visit, redirect, render, require, require_form

router = APIRouter(prefix=PREFIX, include_in_schema=False)

Viewer = Annotated[Visit, Depends(require(Role.VIEWER))]
OperatorForm = Annotated[FormVisit, Depends(require_form(Role.OPERATOR))]


def _folders(current: Visit) -> tuple[Path, Path]:
    """The rules and templates folders this process serves (a release's, when it follows one)."""
    follower = current.api.follower
    if follower is not None:
        return follower.rules_dir, follower.templates_dir
    settings = current.console.settings
    return settings.rules_dir, settings.templates_dir


@router.get("/campaigns")
async def campaigns_page(current: Viewer, campaign: str = "", preview: str = "") -> HTMLResponse:
    """Every campaign and its state; one (`?campaign=NAME`) in detail, previewed on request."""
    return await campaigns_view(current, campaign, with_preview=preview == "1")


async def campaigns_view(
    current: Visit,
    selected: str = "",
    *,
    with_preview: bool = False,
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    rules_dir, _ = _folders(current)
    rows: list[tuple[str, CampaignSpec | None, CampaignStatus, list[str]]] = []
    for path in campaign_files(rules_dir):
        name = path.name.removesuffix(".campaign.yaml")
        try:
            spec: CampaignSpec | None = load_campaign(rules_dir, name)
            problems: list[str] = []
        except CampaignFileError as error:
            spec, problems = None, list(error.problems)
        found = await campaign_status(current.api.client, current.api.db, name)
        rows.append((name, spec, found, problems))
    chosen = next((row for row in rows if row[0] == selected), None)
    previewed = None
    if chosen is not None and with_preview and chosen[1] is not None:
        settings = current.console.settings
        rules, templates = _folders(current)
        settings = settings.model_copy(update={"rules_dir": rules, "templates_dir": templates})
        try:
            previewed = await preview_configured(
                settings, current.api.db, chosen[0], at=datetime.now(UTC)
            )
        except CampaignFileError as error:
            problem = "; ".join(error.problems)
    return render(
        current,
        "campaigns.html.j2",
        {"rows": rows, "chosen": chosen, "preview": previewed, "problem": problem},
        status=status,
    )


@router.post("/campaigns/launch")
async def launch_action(submitted: OperatorForm) -> Response:
    """Launch the campaign once (a second launch is refused, and audited as such)."""
    current = submitted.visit
    name = submitted.field("campaign")
    assert current.user is not None
    rules_dir, templates_dir = _folders(current)
    launched = await launch_campaign(
        current.api.client,
        current.api.db,
        name,
        rules_dir=rules_dir,
        templates_dir=templates_dir,
        task_queue=current.api.task_queue,
        actor=current.user.name,
        details={"via": "console"},
    )
    if launched.outcome is LaunchOutcome.INVALID:
        return await campaigns_view(current, name, problem="; ".join(launched.problems), status=422)
    if launched.outcome is LaunchOutcome.ALREADY_LAUNCHED:
        return await campaigns_view(
            current, name, problem=current.t("campaigns.already_launched"), status=409
        )
    return redirect(
        current, f"{PREFIX}/campaigns?campaign={quote(name, safe='')}&done=campaign_launched"
    )


@router.post("/campaigns/cancel")
async def cancel_action(submitted: OperatorForm) -> Response:
    """Stop a running campaign after its current page."""
    current = submitted.visit
    name = submitted.field("campaign")
    assert current.user is not None
    stopping = await cancel_campaign(
        current.api.client,
        current.api.db,
        name,
        actor=current.user.name,
        details={"via": "console"},
    )
    if not stopping:
        return await campaigns_view(
            current, name, problem=current.t("campaigns.not_running"), status=409
        )
    return redirect(
        current, f"{PREFIX}/campaigns?campaign={quote(name, safe='')}&done=campaign_cancelled"
    )

"""The console's Webhooks page: each endpoint and staff robot, paused ones first."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from careflow.config_files import ConfigFileError
from careflow.console.pages import Viewer
from careflow.console.web import PREFIX, render
from careflow.webhooks.config import (
    STAFF_ALERTS_FILE_NAME,
    WEBHOOKS_FILE_NAME,
    load_staff_alerts_config,
    load_webhooks_config,
)
from careflow.webhooks.outbox import endpoint_statuses

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/webhooks")
async def webhooks_page(current: Viewer) -> HTMLResponse:
    """Endpoints of webhooks.yaml and robots of staff_alerts.yaml, with their deliveries."""
    rules_dir = current.console.settings.rules_dir
    try:
        webhooks = load_webhooks_config(rules_dir / WEBHOOKS_FILE_NAME)
        staff = load_staff_alerts_config(rules_dir / STAFF_ALERTS_FILE_NAME)
    except ConfigFileError as error:
        return render(current, "config_error.html.j2", {"problems": [str(error)]}, status=503)
    names = [
        *webhooks.endpoints,
        *(
            staff.robot_name(team, index)
            for team, alerts in staff.teams.items()
            for index in range(len(alerts.robots))
        ),
    ]
    statuses = await endpoint_statuses(current.api.db, names)
    statuses.sort(key=lambda status: (status.paused_at is None, status.name))
    paused = sum(1 for status in statuses if status.paused_at is not None)
    return render(current, "webhooks.html.j2", {"endpoints": statuses, "paused": paused})

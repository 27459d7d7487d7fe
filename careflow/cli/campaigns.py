"""`careflow campaign preview|launch|status|cancel NAME`: one-off broadcasts from the terminal.

A campaign is a file `rules/campaigns/NAME.campaign.yaml`. Preview decides for every
member of its segment what the send step would, and sends nothing; launch starts its
workflow once (a second launch is refused), cancel stops it after the current page.
Launches and cancels are audited as `cli:<operating-system user>`, like the console's
buttons (which need the operator role).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import UTC, datetime

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from careflow.campaigns.client import (
    CampaignStatus,
    Launch,
    LaunchOutcome,
    campaign_status,
    cancel_campaign,
    launch_campaign,
)
from careflow.campaigns.preview import CampaignPreview, preview_configured
from careflow.campaigns.spec import CampaignFileError
from careflow.cli.app import app
from careflow.cli.audit import cli_actor, cli_details
from careflow.cli.journeys import _with_db
from careflow.cli.scan import parse_when
from careflow.cli.temporal import connect_or_exit
from careflow.config import load_settings

campaign_app = typer.Typer(name="campaign", help="One-off broadcasts: preview, launch, status.")
app.add_typer(campaign_app)

console = Console()
err = Console(stderr=True)


@campaign_app.command("preview")
def preview_command(
    name: str = typer.Argument(..., help="the campaign (rules/campaigns/NAME.campaign.yaml)"),
    at: str | None = typer.Option(None, "--at", help="As of this time (ISO 8601); default now."),
    samples: int = typer.Option(5, min=0, max=100, help="ids listed per exclusion reason"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Who would get the campaign now, who would not and why, per variant, per hour."""
    settings = load_settings()
    when = parse_when(at) or datetime.now(UTC)
    try:
        preview = asyncio.run(
            _with_db(
                settings,
                lambda db: preview_configured(settings, db, name, at=when, samples=samples),
            )
        )
    except CampaignFileError as error:
        _problems(error.problems)
    if as_json:
        console.print_json(json.dumps(_preview_json(preview), default=str))
        return
    _print_preview(preview)


@campaign_app.command("launch")
def launch_command(
    name: str = typer.Argument(..., help="the campaign (rules/campaigns/NAME.campaign.yaml)"),
) -> None:
    """Start sending the campaign through a running worker; once per campaign, ever."""
    settings = load_settings()

    async def launch() -> Launch:
        client = await connect_or_exit(settings)
        return await _with_db(
            settings,
            lambda db: launch_campaign(
                client,
                db,
                name,
                rules_dir=settings.rules_dir,
                templates_dir=settings.templates_dir,
                task_queue=settings.task_queue,
                actor=cli_actor(),
                details=cli_details("campaign launch"),
            ),
        )

    launched = asyncio.run(launch())
    outcome = launched.outcome
    if outcome is LaunchOutcome.INVALID:
        _problems(launched.problems)
    if outcome is LaunchOutcome.ALREADY_LAUNCHED:
        err.print(
            f"[yellow]campaign {escape(name)} was launched before: nothing new is sent[/] "
            f"(see `careflow campaign status {escape(name)}`)"
        )
        raise typer.Exit(1)
    console.print(f"launched campaign {escape(name)} ({launched.workflow_id})")


@campaign_app.command("status")
def status_command(
    name: str = typer.Argument(..., help="the campaign"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Where the campaign stands: sent, skipped by reason, waiting, remaining."""
    settings = load_settings()

    async def status() -> CampaignStatus:
        client = await connect_or_exit(settings)
        return await _with_db(settings, lambda db: campaign_status(client, db, name))

    found = asyncio.run(status())
    if as_json:
        console.print_json(json.dumps(_status_json(found), default=str))
        return
    console.print(f"campaign {escape(name)}: {found.state}")
    progress = found.progress
    if progress is not None and progress.audience is not None:
        console.print(f"  audience {progress.audience}, remaining {found.remaining}")
    for key, count in sorted(found.ledger.items()):
        console.print(f"  {escape(key)}: {count}")
    if progress is not None and progress.waiting:
        console.print(f"  waiting for their window: {progress.waiting} until {progress.next_try}")


@campaign_app.command("cancel")
def cancel_command(name: str = typer.Argument(..., help="the campaign")) -> None:
    """Stop a running campaign after its current page; what was sent stays sent."""
    settings = load_settings()

    async def cancel() -> bool:
        client = await connect_or_exit(settings)
        return await _with_db(
            settings,
            lambda db: cancel_campaign(
                client, db, name, actor=cli_actor(), details=cli_details("campaign cancel")
            ),
        )

    if not asyncio.run(cancel()):
        err.print(f"[yellow]campaign {escape(name)} is not running[/]")
        raise typer.Exit(1)
    console.print(f"campaign {escape(name)} stops after its current page")


def _problems(problems: list[str]) -> None:
    for problem in problems:
        err.print(f"[red]{escape(problem)}[/]")
    raise typer.Exit(1)


def _preview_json(preview: CampaignPreview) -> dict[str, object]:
    return {
        "campaign": preview.campaign,
        "at": preview.at.isoformat(),
        "channel": preview.channel,
        "audience": preview.audience,
        "eligible": preview.eligible,
        "excluded": dict(preview.excluded),
        "excluded_samples": preview.samples,
        "waiting": dict(preview.waiting),
        "variants": dict(preview.variants),
        "messages_per_hour": preview.per_hour,
        "hours": preview.hours,
    }


def _status_json(status: CampaignStatus) -> dict[str, object]:
    return {
        "campaign": status.name,
        "workflow_id": status.workflow_id,
        "state": status.state,
        "ledger": status.ledger,
        "remaining": status.remaining,
        "progress": None if status.progress is None else asdict(status.progress),
    }


def _print_preview(preview: CampaignPreview) -> None:
    console.print(
        f"campaign {escape(preview.campaign)} as of {preview.at:%Y-%m-%d %H:%M} UTC: "
        f"{preview.audience} in the segment, {preview.eligible} would get it "
        f"(channel: {preview.channel})"
    )
    if preview.excluded:
        table = Table("excluded because", "customers", "for example")
        for reason, count in preview.excluded.most_common():
            table.add_row(reason, str(count), escape(", ".join(preview.samples.get(reason, []))))
        console.print(table)
    if preview.variants:
        variants = ", ".join(f"{name}: {n}" for name, n in sorted(preview.variants.items()))
        console.print(f"per variant: {escape(variants)}")
    if preview.waiting:
        waiting = ", ".join(f"{why}: {n}" for why, n in preview.waiting.most_common())
        console.print(f"eligible but not yet (sent when allowed): {escape(waiting)}")
    if preview.per_hour is None:
        console.print("rate: unpaced (as fast as the send step goes)")
    else:
        console.print(
            f"expected {preview.per_hour} messages per hour while sending; "
            f"about {preview.hours or 0:.1f} hours for everyone eligible (windows aside)"
        )

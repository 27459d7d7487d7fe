"""Launch, cancel and report on a campaign: what the CLI and the console call.

A launch starts `CampaignWorkflow` under the campaign's own id and refuses a second
launch (running or finished: a campaign is sent once; copy its file under a new name
to send it again). Launches and cancels are written to the audit log with their
actor. Status reads the workflow (its state and progress) and the ledger (what was
really sent, skipped or failed), so it answers after the workflow is done too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from careflow.campaigns.checks import checked_campaigns
from careflow.campaigns.spec import CampaignFileError, load_campaign
from careflow.console.audit import record_audit
from careflow.contracts.campaigns import CampaignInput, CampaignProgress
from careflow.outreach.decisions import reason_code
from careflow.store import Database
from careflow.store.models import OutreachLedger
from careflow.workflows.campaign import CampaignWorkflow
from careflow.workflows.ids import campaign_workflow_id

CAMPAIGN_LAUNCHED = "campaign_launched"
CAMPAIGN_CANCELLED = "campaign_cancelled"
# A running workflow answers a query within this; past it, status shows the ledger only.
QUERY_TIMEOUT = timedelta(seconds=5)


class LaunchOutcome(StrEnum):
    LAUNCHED = "launched"
    ALREADY_LAUNCHED = "already_launched"  # running or finished: nothing new starts
    INVALID = "invalid"  # the files have mistakes (listed in `problems`)


@dataclass(frozen=True)
class Launch:
    outcome: LaunchOutcome
    workflow_id: str
    problems: list[str] = field(default_factory=list)
    # The started run (None unless launched): awaiting its result is how a caller
    # waits for the campaign to finish.
    handle: WorkflowHandle[Any, CampaignProgress] | None = None


@dataclass(frozen=True)
class CampaignStatus:
    """Where a campaign stands: its workflow's state, its progress, and the ledger."""

    name: str
    workflow_id: str
    state: str  # not_launched, scheduled, sending, waiting, done, cancelled, failed, ...
    progress: CampaignProgress | None
    ledger: dict[str, int]  # sent, failed, deferred and skipped:<reason>

    @property
    def sent(self) -> int:
        return self.ledger.get("sent", 0)

    @property
    def remaining(self) -> int | None:
        """Audience members not yet handled (None before the audience is counted)."""
        if self.progress is None or self.progress.audience is None:
            return None
        # Held-out members are ledger rows too (skipped: holdout).
        handled = sum(n for key, n in self.ledger.items() if key != "deferred")
        return max(0, self.progress.audience - handled)


async def launch_campaign(
    client: Client,
    db: Database,
    name: str,
    *,
    rules_dir: Path,
    templates_dir: Path,
    task_queue: str,
    actor: str,
    details: dict[str, object] | None = None,
) -> Launch:
    """Start the campaign's workflow once; audited whether it started or was refused."""
    workflow_id = campaign_workflow_id(name)
    problems = campaign_launch_problems(name, rules_dir=rules_dir, templates_dir=templates_dir)
    if problems:
        return Launch(LaunchOutcome.INVALID, workflow_id, problems)
    try:
        handle = await client.start_workflow(
            CampaignWorkflow.run,
            CampaignInput(campaign=name),
            id=workflow_id,
            task_queue=task_queue,
            # Once ever: a finished campaign is not sent again under its name (and
            # were it, the ledger keys would match and send nothing).
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
        outcome = LaunchOutcome.LAUNCHED
    except WorkflowAlreadyStartedError:
        outcome, handle = LaunchOutcome.ALREADY_LAUNCHED, None
    await record_audit(
        db, actor, CAMPAIGN_LAUNCHED, name, {**(details or {}), "outcome": outcome.value}
    )
    return Launch(outcome, workflow_id, handle=handle)


def campaign_launch_problems(name: str, *, rules_dir: Path, templates_dir: Path) -> list[str]:
    """What stops `name` from being launched: its own file's mistakes (another
    campaign's broken file does not hold this one back), or no such campaign."""
    try:
        campaigns = checked_campaigns(rules_dir, templates_dir)
    except CampaignFileError as error:
        own = [problem for problem in error.problems if problem.startswith(f"{name}.campaign.")]
        if own:
            return own
        try:
            load_campaign(rules_dir, name)
        except CampaignFileError as missing:
            return list(missing.problems)
        return []
    if name not in campaigns:
        known = ", ".join(sorted(campaigns)) or "none"
        return [f"no campaign {name!r} in rules/campaigns/ (campaigns: {known})"]
    return []


async def cancel_campaign(
    client: Client, db: Database, name: str, *, actor: str, details: dict[str, object] | None = None
) -> bool:
    """Ask a running campaign to stop after its current page; False if none runs."""
    handle = client.get_workflow_handle(campaign_workflow_id(name))
    try:
        described = await handle.describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    if described.status is not WorkflowExecutionStatus.RUNNING:
        return False
    await handle.signal(CampaignWorkflow.cancel)
    await record_audit(db, actor, CAMPAIGN_CANCELLED, name, dict(details or {}))
    return True


async def campaign_status(client: Client, db: Database, name: str) -> CampaignStatus:
    """The campaign's state and progress; the ledger's counts are the truth of what left."""
    workflow_id = campaign_workflow_id(name)
    ledger = await ledger_counts(db, workflow_id)
    handle = client.get_workflow_handle_for(CampaignWorkflow.run, workflow_id)
    try:
        described = await handle.describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return CampaignStatus(name, workflow_id, "not_launched", None, ledger)
        raise
    progress: CampaignProgress | None = None
    if described.status is WorkflowExecutionStatus.COMPLETED:
        progress = await handle.result()
        state = progress.state
    elif described.status is WorkflowExecutionStatus.RUNNING:
        try:
            progress = await handle.query(CampaignWorkflow.progress, rpc_timeout=QUERY_TIMEOUT)
            state = progress.state
        except RPCError:
            state = "running"  # no worker answered: the ledger still says what left
    else:
        state = (described.status.name if described.status else "unknown").lower()
    return CampaignStatus(name, workflow_id, state, progress, ledger)


async def ledger_counts(db: Database, workflow_id: str) -> dict[str, int]:
    """The campaign's ledger rows by outcome: `sent`, `failed`, `deferred`, `skipped:<reason>`."""
    counts: Counter[str] = Counter()
    query = (
        select(OutreachLedger.status, OutreachLedger.reason, func.count())
        .where(OutreachLedger.workflow_id == workflow_id)
        .group_by(OutreachLedger.status, OutreachLedger.reason)
    )
    async with db.session() as session:
        for status, reason, count in await session.execute(query):
            key = f"skipped:{reason_code(reason)}" if status == "skipped" else str(status)
            counts[key] += int(count)
    return dict(counts)

"""careflow's only worker entry point.

`create_worker` builds the Temporal worker with every registered workflow and
activity; `python worker.py` runs the whole embedded runtime, exactly like
`careflow up` (pass the same options, e.g. `python worker.py --demo`).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from careflow.activities.registry import build_activities
from careflow.config import Settings
from careflow.outreach.mailer import Delivery
from careflow.rules import LiveRuleBook
from careflow.store import Database
from careflow.workflows.registry import WORKFLOWS

# careflow's own non-workflow packages (activity and intent dataclasses, settings)
# are loaded once, outside the sandbox: workflows only use their data types, and
# re-importing them per workflow would also re-import durable_rules and SQLAlchemy.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "activities", "careflow", "rules"
    )
)


def create_worker(
    client: Client,
    settings: Settings,
    *,
    db: Database,
    delivery: Delivery,
    rulebook: LiveRuleBook | None = None,
    task_queue: str | None = None,
) -> Worker:
    """The worker for careflow's task queue, with everything registered."""
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=WORKFLOWS,
        workflow_runner=WORKFLOW_RUNNER,
        # On shutdown, running activities get time to finish: a send whose SMTP
        # exchange is done must also record it, or a retry would send it again.
        graceful_shutdown_timeout=timedelta(seconds=20),
        activities=build_activities(
            settings, db=db, client=client, delivery=delivery, rulebook=rulebook
        ),
    )


if __name__ == "__main__":
    import sys

    # Imported here: the CLI imports this module to build its worker.
    from careflow.cli.app import app

    app(["up", *sys.argv[1:]])

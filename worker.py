"""careflow's only worker entry point.

`create_worker` builds the Temporal worker with every registered workflow and
activity; `python worker.py` runs the whole embedded runtime, exactly like
`careflow up` (pass the same options, e.g. `python worker.py --demo`).
"""

from __future__ import annotations

import pkgutil
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxRestrictions

import careflow
from careflow.activities.registry import build_activities
from careflow.config import Settings
from careflow.observability import client_traces, tracing_interceptors
from careflow.outreach.mailer import Delivery
from careflow.releases.follower import ReleaseFollower
from careflow.rule_references import build_references
from careflow.rules import LiveRuleBook
from careflow.sandbox_runner import CompiledGlueRunner
from careflow.store import Database
from careflow.workflows.registry import JOURNEYS, WORKFLOWS


def _non_workflow_modules() -> list[str]:
    """Every careflow module except the workflows themselves."""
    return [
        f"careflow.{module.name}"
        for module in pkgutil.iter_modules(careflow.__path__)
        if module.name != "workflows"
    ]


# careflow's own non-workflow modules (activity and intent dataclasses, settings)
# are loaded once, outside the sandbox: workflows only use their data types, and
# re-importing them per workflow would also re-import durable_rules and SQLAlchemy.
# The workflows package itself stays inside, so the sandbox still checks its code.
# (CompiledGlueRunner: the SDK's sandbox, its glue code compiled once.)
# OpenTelemetry passes through too: the tracing interceptor's spans must reach the
# process's tracer provider, not a copy of the module made per workflow.
WORKFLOW_RUNNER = CompiledGlueRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        *_non_workflow_modules(), "opentelemetry"
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
    follower: ReleaseFollower | None = None,
    capture_url: str | None = None,
) -> Worker:
    """The worker for careflow's task queue, with everything registered.

    Its workflows and activities are traced: by the client's tracing interceptor
    when the client has one (see `careflow.observability.tracing_interceptors`),
    else by one added here, so a trace started by whoever started the workflow
    goes on in it. With a release `follower` (careflow/releases/) its activities serve
    the store's active release instead of the configured folders.
    """
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=WORKFLOWS,
        workflow_runner=WORKFLOW_RUNNER,
        # On shutdown, running activities get time to finish: a send whose SMTP
        # exchange is done must also record it, or a retry would send it again.
        graceful_shutdown_timeout=timedelta(seconds=20),
        # A client's interceptors apply to its workers already; twice would double spans.
        interceptors=[] if client_traces(client) else tracing_interceptors(),
        activities=build_activities(
            settings,
            db=db,
            client=client,
            delivery=delivery,
            journeys=JOURNEYS,
            references=build_references(settings),
            rulebook=rulebook,
            follower=follower,
            capture_url=capture_url,
        ),
    )


if __name__ == "__main__":
    import sys

    # Imported here: the CLI imports this module to build its worker.
    from careflow.cli.app import main

    main(["up", *sys.argv[1:]])

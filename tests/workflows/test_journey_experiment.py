"""A journey under an A/B experiment, on the time-skipping server with the worker's own
activities: the workflow is unchanged, the send step sends each customer's variant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.contracts import JourneyInput
from careflow.experiments.assign import assign_variant
from careflow.store import Database, OutreachLedger
from careflow.workflows.onboarding import OnboardingWorkflow
from tests.smtp_sink import SmtpSink
from tests.workflows.conftest import write_journey_config
from tests.workflows.harness import add_customer, journey_worker, new_id, subjects

EXPERIMENT = "journey:onboarding:onboarding_welcome"
WEIGHTS = {"plain": 1, "warm": 3}
TEMPLATE = {"plain": "onboarding_welcome", "warm": "onboarding_welcome_warm"}
CUSTOMERS = [f"C-7{n}" for n in range(6)]


def with_experiment(document: dict[str, Any]) -> None:
    document["experiments"] = [
        {
            "journey": "onboarding",
            "template": "onboarding_welcome",
            "variants": {
                "plain": {"template": "onboarding_welcome", "weight": 1},
                "warm": {"template": "onboarding_welcome_warm", "weight": 3},
            },
        }
    ]


def add_warm_template(templates_dir: Path) -> None:
    folder = templates_dir / "email" / "onboarding_welcome_warm"
    folder.mkdir(parents=True)
    (folder / "subject.en.j2").write_text("onboarding_welcome_warm {{ customer.id }}\n")
    body = "{% extends layout %}{% block body %}warm{% endblock %}\n"
    (folder / "body.txt.en.j2").write_text(body)
    (folder / "body.html.en.j2").write_text(body)


async def test_each_customer_gets_their_variant(
    workflow_env: WorkflowEnvironment,
    db: Database,
    journey_settings: Settings,
    tmp_path: Path,
    smtp_sink: SmtpSink,
) -> None:
    config = write_journey_config(tmp_path / "experiment.yaml", with_experiment)
    add_warm_template(journey_settings.templates_dir)
    now = await workflow_env.get_current_time()
    for customer in CUSTOMERS:
        await add_customer(db, customer, now=now)
    async with journey_worker(workflow_env.client, journey_settings, db, config):
        for customer in CUSTOMERS:
            handle = await workflow_env.client.start_workflow(
                OnboardingWorkflow.run,
                JourneyInput(customer_id=customer, rule_id="new-customer", ruleset_hash="h"),
                id=new_id(f"onboarding-{customer}"),
                task_queue=journey_settings.task_queue,
            )
            assert await handle.result() == "completed"
    variants = {c: assign_variant(EXPERIMENT, c, WEIGHTS) for c in CUSTOMERS}
    assert set(variants.values()) == {"plain", "warm"}  # both arms among these ids
    expected = sorted(
        [f"{TEMPLATE[v]} {c}" for c, v in variants.items()]
        + [f"onboarding_tips {c}" for c in CUSTOMERS]
    )
    assert sorted(subjects(smtp_sink.messages)) == expected
    async with db.session() as session:
        rows = list(await session.scalars(select(OutreachLedger)))
    recorded = sorted(
        (r.experiment, r.variant, r.template_id) for r in rows if r.step_id == "welcome"
    )
    assert recorded == sorted((EXPERIMENT, v, TEMPLATE[v]) for v in variants.values())
    # The tips step is not under the experiment.
    assert all(r.experiment is None for r in rows if r.step_id == "tips")

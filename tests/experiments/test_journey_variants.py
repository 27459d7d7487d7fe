"""Journey send steps under an A/B experiment: the send step sends the customer's variant
and the ledger records experiment and variant; journeys.yaml's experiments are checked."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from temporalio.testing import ActivityEnvironment

from careflow.activities.outreach import OutreachActivities
from careflow.config import Settings
from careflow.contracts import SendEmailInput
from careflow.experiments.assign import assign_variant
from careflow.experiments.journeys import JourneyVariants, journey_id_kinds
from careflow.intake.apply import open_complaint, upsert_customer
from careflow.intake.records import ComplaintFields, CustomerFields
from careflow.journey_config import JourneyConfigError, load_journey_config
from careflow.outreach.ledger import record_decision
from careflow.paths import RULES_DIR
from careflow.rule_references import missing_journey_settings
from careflow.store import Customer, Database, OutreachLedger
from careflow.workflows.registry import JOURNEYS
from tests.send_step import send_step
from tests.smtp_sink import SmtpSink

NOON = datetime(2031, 3, 4, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
CUSTOMERS = [f"c-{n}" for n in range(8)]
EXPERIMENT = "journey:complaint_escalation:complaint_ack"
WEIGHTS = {"plain": 1, "warm": 1}
TEMPLATES = {"plain": "complaint_ack", "warm": "complaint_update"}

EXPERIMENTS_YAML = """
experiments:
  - journey: complaint_escalation
    template: complaint_ack
    variants:
      plain: { template: complaint_ack, weight: 1 }
      warm: { template: complaint_update, weight: 1 }
    goal: { event: order_placed, within_days: 7 }
"""


def journeys_file(folder: Path, extra: str) -> Path:
    path = folder / "journeys.yaml"
    shutil.copy(RULES_DIR / "journeys.yaml", path)
    with path.open("a", encoding="utf-8") as file:
        file.write(extra)
    return path


@pytest.fixture
async def outreach(db: Database, settings: Settings, tmp_path: Path) -> OutreachActivities:
    config = journeys_file(tmp_path, EXPERIMENTS_YAML)
    activities = send_step(
        db, settings, variants=JourneyVariants(config, journey_id_kinds(JOURNEYS)).choose
    )
    now = datetime.now(UTC)
    async with db.session() as session:
        for customer in CUSTOMERS:
            record, _ = await upsert_customer(
                session,
                customer,
                CustomerFields(name="Emma", email=f"{customer}@example.com", locale="en"),
                now,
            )
            await open_complaint(
                session, record, ComplaintFields(complaint_id=f"k-{customer}", subject="Late"), now
            )
    return activities


def complaint_id(customer: str) -> str:
    """A complaint escalation's workflow id, as workflows/ids.py builds it."""
    return f"complaint-{customer.replace('-', '%2D')}-k1"


def ack(workflow_id: str, customer: str, **fields: str) -> SendEmailInput:
    return SendEmailInput(
        workflow_id=workflow_id,
        step_id="ack",
        customer_id=customer,
        template_id="complaint_ack",
        topic="transactional",
        params={"complaint_id": f"k-{customer}"},
        planned_at=NOON,
        **fields,
    )


async def test_the_send_step_sends_the_customers_variant(
    outreach: OutreachActivities, smtp_sink: SmtpSink, db: Database
) -> None:
    env = ActivityEnvironment()
    for customer in CUSTOMERS:
        result = await env.run(outreach.send_email, ack(complaint_id(customer), customer))
        assert result.status == "sent", result.reason
    await smtp_sink.wait_for(len(CUSTOMERS))
    async with db.session() as session:
        rows = list(await session.scalars(select(OutreachLedger)))
    expected = {c: assign_variant(EXPERIMENT, c, WEIGHTS) for c in CUSTOMERS}
    assert len(set(expected.values())) == 2  # both arms are exercised by these ids
    by_workflow = {row.workflow_id: row for row in rows}
    for customer, variant in expected.items():
        row = by_workflow[complaint_id(customer)]
        assert (row.experiment, row.variant) == (EXPERIMENT, variant)
        assert row.template_id == TEMPLATES[variant]


async def test_other_journeys_and_unlisted_templates_are_not_in_it(
    outreach: OutreachActivities, smtp_sink: SmtpSink, db: Database
) -> None:
    env = ActivityEnvironment()
    # Same template, another journey's id; and a workflow id of no journey.
    await env.run(outreach.send_email, ack("onboarding-c-1-r", "c-1"))
    await env.run(outreach.send_email, ack("journey-c-1", "c-1"))
    await smtp_sink.wait_for(2)
    async with db.session() as session:
        rows = list(await session.scalars(select(OutreachLedger)))
    assert [(r.experiment, r.variant, r.template_id) for r in rows] == [
        (None, None, "complaint_ack")
    ] * 2


async def test_a_campaign_passes_its_own_variant(
    outreach: OutreachActivities, smtp_sink: SmtpSink, db: Database
) -> None:
    env = ActivityEnvironment()
    request = ack("campaign-spring-c-1", "c-1", experiment="campaign:spring", variant="b")
    assert (await env.run(outreach.send_email, request)).status == "sent"
    async with db.session() as session:
        [row] = list(await session.scalars(select(OutreachLedger)))
    assert (row.experiment, row.variant) == ("campaign:spring", "b")


async def test_experiment_and_variant_go_together(db: Database) -> None:
    async with db.engine.connect() as connection:
        with pytest.raises(ValueError, match="both or neither"):
            await connection.run_sync(
                lambda sync: record_decision(sync, {"idempotency_key": "k"}, experiment="x")
            )


def test_settings_check_names_each_mistake_with_its_line(tmp_path: Path) -> None:
    path = journeys_file(
        tmp_path,
        """
experiments:
  - journey: no_such_journey
    template: complaint_ack
    variants: { a: { template: complaint_ack }, b: { template: complaint_update } }
  - journey: onboarding
    template: retention_offer
    variants: { a: { template: onboarding_tips }, b: { template: onboarding_welcome } }
  - journey: onboarding
    template: onboarding_tips
    variants: { a: { template: onboarding_tips }, b: { template: onboarding_welcome } }
    goal: { event: order_plaxed }
""",
    )
    lines = path.read_text(encoding="utf-8").splitlines()
    journey_line = lines.index("  - journey: no_such_journey") + 1
    template_line = lines.index("    template: retention_offer") + 1
    goal_line = lines.index("    goal: { event: order_plaxed }") + 1
    problems = missing_journey_settings(path)
    goals = ["complaint_opened", "complaint_resolved", "order_placed", "survey_answered"]
    assert problems == [
        f"journeys.yaml:{journey_line}: experiments.0.journey: unknown journey 'no_such_journey';"
        f" expected one of {sorted(JOURNEYS)}",
        f"journeys.yaml:{template_line}: experiments.1.template: journey 'onboarding' sends no"
        " template 'retention_offer'; it sends ['onboarding_tips', 'onboarding_welcome']",
        f"journeys.yaml:{goal_line}: experiments.2.goal.event: unknown event 'order_plaxed';"
        f" expected one of {goals} (built in, or declared in events.yaml)",
    ]


@pytest.mark.parametrize(
    ("variants", "expected"),
    [
        ("{ a: { template: x, weight: 0 } , b: { template: y } }", "greater than or equal to 1"),
        ("{ a: { template: x, weight: 1.5 } , b: { template: y } }", "valid integer"),
        ("{ a: { template: x } }", "at least 2"),
        ("{ A: { template: x } , b: { template: y } }", "variant names ['A']"),
        ("{ holdout: { template: x } , b: { template: y } }", "reserved for the holdout"),
    ],
)
def test_weights_and_variant_names_are_checked(
    tmp_path: Path, variants: str, expected: str
) -> None:
    path = journeys_file(
        tmp_path,
        f"""
experiments:
  - journey: onboarding
    template: onboarding_tips
    variants: {variants}
""",
    )
    with pytest.raises(JourneyConfigError) as raised:
        load_journey_config(path)
    problems = raised.value.problems
    assert any(expected in p and "journeys.yaml:" in p for p in problems), problems


def test_variant_templates_must_exist(tmp_path: Path) -> None:
    from careflow.journey_config import missing_template_problems

    path = journeys_file(
        tmp_path,
        """
experiments:
  - journey: onboarding
    template: onboarding_tips
    variants: { a: { template: onboarding_tips }, b: { template: tips_v2 } }
""",
    )
    [problem] = missing_template_problems(path, {"onboarding_tips", "onboarding_welcome"} | _all())
    assert "experiments.0.variants.b.template: template 'tips_v2' does not exist" in problem


def _all() -> set[str]:
    from careflow.outreach.templates import available_templates
    from careflow.paths import TEMPLATES_DIR

    return set(available_templates(TEMPLATES_DIR))


def test_a_variant_is_checked_with_the_variables_of_the_template_it_replaces(
    tmp_path: Path,
) -> None:
    from careflow.paths import TEMPLATES_DIR
    from careflow.releases.checking import journey_template_problems

    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    # A shorter offer: it uses the offer's variables (offer_value, offer_code, ...).
    shutil.copytree(
        templates / "email" / "retention_offer", templates / "email" / "retention_offer_short"
    )
    path = journeys_file(
        tmp_path,
        """
experiments:
  - journey: retention_offer
    template: retention_offer
    variants:
      current: { template: retention_offer }
      short: { template: retention_offer_short }
""",
    )
    assert journey_template_problems(path, templates) == []
    # Without the experiment the same template is checked as an unknown marketing one,
    # without the offer's variables.
    path.write_text((RULES_DIR / "journeys.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    problems = journey_template_problems(path, templates)
    assert any("retention_offer_short" in problem for problem in problems), problems


async def test_a_campaign_records_its_holdout_for_the_results(db: Database) -> None:
    from careflow.experiments.results import experiment_results
    from careflow.outreach.ledger import record_held_out

    now = datetime(2031, 3, 1, tzinfo=UTC)
    async with db.session() as session:
        customers = [
            Customer(external_id=f"h{n}", created_at=now, updated_at=now) for n in range(2)
        ]
        session.add_all(customers)
        await session.commit()
        pks = [c.id for c in customers]
    values = {
        "workflow_id": "campaign-spring",
        "step_id": "send",
        "template_id": "spring_offer",
        "created_at": now,
        "updated_at": now,
    }
    async with db.engine.begin() as connection:
        await connection.run_sync(
            lambda sync: record_held_out(
                sync,
                {**values, "idempotency_key": "campaign-spring/h0", "customer_id": pks[0]},
                experiment="campaign:spring",
            )
        )
        await connection.run_sync(
            lambda sync: record_decision(
                sync,
                {
                    **values,
                    "idempotency_key": "campaign-spring/h1",
                    "customer_id": pks[1],
                    "status": "sent",
                    "reason": None,
                    "message_id": "m",
                },
                experiment="campaign:spring",
                variant="a",
            )
        )
        await connection.execute(
            OutreachLedger.__table__.update()
            .where(OutreachLedger.idempotency_key == "campaign-spring/h1")
            .values(sent_at=now)
        )
    async with db.session() as session:
        [row] = [
            r
            for r in await session.scalars(select(OutreachLedger))
            if r.idempotency_key == "campaign-spring/h0"
        ]
        assert (row.status, row.reason, row.variant) == ("skipped", "holdout", "holdout")
        [result] = await experiment_results(session, now, now + timedelta(days=30), {})
    assert [arm.name for arm in result.variants] == ["a"]
    assert result.holdout is not None
    assert result.holdout.sent == 1

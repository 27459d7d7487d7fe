"""The journeys' own activities, called directly in an ActivityEnvironment with the real
store, the real SMTP sink and the shipped journey configuration."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from careflow.activities.journeys import JourneyActivities
from careflow.activities.tasks import ROBOTS_INSTEAD, TaskActivities
from careflow.config import Settings
from careflow.contracts import NotifyStaffInput, OpenTaskInput, PlanInput
from careflow.outreach.mailer import SmtpDelivery
from careflow.outreach.templates import TemplateRenderer
from careflow.paths import RULES_DIR
from careflow.store import Database, OutboundEvent
from tests.smtp_sink import SmtpSink
from tests.workflows.harness import add_complaint, add_customer, tasks_of

SHIPPED = RULES_DIR / "journeys.yaml"
# Friday 2026-11-27, 17:00 in Shanghai: one working hour left in the week.
FRIDAY_EVENING = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _journeys(settings: Settings, db: Database, config: Path = SHIPPED) -> JourneyActivities:
    return JourneyActivities(
        db, config_path=config, base_url=settings.base_url, secret_key=settings.secret_key
    )


def _tasks(settings: Settings, db: Database, config: Path = SHIPPED) -> TaskActivities:
    return TaskActivities(
        db,
        TemplateRenderer(settings.templates_dir),
        SmtpDelivery(settings.smtp_target),
        config_path=config,
        mail_from=settings.mail_from,
        base_url=settings.base_url,
        secret_key=settings.secret_key,
    )


async def test_complaint_deadlines_count_business_hours(db: Database, settings: Settings) -> None:
    await add_customer(db, "C-1", tier="vip", now=FRIDAY_EVENING)
    await add_complaint(db, "C-1", "CS-1", opened_at=FRIDAY_EVENING, severity="critical")
    plan = await ActivityEnvironment().run(
        _journeys(settings, db).plan_complaint,
        PlanInput(
            workflow_id="complaint-C-1-CS-1", customer_id="C-1", now=FRIDAY_EVENING, subject="CS-1"
        ),
    )
    # VIP critical: respond within 1 working hour (Friday 17-18), resolve within 4
    # (Friday's hour plus Monday 9-12, Shanghai time).
    assert plan.response_due == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert plan.resolution_due == datetime(2026, 11, 30, 4, 0, tzinfo=UTC)
    assert plan.levels == ["agent", "supervisor", "manager"]
    assert plan.survey_params["survey_url"].startswith(f"{settings.base_url}/survey/")


@pytest.mark.parametrize(
    ("tier", "expected"), [("vip", 200), ("regular", 50), (None, 20), ("potential", 20)]
)
async def test_offer_value_follows_the_tier(
    tier: str | None, expected: int, db: Database, settings: Settings
) -> None:
    await add_customer(db, "C-2", tier=tier, now=FRIDAY_EVENING)
    plan = await ActivityEnvironment().run(
        _journeys(settings, db).plan_retention_offer,
        PlanInput(workflow_id="retention-C-2", customer_id="C-2", now=FRIDAY_EVENING),
    )
    assert plan.params["offer_value"] == expected
    assert plan.params["offer_currency"] == "CNY"
    assert plan.call_task is (tier == "vip")


async def test_lunar_birthday_falls_on_this_years_solar_date(
    db: Database, settings: Settings
) -> None:
    # Lunar 8/15 (Mid-Autumn) fell on 2026-09-25.
    await add_customer(
        db,
        "C-3",
        timezone="Asia/Shanghai",
        birthday=date(1980, 8, 15),
        birthday_calendar="lunar",
        now=FRIDAY_EVENING,
    )
    plan = await ActivityEnvironment().run(
        _journeys(settings, db).plan_care_message,
        PlanInput(
            workflow_id="care-C-3",
            customer_id="C-3",
            now=datetime(2026, 9, 24, 16, 0, tzinfo=UTC),
            subject="birthday-2026",
        ),
    )
    assert plan.skip_reason is None
    assert plan.send_at == datetime(2026, 9, 25, 1, 0, tzinfo=UTC)  # 9:00 in Shanghai


async def test_a_bad_occasion_subject_is_a_permanent_error(
    db: Database, settings: Settings
) -> None:
    await add_customer(db, "C-4", now=FRIDAY_EVENING)
    with pytest.raises(ApplicationError, match="expected <occasion>-<year>") as raised:
        await ActivityEnvironment().run(
            _journeys(settings, db).plan_care_message,
            PlanInput(
                workflow_id="care-C-4", customer_id="C-4", now=FRIDAY_EVENING, subject="birthday"
            ),
        )
    assert raised.value.non_retryable


async def test_tasks_and_staff_emails_happen_once_per_step(
    db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    await add_customer(db, "C-5", now=FRIDAY_EVENING)
    await add_complaint(db, "C-5", "CS-5", opened_at=FRIDAY_EVENING, severity="high")
    tasks = _tasks(settings, db)
    task = OpenTaskInput(
        workflow_id="complaint-C-5",
        step_id="task-supervisor",
        kind="escalation",
        role="supervisor",
        customer_id="C-5",
        title="t",
        due_at=None,
        complaint_id="CS-5",
    )
    first = await ActivityEnvironment().run(tasks.open_task, task)
    again = await ActivityEnvironment().run(tasks.open_task, task)
    assert (first.created, again.created, again.task_id) == (True, False, first.task_id)
    notice = NotifyStaffInput(
        workflow_id="complaint-C-5",
        step_id="notify-supervisor",
        role="supervisor",
        customer_id="C-5",
        template_id="staff_escalation",
        reason="The response target was missed.",
        complaint_id="CS-5",
    )
    assert (await ActivityEnvironment().run(tasks.notify_staff, notice)).status == "sent"
    assert (await ActivityEnvironment().run(tasks.notify_staff, notice)).status == "sent"
    [email] = await smtp_sink.wait_for(1)
    assert email["To"] == "care-supervisor@careflow.localhost"
    rows = await tasks_of(db, "complaint-C-5")
    assert [(row.kind, row.status) for row in rows] == [
        ("escalation", "open"),
        ("notification", "sent"),
    ]
    assert all(row.complaint_id is not None for row in rows)


async def test_a_team_with_robots_instead_of_email_gets_no_email(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    shutil.copy(SHIPPED, tmp_path / "journeys.yaml")
    (tmp_path / "staff_alerts.yaml").write_text(
        "teams:\n  supervisor:\n    email: false\n    robots:\n      - kind: wecom\n"
        "        url_env: SUPERVISOR_ROBOT_URL\n"
    )
    await add_customer(db, "C-6", now=FRIDAY_EVENING)
    tasks = _tasks(settings, db, tmp_path / "journeys.yaml")
    notice = NotifyStaffInput(
        workflow_id="complaint-C-6",
        step_id="notify-supervisor",
        role="supervisor",
        customer_id="C-6",
        template_id="staff_escalation",
        reason="r",
    )
    result = await ActivityEnvironment().run(tasks.notify_staff, notice)
    assert (result.status, result.reason) == ("sent", ROBOTS_INSTEAD)
    async with db.session() as session:
        events = list(await session.scalars(select(OutboundEvent)))
    assert [(event.type, event.data["team"]) for event in events] == [
        ("task.created", "supervisor")
    ]
    # The sink got nothing: the staff email the shipped files send is not sent here.
    assert smtp_sink.messages == []


async def test_unknown_staff_role_is_a_permanent_error(db: Database, settings: Settings) -> None:
    await add_customer(db, "C-6", now=FRIDAY_EVENING)
    with pytest.raises(ApplicationError, match="unknown staff role") as raised:
        await ActivityEnvironment().run(
            _tasks(settings, db).open_task,
            OpenTaskInput(
                workflow_id="w",
                step_id="s",
                kind="call",
                role="janitor",
                customer_id="C-6",
                title="t",
            ),
        )
    assert raised.value.non_retryable

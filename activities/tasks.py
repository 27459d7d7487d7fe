"""Staff tasks and staff notifications: stored in the `tasks` table, exactly once each.

A task (call this VIP, handle this escalated case) and a notification email to a
staff member are both rows keyed by workflow id + step id, written before anything
is sent, so a retried activity or a restarted worker never creates a second task or
a second email. Inputs carry ids and roles; addresses, names and case details are
loaded here, so they never enter workflow history.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from careflow.activities.clock import activity_now
from careflow.activities.outreach import idempotency_key
from careflow.assign_targets import ACCOUNT_MANAGER, PERSON_PREFIX, TEAM_PREFIX
from careflow.assignment import AssignmentError, account_manager, resolve_target
from careflow.config_files import ConfigFileError
from careflow.contracts.tasks import (
    CloseTasksInput,
    CloseTasksResult,
    NotifyStaffInput,
    NotifyStaffResult,
    OpenTaskInput,
    OpenTaskResult,
)
from careflow.intake.apply import find_customer
from careflow.journey_config import JourneyConfig, load_journey_config
from careflow.outreach.context import build_message_context
from careflow.outreach.envelope import build_email, message_domain, message_id_for
from careflow.outreach.mailer import Delivery, PermanentDeliveryError
from careflow.outreach.templates import TemplateProblem, TemplateRenderer
from careflow.staff_alerts import (
    MESSAGE_FAILED,
    add_alert_async,
    alert_assignee,
    message_failed_task,
    task_event_data,
    template_problem_reason,
)
from careflow.staffwork.states import ACTIVE
from careflow.store import Complaint, Customer, Database, Event, Task
from careflow.teams import TEAMS_FILE_NAME, load_teams_config
from careflow.webhooks.config import STAFF_ALERTS_FILE_NAME, load_staff_alerts_config
from careflow.webhooks.events import TASK_CREATED, record_event_async

# Task kinds, as the API and the KPIs see them.
NOTIFICATION = "notification"
# Task statuses. A notification row is `pending` until its email went out.
OPEN, DONE, PENDING, SENT, FAILED = "open", "done", "pending", "sent", "failed"
# A notification that went to the team's robots only (staff_alerts.yaml `email: false`).
ROBOTS_INSTEAD = "sent to the team's robots instead of email"
# Updates that change nothing do not hide the one that did, among this many.
_RECENT_UPDATES = 20


class TaskActivities:
    """Creates staff tasks and emails staff; holds the store, renderer, delivery, config."""

    def __init__(
        self,
        db: Database,
        renderer: TemplateRenderer,
        delivery: Delivery,
        *,
        config_path: Path,
        mail_from: str,
        base_url: str,
        secret_key: str,
    ) -> None:
        self.db = db
        self.renderer = renderer
        self.delivery = delivery
        self.config_path = config_path
        self.mail_from = mail_from
        self.base_url = base_url
        self.secret_key = secret_key
        self.message_domain = message_domain(mail_from)

    def _config(self) -> JourneyConfig:
        return load_journey_config(self.config_path)

    @activity.defn
    async def open_task(self, request: OpenTaskInput) -> OpenTaskResult:
        """Create the task once; a repeat returns the existing one."""
        key = idempotency_key(request.workflow_id, request.step_id)
        try:
            # Inserted first: a repeat (rare: a retry after a lost answer) fails on the
            # key's unique index and rolls back whole, then reads the task it made.
            async with self.db.session() as session:
                customer, complaint_pk = await _customer_and_complaint(
                    session, request.customer_id, request.complaint_id
                )
                task = Task(
                    idempotency_key=key,
                    kind=request.kind,
                    assignee=await self._address(session, request.role, customer, work=True),
                    customer_id=customer.id if customer else None,
                    complaint_id=complaint_pk,
                    workflow_id=request.workflow_id,
                    title=request.title,
                    due_at=request.due_at,
                    status=OPEN,
                    created_at=activity_now(request.at),
                )
                session.add(task)
                await session.flush()
                task_id = task.id
                await record_event_async(
                    session,
                    TASK_CREATED,
                    key,
                    task_event_data(key, team_of(request.role)),
                    customer_pk=task.customer_id,
                    at=task.created_at,
                )
        except IntegrityError:
            # An earlier or concurrent attempt created it.
            async with self.db.session() as session:
                found = await session.scalar(select(Task.id).where(Task.idempotency_key == key))
            assert found is not None
            return OpenTaskResult(task_id=found, created=False)
        activity.logger.info("opened task %s for customer %s", key, request.customer_id)
        return OpenTaskResult(task_id=task_id, created=True)

    @activity.defn
    async def close_tasks(self, request: CloseTasksInput) -> CloseTasksResult:
        """Close the journey's open tasks (the case was resolved, the customer came back)."""
        now = activity_now(request.at)
        async with self.db.session() as session:
            tasks = await session.scalars(
                select(Task).where(
                    Task.workflow_id == request.workflow_id,
                    # Open, or claimed by someone who has not closed it yet.
                    Task.status.in_(ACTIVE),
                    # A broken-template alert is for whoever fixes templates: it stays
                    # open when the case it came from closes.
                    Task.kind.not_in((NOTIFICATION, MESSAGE_FAILED)),
                )
            )
            closed = 0
            for task in tasks:
                task.status, task.completed_at = request.status, now
                closed += 1
        return CloseTasksResult(closed=closed)

    @activity.defn
    async def notify_staff(self, request: NotifyStaffInput) -> NotifyStaffResult:
        """Email a staff member once: the row is written before the send, like the ledger."""
        key = idempotency_key(request.workflow_id, request.step_id)
        now = activity_now()
        async with self.db.session() as session:
            customer = await find_customer(session, request.customer_id)
            row = await self._claim(session, key, request, customer, now)
            if row.status in (SENT, FAILED):
                return NotifyStaffResult(status=row.status)
            if customer is None or customer.erased_at is not None:
                row.status, row.completed_at = FAILED, now
                return NotifyStaffResult(status="skipped", reason="customer unknown or erased")
            if self._robots_instead_of_email(request.role):
                # The task.created event written with the row reaches the team's robots.
                row.status, row.completed_at = SENT, now
                return NotifyStaffResult(status=SENT, reason=ROBOTS_INSTEAD)
            if not row.assignee:
                row.status, row.completed_at = FAILED, now
                return NotifyStaffResult(status="skipped", reason=f"no address for {request.role}")
            try:
                message = await self._compose(session, customer, row.assignee, key, request)
            except TemplateProblem as problem:
                # Staff mail with a broken template fails this notification, not the
                # journey; the task it was about stays open, and staff are told why.
                reason = template_problem_reason(problem)
                row.status, row.completed_at = FAILED, now
                await add_alert_async(
                    session,
                    message_failed_task(
                        key=key,
                        workflow_id=request.workflow_id,
                        customer_pk=customer.id,
                        template_id=request.template_id,
                        problem=problem,
                        assignee=self._alert_assignee(),
                        now=now,
                    ),
                )
                activity.logger.warning(
                    "failed %s for customer %s: %s", key, request.customer_id, reason
                )
                return NotifyStaffResult(status=FAILED, reason=reason)
        try:
            await self.delivery.deliver(message)
        except PermanentDeliveryError as error:
            await self._finish(key, FAILED)
            return NotifyStaffResult(status=FAILED, reason=str(error))
        await self._finish(key, SENT)
        activity.logger.info("notified %s for customer %s", key, request.customer_id)
        return NotifyStaffResult(status=SENT)

    async def _claim(
        self,
        session: AsyncSession,
        key: str,
        request: NotifyStaffInput,
        customer: Customer | None,
        now: datetime,
    ) -> Task:
        existing = await session.scalar(select(Task).where(Task.idempotency_key == key))
        if existing is not None:
            return existing
        row = Task(
            idempotency_key=key,
            kind=NOTIFICATION,
            assignee=await self._address(session, request.role, customer, work=False),
            customer_id=customer.id if customer else None,
            complaint_id=await _complaint_pk(session, request.complaint_id),
            workflow_id=request.workflow_id,
            title=f"{request.template_id}: {request.reason}"
            if request.reason
            else request.template_id,
            due_at=request.due_at,
            status=PENDING,
            created_at=now,
        )
        session.add(row)
        await session.flush()
        await record_event_async(
            session,
            TASK_CREATED,
            key,
            task_event_data(key, team_of(request.role)),
            customer_pk=row.customer_id,
            at=now,
        )
        return row

    def _robots_instead_of_email(self, role: str) -> bool:
        """Whether staff_alerts.yaml sends this team's notifications to its robots only.

        A broken file keeps email: a notification is never lost to a typo.
        """
        path = self.config_path.parent / STAFF_ALERTS_FILE_NAME
        try:
            alerts = load_staff_alerts_config(path).teams.get(team_of(role))
        except ConfigFileError as error:
            activity.logger.warning("%s; notifying by email", error)
            return False
        return alerts is not None and not alerts.email and bool(alerts.robots)

    def _alert_assignee(self) -> str | None:
        return alert_assignee(self.config_path)

    async def _address(
        self, session: AsyncSession, role: str, customer: Customer | None, *, work: bool
    ) -> str | None:
        """Whom a task (`work`) or a staff email is for.

        A customer without an account manager gets one from the sales roster (recorded
        on the customer; the notice that follows tells them); without a sales roster the
        service team calls instead. A team's task goes to one member of its roster, by
        the team's strategy; a team's email goes to the team's address.
        """
        staff = self._config().staff
        teams = load_teams_config(self.config_path.parent / TEAMS_FILE_NAME)
        if role == ACCOUNT_MANAGER:
            if customer is not None:
                manager = await account_manager(session, customer, teams=teams, now=activity_now())
                if manager is not None:
                    return manager.address
            return staff.teams.get("service") or staff.manager
        if role.startswith(TEAM_PREFIX) and not work:
            return staff.teams.get(role.removeprefix(TEAM_PREFIX))
        if role.startswith((TEAM_PREFIX, PERSON_PREFIX)):
            try:
                found = await resolve_target(
                    session,
                    role,
                    customer=customer,
                    teams=teams,
                    now=activity_now(),
                    fallback_teams=staff.teams,
                )
            except AssignmentError as error:
                raise ApplicationError(str(error), non_retryable=True) from error
            return found.address if found is not None else None
        if role in ("agent", "supervisor", "manager"):
            return staff.level(role)
        raise ApplicationError(f"unknown staff role {role!r}", non_retryable=True)

    async def _compose(
        self,
        session: AsyncSession,
        customer: Customer,
        address: str,
        key: str,
        request: NotifyStaffInput,
    ) -> EmailMessage:
        params = {"complaint_id": request.complaint_id} if request.complaint_id else {}
        context = await build_message_context(
            session,
            customer,
            params,
            topic="transactional",
            base_url=self.base_url,
            secret_key=self.secret_key,
        )
        context["customer"] = {
            **dict(context["customer"]),  # type: ignore[call-overload]
            "phone": customer.phone or "",
            "email": customer.email or "",
        }
        about = {"reason": request.reason, "due_at": request.due_at}
        context.update(
            staff={"name": "", "email": address},
            escalation=about,
            task=about,
            changes=await _contact_changes(session, customer),
        )
        # Staff read careflow's mail in the shop's default language.
        rendered = self.renderer.render(request.template_id, None, context)
        return build_email(
            rendered,
            sender=self.mail_from,
            recipient=address,
            message_id=message_id_for(key, self.message_domain),
        )

    async def _finish(self, key: str, status: str) -> None:
        async with self.db.session() as session:
            row = await session.scalar(select(Task).where(Task.idempotency_key == key))
            assert row is not None
            row.status, row.completed_at = status, activity_now()


def team_of(role: str) -> str:
    """The team (or staff role) whose alerts in `staff_alerts.yaml` a task for `role` goes to."""
    return role.removeprefix(TEAM_PREFIX)


async def _complaint_pk(session: AsyncSession, complaint_id: str) -> int | None:
    if not complaint_id:
        return None
    return await session.scalar(select(Complaint.id).where(Complaint.external_id == complaint_id))


async def _customer_and_complaint(
    session: AsyncSession, customer_id: str, complaint_id: str
) -> tuple[Customer | None, int | None]:
    """The task's customer and its complaint's key, in one query when both are there."""
    if not complaint_id:
        return await find_customer(session, customer_id), None
    complaint_pk = (
        select(Complaint.id).where(Complaint.external_id == complaint_id).scalar_subquery()
    )
    found = (
        await session.execute(
            select(Customer, complaint_pk).where(Customer.external_id == customer_id)
        )
    ).first()
    if found is None:  # no such customer (erased, or never imported): the complaint alone
        return None, await _complaint_pk(session, complaint_id)
    return found[0], found[1]


async def _contact_changes(session: AsyncSession, customer: Customer) -> list[dict[str, str]]:
    """The contact fields the customer's latest changing update changed, with new values.

    The store keeps current values only, so the old value is not known here.
    """
    events = await session.scalars(
        select(Event)
        .where(
            Event.customer_external_id == customer.external_id,
            Event.type == "customer_upserted",
        )
        .order_by(Event.occurred_at.desc(), Event.id.desc())
        .limit(_RECENT_UPDATES)
    )
    for event in events:
        changed = event.data.get("changed_fields")
        if isinstance(changed, list) and changed:
            return [
                {"field": str(name), "old": "", "new": str(getattr(customer, str(name), "") or "")}
                for name in changed
            ]
    return []

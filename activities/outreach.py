"""The send step: ledger first, then consent, render and SMTP, exactly once.

Inputs carry ids only; the customer's name, address and the message body are
loaded and rendered here so they never enter workflow history.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from careflow.outreach.budget import SentMessage
from careflow.outreach.context import build_message_context
from careflow.outreach.decisions import Action, PolicyDecision, Reason, Topic
from careflow.outreach.envelope import build_email, message_domain, message_id_for
from careflow.outreach.mailer import Delivery, PermanentDeliveryError
from careflow.outreach.policy import OutreachRequest, decide_outreach
from careflow.outreach.policy_config import OutreachPolicy
from careflow.outreach.templates import RenderedMessage, TemplateProblem, TemplateRenderer
from careflow.store import Consent, Customer, Database, OutreachLedger

# Ledger statuses. `sending` means an SMTP exchange may have started: a retry
# resends with the same Message-ID (the only repeat careflow allows, after a crash).
PENDING, SENDING, SENT, FAILED, SKIPPED = "pending", "sending", "sent", "failed", "skipped"
DEFERRED = "deferred"
FINAL_STATUSES = frozenset({SENT, FAILED, SKIPPED})
# A `deferred` row is not final: the journey calls again at `retry_at` with the same key.


@dataclass
class SendEmailInput:
    """One intended email, identified by its journey and a deterministic step id."""

    workflow_id: str
    step_id: str
    customer_id: str  # the business's external id
    template_id: str
    topic: str = "transactional"  # transactional | care | marketing
    params: dict[str, str | int | float | bool] = field(default_factory=dict)
    rule_id: str | None = None
    ruleset_hash: str | None = None
    # The journey's own time (workflow.now()). Policies decide as of the later of this
    # and the wall clock, so a journey on the time-skipping server (tests, simulations)
    # sees quiet hours and budgets at its simulated time.
    planned_at: datetime | None = None


@dataclass
class SendEmailResult:
    """What happened: sent, or an expected outcome (skipped, failed, deferred) and why.

    `deferred` comes with `retry_at`: quiet hours or the contact budget say not now;
    the journey waits until then and calls again with the same step id.
    """

    status: str
    message_id: str | None = None
    reason: str | None = None
    retry_at: datetime | None = None


def idempotency_key(workflow_id: str, step_id: str) -> str:
    return f"{workflow_id}/{step_id}"


def render_or_fail(
    renderer: TemplateRenderer, template_id: str, locale: str | None, context: dict[str, object]
) -> RenderedMessage:
    """Render, turning a template mistake into a non-retryable failure naming file and line."""
    try:
        return renderer.render(template_id, locale, context)
    except TemplateProblem as problem:
        raise ApplicationError(
            str(problem), type="TemplateProblem", non_retryable=True
        ) from problem


class OutreachActivities:
    """Activities that contact customers; holds the store, renderer and delivery."""

    def __init__(
        self,
        db: Database,
        renderer: TemplateRenderer,
        delivery: Delivery,
        *,
        mail_from: str,
        base_url: str,
        secret_key: str,
        policy: Callable[[], OutreachPolicy],
    ) -> None:
        # `policy` returns the current operator policy (re-read when its file changes).
        self.policy = policy
        self.db = db
        self.renderer = renderer
        self.delivery = delivery
        self.mail_from = mail_from
        self.base_url = base_url
        self.secret_key = secret_key
        self.message_domain = message_domain(mail_from)
        self._exchange = asyncio.Lock()

    @activity.defn
    async def send_email(self, request: SendEmailInput) -> SendEmailResult:
        """Send one email exactly once; expected outcomes are results, faults raise."""
        key = idempotency_key(request.workflow_id, request.step_id)
        now = max(datetime.now(UTC), request.planned_at or datetime.min.replace(tzinfo=UTC))
        async with self.db.session() as session:
            entry = await self._claim(session, key, request, now)
            if entry.status in FINAL_STATUSES:
                return SendEmailResult(entry.status, entry.message_id, entry.reason)
            customer = await self._customer(session, request.customer_id)
            if customer is not None:
                entry.customer_id = customer.id
            decision = await self._decide(session, customer, request, now)
            if decision.action is not Action.SEND:
                entry.status = DEFERRED if decision.action is Action.DEFER else SKIPPED
                entry.reason = f"{decision.reason}: {decision.detail}".rstrip(": ")
                entry.updated_at = now
                activity.logger.info(
                    "%s %s for customer %s: %s",
                    entry.status,
                    key,
                    request.customer_id,
                    decision.reason,
                )
                return SendEmailResult(entry.status, None, entry.reason, decision.until)
            assert customer is not None
            message = await self._compose(session, customer, request, entry.message_id or "")
            entry.status, entry.updated_at = SENDING, now
        # The `sending` mark is committed before the SMTP exchange starts, and the
        # `sent` mark right after it, before the next exchange may start: a crash can
        # then leave at most one accepted-but-unrecorded message per worker, the one
        # repeat (same Message-ID) a retry may cause.
        async with self._exchange:
            try:
                await self.delivery.deliver(message)
            except PermanentDeliveryError as error:
                await self._finish(key, FAILED, str(error))
                return SendEmailResult(FAILED, None, str(error))
            await self._finish(key, SENT, None)
        activity.logger.info("sent %s to customer %s", key, request.customer_id)
        return SendEmailResult(SENT, message["Message-ID"], None)

    async def _claim(
        self, session: AsyncSession, key: str, request: SendEmailInput, now: datetime
    ) -> OutreachLedger:
        existing = await session.scalar(
            select(OutreachLedger).where(OutreachLedger.idempotency_key == key).with_for_update()
        )
        if existing is not None:
            return existing
        entry = OutreachLedger(
            idempotency_key=key,
            workflow_id=request.workflow_id,
            step_id=request.step_id,
            template_id=request.template_id,
            channel="email",
            topic=request.topic,
            status=PENDING,
            message_id=message_id_for(key, self.message_domain),
            rule_id=request.rule_id,
            ruleset_hash=request.ruleset_hash,
            created_at=now,
            updated_at=now,
        )
        session.add(entry)
        await session.flush()
        return entry

    async def _customer(self, session: AsyncSession, external_id: str) -> Customer | None:
        return await session.scalar(select(Customer).where(Customer.external_id == external_id))

    async def _decide(
        self,
        session: AsyncSession,
        customer: Customer | None,
        request: SendEmailInput,
        now: datetime,
    ) -> PolicyDecision:
        """Consent, contact budget and quiet hours, checked right before the send."""
        if customer is None:
            return PolicyDecision.skip(Reason.ERASED, "customer unknown")
        if not customer.email and customer.erased_at is None:
            return PolicyDecision.skip(Reason.NO_ADDRESS, "no email address on file")
        policy = self.policy()
        topic = Topic(request.topic)
        if topic is Topic.TRANSACTIONAL:
            # Needs no consent, is never counted in or held back by the budget or
            # quiet hours: nothing more to look up.
            return decide_outreach(
                OutreachRequest(
                    request.template_id, topic, None, erased=customer.erased_at is not None
                ),
                policy,
                now,
            )
        consent = await session.scalar(
            select(Consent.granted).where(
                Consent.customer_id == customer.id,
                Consent.channel == "email",
                Consent.topic == topic.value,
            )
        )
        window_start = now - policy.contact_budget.budget().window
        history = [
            SentMessage(Topic(row.topic), row.sent_at)
            for row in await session.execute(
                select(OutreachLedger.topic, OutreachLedger.sent_at).where(
                    OutreachLedger.customer_id == customer.id,
                    OutreachLedger.status == SENT,
                    OutreachLedger.topic != Topic.TRANSACTIONAL.value,
                    OutreachLedger.sent_at >= window_start,
                )
            )
            if row.sent_at is not None
        ]
        return decide_outreach(
            OutreachRequest(
                template_id=request.template_id,
                topic=topic,
                consent=consent,
                erased=customer.erased_at is not None,
                time_zone=customer.timezone,
                history=history,
            ),
            policy,
            now,
        )

    async def _compose(
        self,
        session: AsyncSession,
        customer: Customer,
        request: SendEmailInput,
        message_id: str,
    ) -> EmailMessage:
        context = await build_message_context(
            session,
            customer,
            request.params,
            topic=request.topic,
            base_url=self.base_url,
            secret_key=self.secret_key,
        )
        rendered = render_or_fail(self.renderer, request.template_id, customer.locale, context)
        unsubscribe_url = context.get("unsubscribe_url")
        return build_email(
            rendered,
            sender=self.mail_from,
            recipient=customer.email or "",
            message_id=message_id,
            # RFC 8058 one-click unsubscribe for every non-transactional message.
            unsubscribe_url=unsubscribe_url if isinstance(unsubscribe_url, str) else None,
        )

    async def _finish(self, key: str, status: str, reason: str | None) -> None:
        now = datetime.now(UTC)
        values: dict[str, object] = {"status": status, "reason": reason, "updated_at": now}
        if status == SENT:
            values["sent_at"] = now
        async with self.db.session() as session:
            await session.execute(
                update(OutreachLedger).where(OutreachLedger.idempotency_key == key).values(**values)
            )

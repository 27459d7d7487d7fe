"""The send step: ledger first, then consent, render and SMTP, exactly once.

Inputs carry ids only; the customer's name, address and the message body are
loaded and rendered here so they never enter workflow history.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from functools import partial

from sqlalchemy.engine import Connection
from temporalio import activity

from careflow.channels.providers import PermanentSmsError, Sms
from careflow.channels.sending import SMS_CHANNEL, SmsChannel, sms_message_id
from careflow.contracts.outreach import MessageStatus, SendEmailInput, SendEmailResult
from careflow.experiments.journeys import VariantChoice
from careflow.facts import facts_for_customer
from careflow.observability.metrics import count_message, timed_send
from careflow.outreach.context import message_context
from careflow.outreach.decisions import Action, PolicyDecision, Reason, Topic
from careflow.outreach.envelope import (
    OutgoingEmail,
    build_email,
    flat_email,
    message_domain,
    message_id_for,
)
from careflow.outreach.ledger import (
    DEFERRED,
    FAILED,
    FINAL_STATUSES,
    SENDING,
    SENT,
    SKIPPED,
    FactsQuery,
    Recipient,
    SendFacts,
    StoredStep,
    read_facts,
    record_decision,
    send_ledger,
)
from careflow.outreach.mailer import Delivery, FlatDelivery, PermanentDeliveryError
from careflow.outreach.policy import OutreachRequest, decide_outreach
from careflow.outreach.policy_config import OutreachPolicy
from careflow.outreach.suppression import Suppressions, suppression_decision
from careflow.outreach.templates import TemplateProblem, TemplateRenderer
from careflow.staff_alerts import add_alert, message_failed_task, template_problem_reason
from careflow.store import Database
from careflow.webhooks.events import MESSAGE_FAILED as MESSAGE_FAILED_EVENT
from careflow.webhooks.events import record_event

# The channel this module sends on, as metrics and the ledger name it.
CHANNEL = "email"
# Skips that are about one channel (its address, its consent): the next channel is tried.
_CHANNEL_REASONS = frozenset(
    {Reason.NO_ADDRESS, Reason.NO_MARKETING_CONSENT, Reason.NO_CARE_CONSENT, Reason.OPTED_OUT}
)


def as_of(planned_at: datetime | None) -> datetime:
    """The send step's clock: the journey's time, never earlier than the wall clock.

    On the time-skipping server the journey's time runs ahead of the wall clock,
    and policies and ledger times must follow it. A Temporal retry carries the
    `planned_at` of its first attempt, which may be long past: then the wall clock
    is the truth (quiet hours may have begun since, and `sent_at` says when the
    message really left).
    """
    wall = datetime.now(UTC)
    return wall if planned_at is None else max(wall, planned_at)


def idempotency_key(workflow_id: str, step_id: str) -> str:
    return f"{workflow_id}/{step_id}"


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
        alert_assignee: Callable[[], str | None] = lambda: None,
        release_id: Callable[[], str | None] = lambda: None,
        suppressions: Callable[[], Suppressions] | None = None,
        sms: SmsChannel | None = None,
        variants: Callable[[str, str, str], VariantChoice | None] | None = None,
    ) -> None:
        # Journey A/B experiments: (workflow id, template, customer) -> the customer's
        # variant, or None (careflow/experiments/journeys.py). None: no experiments.
        self.variants = variants
        # The release whose templates and policy this process serves (careflow/releases/).
        self.release_id = release_id
        # `policy` returns the current operator policy (re-read when its file changes).
        self.policy = policy
        # The policy's suppressions, their conditions parsed (None: no suppression).
        self.suppressions = suppressions
        # Who is told when a message's template is broken (see careflow/staff_alerts.py).
        self.alert_assignee = alert_assignee
        # SMS, when rules/sms.yaml exists (careflow/channels/sending.py); else email only.
        self.sms = sms
        self.db = db
        self.renderer = renderer
        self.delivery = delivery
        # A delivery that takes bytes gets each message written out as soon as it
        # is built (see `flat_email`); any other gets an `EmailMessage`.
        self._flat = delivery if isinstance(delivery, FlatDelivery) else None
        self.mail_from = mail_from
        self.base_url = base_url
        self.secret_key = secret_key
        self.message_domain = message_domain(mail_from)
        # One SMTP exchange and its `sent` mark at a time (see send_email).
        self._exchange = asyncio.Lock()
        self.ledger = send_ledger(db)
        # Budget decisions for one customer, one at a time in this process (across
        # processes, PostgreSQL's row lock on the customer does it).
        self._deciding: dict[str, _SharedLock] = {}

    @activity.defn
    async def send_email(self, request: SendEmailInput) -> SendEmailResult:
        """Send one email exactly once; expected outcomes are results, faults raise."""
        key = idempotency_key(request.workflow_id, request.step_id)
        # A suppression written for the journey's message holds for its variants too.
        asked_for = request.template_id
        request = self._with_variant(request)
        topic = Topic(request.topic)
        policy = self.policy()
        release_id = self.release_id()
        suppressed = await self._suppressed(
            request, topic, as_of(request.planned_at), also_template=asked_for
        )
        async with self._deciding_for(request.customer_id, topic):
            prepared = await self.ledger.transaction(
                partial(
                    self._prepare,
                    request,
                    key,
                    topic,
                    policy,
                    as_of(request.planned_at),
                    release_id,
                    suppressed,
                ),
                # A transactional message reads no budget, so its read and its record
                # need no transaction around them (the record never overwrites a
                # final row); counted topics keep the customer locked in between.
                atomic=topic is not Topic.TRANSACTIONAL,
            )
        if prepared.held is not None:
            count_message(CHANNEL, prepared.result.status)
            # Logged here: on SQLite `_prepare` ran in the ledger's thread, outside
            # the activity's context.
            activity.logger.info(
                "%s %s for customer %s: %s",
                prepared.result.status,
                key,
                request.customer_id,
                prepared.held.reason,
            )
        if prepared.failed:
            activity.logger.warning(
                "failed %s for customer %s: %s", key, request.customer_id, prepared.result.reason
            )
        if prepared.message is None:
            return prepared.result
        if isinstance(prepared.message, Sms):
            return await self._send_sms(request, key, prepared)
        # The `sending` mark is committed before the SMTP exchange starts, and the
        # `sent` mark right after it, before the next exchange may start: a crash can
        # then leave at most one accepted-but-unrecorded message per worker, the one
        # repeat (same Message-ID) a retry may cause.
        async with self._exchange:
            try:
                with timed_send(CHANNEL):
                    if isinstance(prepared.message, OutgoingEmail):
                        assert self._flat is not None
                        await self._flat.deliver_flat(prepared.message)
                    else:
                        await self.delivery.deliver(prepared.message)
            except PermanentDeliveryError as error:
                await self.ledger.record_outcome(key, FAILED, str(error), as_of(request.planned_at))
                count_message(CHANNEL, FAILED)
                activity.logger.warning("failed %s for customer %s", key, request.customer_id)
                return SendEmailResult(status=MessageStatus.FAILED, reason=str(error))
            await self.ledger.record_outcome(
                key, SENT, prepared.result.reason, as_of(request.planned_at)
            )
        count_message(CHANNEL, SENT)
        activity.logger.info("sent %s to customer %s", key, request.customer_id)
        return prepared.result

    async def decide_only(self, request: SendEmailInput, now: datetime) -> PolicyDecision:
        """What `send_email` would decide for `request` at `now`, recording nothing.

        A campaign's preview asks this for every member: the same facts (consent,
        budget history, address), the same suppressions and the same channel choice
        as the send step, so a preview's exclusions are the send's. A step already
        final says so (skip, with its stored reason).
        """
        topic = Topic(request.topic)
        key = idempotency_key(request.workflow_id, request.step_id)
        policy = self.policy()
        suppressed = await self._suppressed(request, topic, now)
        query = FactsQuery(
            key=key,
            customer_external_id=request.customer_id,
            topic=topic,
            complaint_id=_complaint_id(request),
            budget_since=now - policy.contact_budget.budget().window,
            lock_customer=False,
        )
        async with self.db.engine.connect() as connection:
            facts = await connection.run_sync(lambda sync: read_facts(sync, query))
        if facts.step is not None and facts.step.status in FINAL_STATUSES:
            return PolicyDecision.skip(Reason.ALREADY_DONE, facts.step.status)
        return self._choose(facts, request, topic, policy, now, suppressed)[1]

    def _with_variant(self, request: SendEmailInput) -> SendEmailInput:
        """The request as sent: a journey message under an experiment becomes the
        customer's variant of it (its template, and the experiment and variant the
        ledger records). A caller that chose the variant itself (a campaign) keeps it."""
        if request.experiment is not None or self.variants is None:
            return request
        choice = self.variants(request.workflow_id, request.template_id, request.customer_id)
        if choice is None:
            return request
        return replace(
            request,
            template_id=choice.template_id,
            experiment=choice.experiment,
            variant=choice.variant,
        )

    async def _suppressed(
        self,
        request: SendEmailInput,
        topic: Topic,
        now: datetime,
        *,
        also_template: str | None = None,
    ) -> PolicyDecision | None:
        """What the policy's suppressions say about this message now, from the customer's
        facts as of `now` (computed only when a suppression applies to the message, by
        its template or by `also_template`: the one an experiment's variant replaced)."""
        if self.suppressions is None or topic is Topic.TRANSACTIONAL:
            return None
        suppressions = self.suppressions()
        templates = {request.template_id, also_template or request.template_id}
        # In the policy's order: the first suppression that holds decides.
        rules = [
            rule
            for rule in suppressions.rules
            if any(rule.applies_to(topic, template) for template in templates)
        ]
        if not rules:
            return None
        async with self.db.session() as session:
            facts = await facts_for_customer(
                session,
                request.customer_id,
                now,
                config=suppressions.facts_config,
                derived=suppressions.derived,
                only=suppressions.facts,
            )
        return None if facts is None else suppression_decision(rules, facts, now)

    async def _send_sms(
        self, request: SendEmailInput, key: str, prepared: _Prepared
    ) -> SendEmailResult:
        """The provider exchange of an SMS: `sending` is committed before it, `sent` after,
        both within one of sms.yaml's `in_flight` slots (a crash repeats at most that
        many); a provider's refusal fails the message, anything else is retried (same id)."""
        assert isinstance(prepared.message, Sms)
        assert self.sms is not None
        async with self.sms.exchange_slot():
            try:
                with timed_send(SMS_CHANNEL):
                    await self.sms.provider().send(prepared.message)
            except PermanentSmsError as error:
                reason = f"provider refused it: {error.code or ''}: {error}".replace(": :", ":")
                await self.ledger.record_outcome(key, FAILED, reason, as_of(request.planned_at))
                count_message(SMS_CHANNEL, FAILED)
                activity.logger.warning(
                    "failed %s for customer %s by SMS", key, request.customer_id
                )
                return SendEmailResult(
                    status=MessageStatus.FAILED, reason=reason, channel=SMS_CHANNEL
                )
            await self.ledger.record_outcome(
                key, SENT, prepared.result.reason, as_of(request.planned_at)
            )
        count_message(SMS_CHANNEL, SENT)
        activity.logger.info("sent %s to customer %s by SMS", key, request.customer_id)
        return prepared.result

    def _prepare(
        self,
        request: SendEmailInput,
        key: str,
        topic: Topic,
        policy: OutreachPolicy,
        now: datetime,
        release_id: str | None,
        suppressed: PolicyDecision | None,
        connection: Connection,
    ) -> _Prepared:
        """Everything before the SMTP exchange, in one transaction (see `SendLedger`).

        Reads the step's row, customer, consent, budget and case; decides; renders
        (before the row says `sending`: a template mistake records the step as
        failed with the template's file and line, and opens a task for staff);
        records the decision. Runs outside the event loop on SQLite: nothing
        here may await.
        """
        facts = read_facts(
            connection,
            FactsQuery(
                key=key,
                customer_external_id=request.customer_id,
                topic=topic,
                complaint_id=_complaint_id(request),
                budget_since=now - policy.contact_budget.budget().window,
                lock_customer=topic is not Topic.TRANSACTIONAL,
            ),
        )
        if facts.step is not None and facts.step.status in FINAL_STATUSES:
            return _Prepared.stored(facts.step, now)
        channel, decision, note = self._choose(facts, request, topic, policy, now, suppressed)
        message_id = (
            sms_message_id(key)
            if channel == SMS_CHANNEL
            else message_id_for(key, self.message_domain)
        )
        message: OutgoingEmail | EmailMessage | Sms | None = None
        reason: str | None
        broken: TemplateProblem | None = None
        if decision.action is Action.SEND:
            try:
                if channel == SMS_CHANNEL:
                    message = self._compose_sms(facts, request, key)
                else:
                    message = self._compose(facts, request, message_id, now)
            except TemplateProblem as problem:
                # A broken template fails this message, not the journey: recorded as
                # failed with the file and line, and staff get a task to fix it.
                broken = problem
                status, reason = FAILED, template_problem_reason(problem)
            else:
                # A fallback says which channel could not be used, and why.
                status, reason = SENDING, note
        else:
            status = DEFERRED if decision.action is Action.DEFER else SKIPPED
            reason = f"{decision.reason}: {decision.detail}".rstrip(": ")
        finished = record_decision(
            connection,
            {
                "idempotency_key": key,
                "workflow_id": request.workflow_id,
                "step_id": request.step_id,
                "template_id": request.template_id,
                "channel": channel,
                "topic": topic.value,
                "status": status,
                "reason": reason,
                "message_id": message_id,
                "rule_id": request.rule_id,
                "ruleset_hash": request.ruleset_hash,
                "release_id": release_id,
                "customer_id": facts.recipient.id if facts.recipient else None,
                "created_at": now,
                "updated_at": now,
            },
            experiment=request.experiment,
            variant=request.variant,
        )
        if finished is not None:
            return _Prepared.stored(finished, now)
        if broken is not None:
            add_alert(
                connection,
                message_failed_task(
                    key=key,
                    workflow_id=request.workflow_id,
                    customer_pk=facts.recipient.id if facts.recipient else None,
                    template_id=request.template_id,
                    problem=broken,
                    assignee=self.alert_assignee(),
                    now=now,
                ),
            )
            record_event(
                connection,
                MESSAGE_FAILED_EVENT,
                key,
                {"message_key": key},
                customer_pk=None,
                at=now,
            )
            return _Prepared(
                SendEmailResult(status=MessageStatus.FAILED, reason=reason, channel=channel),
                failed=True,
            )
        if message is None:
            held = SendEmailResult(
                status=MessageStatus(status),
                reason=reason,
                retry_at=decision.until,
                channel=channel,
            )
            return _Prepared(held, held=decision)
        sent = SendEmailResult(
            status=MessageStatus.SENT,
            message_id=message_id,
            reason=note,
            sent_at=now,
            channel=channel,
        )
        return _Prepared(sent, message)

    def _choose(
        self,
        facts: SendFacts,
        request: SendEmailInput,
        topic: Topic,
        policy: OutreachPolicy,
        now: datetime,
        suppressed: PolicyDecision | None,
    ) -> tuple[str, PolicyDecision, str | None]:
        """The channel, its decision, and why earlier channels were passed over.

        Channels are tried in the order of rules/sms.yaml (the customer's preferred
        channel first); one without an address or consent for the topic gives way to
        the next. Quiet hours and the budget are the customer's, whatever the channel:
        a deferral on the first usable channel defers the message. A request for one
        channel (`request.channel`) is decided on that channel alone.
        """
        recipient = facts.recipient
        if request.channel == SMS_CHANNEL:
            # Only SMS (a campaign's `channel: sms`): no fallback to email.
            return (
                SMS_CHANNEL,
                self._decide_sms(facts, request, topic, policy, now, suppressed),
                None,
            )
        if self.sms is None or recipient is None or request.channel == CHANNEL:
            return CHANNEL, _decide(facts, request, topic, policy, now, suppressed), None
        order = self.sms.order(request.template_id, recipient.preferred_channel)
        if order == [CHANNEL]:
            return CHANNEL, _decide(facts, request, topic, policy, now, suppressed), None
        passed: list[str] = []
        first_skip: PolicyDecision | None = None
        for channel in order:
            if channel == SMS_CHANNEL:
                problem = self.sms.unusable(request.template_id, recipient.phone)
                if problem is not None:
                    passed.append(f"sms: {problem}")
                    first_skip = first_skip or PolicyDecision.skip(Reason.NO_ADDRESS, problem)
                    continue
                decision = _decide(
                    replace(facts, consent=facts.sms_consent),
                    request,
                    topic,
                    policy,
                    now,
                    suppressed,
                    sms=True,
                )
            else:
                decision = _decide(facts, request, topic, policy, now, suppressed)
            if decision.action is Action.SKIP and decision.reason in _CHANNEL_REASONS:
                passed.append(f"{channel}: {decision.reason}: {decision.detail}".rstrip(": "))
                first_skip = first_skip or decision
                continue
            return channel, decision, "; ".join(passed) or None
        assert first_skip is not None
        return order[0], PolicyDecision.skip(first_skip.reason, "; ".join(passed)), None

    def _decide_sms(
        self,
        facts: SendFacts,
        request: SendEmailInput,
        topic: Topic,
        policy: OutreachPolicy,
        now: datetime,
        suppressed: PolicyDecision | None,
    ) -> PolicyDecision:
        """The decision for this message by SMS alone: skipped when SMS is not set up for
        its template, the customer has no usable number or no SMS consent for the topic."""
        recipient = facts.recipient
        if recipient is None:
            return _decide(facts, request, topic, policy, now, suppressed)
        if self.sms is None:
            return PolicyDecision.skip(Reason.NO_ADDRESS, "SMS is not configured")
        problem = self.sms.gateway_problem() or self.sms.unusable(
            request.template_id, recipient.phone
        )
        if problem is not None:
            return PolicyDecision.skip(Reason.NO_ADDRESS, problem)
        return _decide(
            replace(facts, consent=facts.sms_consent),
            request,
            topic,
            policy,
            now,
            suppressed,
            sms=True,
        )

    def _compose_sms(self, facts: SendFacts, request: SendEmailInput, key: str) -> Sms:
        recipient = facts.recipient
        assert recipient is not None
        assert self.sms is not None
        assert recipient.phone is not None
        context = message_context(
            recipient,
            facts.case,
            request.params,
            topic=request.topic,
            base_url=self.base_url,
            secret_key=self.secret_key,
        )
        return self.sms.compose(
            request.template_id,
            phone=recipient.phone,
            locale=recipient.locale,
            zone=recipient.timezone or "UTC",
            context=context,
            marketing=request.topic == Topic.MARKETING.value,
            key=key,
        )

    @asynccontextmanager
    async def _deciding_for(self, customer_id: str, topic: Topic) -> AsyncIterator[None]:
        """Hold the customer's decision lock for counted topics (transactional is free)."""
        if topic is Topic.TRANSACTIONAL:
            yield
            return
        shared = self._deciding.setdefault(customer_id, _SharedLock())
        shared.users += 1
        try:
            async with shared.lock:
                yield
        finally:
            shared.users -= 1
            if not shared.users:  # nobody else wants it: forget it
                del self._deciding[customer_id]

    def _compose(
        self, facts: SendFacts, request: SendEmailInput, message_id: str, now: datetime
    ) -> OutgoingEmail | EmailMessage:
        recipient = facts.recipient
        assert recipient is not None
        context = message_context(
            recipient,
            facts.case,
            request.params,
            topic=request.topic,
            base_url=self.base_url,
            secret_key=self.secret_key,
        )
        rendered = self.renderer.render(request.template_id, recipient.locale, context)
        unsubscribe_url = context.get("unsubscribe_url")
        build = flat_email if self._flat is not None else build_email
        return build(
            rendered,
            sender=self.mail_from,
            recipient=recipient.email or "",
            message_id=message_id,
            date=now,
            # RFC 8058 one-click unsubscribe for every non-transactional message.
            unsubscribe_url=unsubscribe_url if isinstance(unsubscribe_url, str) else None,
        )

    async def close(self) -> None:
        """Let go of the ledger's connection (and thread); for an orderly shutdown."""
        await self.ledger.close()
        if self.sms is not None:
            await self.sms.close()


@dataclass(frozen=True)
class _Prepared:
    """The decision's answer: the step's result, and the message when it is to be sent."""

    result: SendEmailResult
    message: OutgoingEmail | EmailMessage | Sms | None = None
    held: PolicyDecision | None = None  # the policy's decision when it deferred or skipped
    failed: bool = False  # the template could not be rendered (the reason says where)

    @classmethod
    def stored(cls, step: StoredStep, now: datetime) -> _Prepared:
        """A step already finished: its stored result, nothing to send.

        A retry carries its first attempt's `planned_at`, so `now` is the original
        send's time unless the wall clock has passed it (a live retry, seconds later).
        """
        sent_at = now if step.status == SENT else None
        return cls(
            SendEmailResult(
                status=MessageStatus(step.status),
                message_id=step.message_id,
                reason=step.reason,
                sent_at=sent_at,
                channel=step.channel,
            )
        )


@dataclass
class _SharedLock:
    """A lock and how many sends hold or wait for it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


def _complaint_id(request: SendEmailInput) -> str | None:
    complaint_id = request.params.get("complaint_id")
    return None if complaint_id is None else str(complaint_id)


def _decide(
    facts: SendFacts,
    request: SendEmailInput,
    topic: Topic,
    policy: OutreachPolicy,
    now: datetime,
    suppressed: PolicyDecision | None = None,
    *,
    sms: bool = False,
) -> PolicyDecision:
    """Consent, suppression, contact budget and quiet hours, as the store stands right
    before the send.

    `sms`: the message goes by SMS (its number was checked by the SMS channel), with
    the SMS consent in `facts.consent`.
    """
    customer: Recipient | None = facts.recipient
    if customer is None:
        return PolicyDecision.skip(Reason.ERASED, "customer unknown")
    if not sms and not customer.email and not customer.erased:
        return PolicyDecision.skip(Reason.NO_ADDRESS, "no email address on file")
    if not sms and customer.email and ("\r" in customer.email or "\n" in customer.email):
        # Intake refuses such an address, but a row edited by hand may hold one; as
        # a header it could add headers, and the email library refuses to build it.
        return PolicyDecision.skip(Reason.NO_ADDRESS, "the email address on file has a line break")
    return decide_outreach(
        OutreachRequest(
            template_id=request.template_id,
            topic=topic,
            consent=facts.consent,
            erased=customer.erased,
            time_zone=customer.timezone,
            history=facts.history,
            suppressed=suppressed,
        ),
        policy,
        now,
    )

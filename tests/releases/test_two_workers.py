"""Two workers on separate rules folders (as on two machines) against one store: once a
release is activated, both evaluate it and record its id, and no decision after the
activation uses what they served before.

Real parts: the store (SQLite and PostgreSQL), careflow's worker twice (each with its
own task queue, rules folder and release cache, sharing nothing but the store and
Temporal), the Temporal test server and an SMTP server on loopback.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.console.roles import Role
from careflow.intake.events import EventIn, accept_event
from careflow.outreach.mailer import SmtpDelivery
from careflow.releases.follower import start_follower
from careflow.releases.lifecycle import Actor, ReviewPolicy, activate, propose_folder
from careflow.rule_references import folder_references
from careflow.store import Database, JourneyRecord, OutreachLedger, RuleDecision
from careflow.worker import create_worker
from tests.releases.folders import operator_folder
from tests.smtp_sink import SmtpSink


async def complaint(db: Database, client: Client, queue: str, name: str) -> None:
    """A customer of this queue opens a complaint; wait until its event is handled."""
    now = datetime.now(UTC)
    customer = f"{queue}-{name}"
    await accept_event(
        db,
        client,
        queue,
        EventIn(
            type="customer_upserted",
            customer_id=customer,
            occurred_at=now,
            data={"email": f"{name}@example.com", "locale": "en"},
            event_id=f"{customer}-upsert",
        ),
    )
    accepted = await accept_event(
        db,
        client,
        queue,
        EventIn(
            type="complaint_opened",
            customer_id=customer,
            occurred_at=now,
            data={"complaint_id": f"{customer}-k", "severity": "low", "subject": "Late"},
            event_id=f"{customer}-complaint",
        ),
    )
    await client.get_workflow_handle(accepted.workflow_id).result()


async def decisions_of(db: Database, event_id: str) -> list[RuleDecision]:
    async with db.session() as session:
        return list(
            await session.scalars(select(RuleDecision).where(RuleDecision.event_id == event_id))
        )


async def test_both_workers_switch_to_the_activated_release(
    db: Database,
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> None:
    client = workflow_env.client
    machines = []
    for name in ("one", "two"):
        rules, templates = operator_folder(tmp_path / name, ack_description=f"Machine {name}.")
        machines.append(
            settings.model_copy(
                update={
                    "rules_dir": rules,
                    "templates_dir": templates,
                    "task_queue": f"{settings.task_queue}-{name}",
                    "home": tmp_path / name / "var",
                }
            )
        )
    release_rules, release_templates = operator_folder(
        tmp_path / "release", ack_description="Released."
    )
    delivery = SmtpDelivery(settings.smtp_target)
    with workflow_env.auto_time_skipping_disabled():
        async with contextlib.AsyncExitStack() as stack:
            for machine in machines:
                follower = await start_follower(
                    db,
                    stack,
                    cache_dir=machine.resolved_home / "releases",
                    local_rules=machine.rules_dir,
                    local_templates=machine.templates_dir,
                    references=folder_references,
                )
                worker = create_worker(client, machine, db=db, delivery=delivery, follower=follower)
                await stack.enter_async_context(worker)
            # Before any release: each machine decides by its own folder.
            for machine in machines:
                await complaint(db, client, machine.task_queue, "before")
            before = {
                machine.task_queue: await decisions_of(db, f"{machine.task_queue}-before-complaint")
                for machine in machines
            }
            assert [len(found) for found in before.values()] == [1, 1]
            hashes = {found[0].ruleset_hash for found in before.values()}
            assert len(hashes) == 2, "the two folders differ"
            assert all(found[0].release_id is None for found in before.values())

            proposal = await propose_folder(
                db,
                release_rules,
                release_templates,
                actor="alice",
                cache_dir=tmp_path / "cli-cache",
            )
            assert proposal.check.passed, proposal.check.problems
            activation = await activate(
                db,
                proposal.release_id,
                actor=Actor("bob", Role.ADMIN),
                policy=ReviewPolicy(),
                cache_dir=tmp_path / "cli-cache",
            )
            # At once, without waiting for any poll: the next decision on either machine
            # asks the store which release is active.
            for machine in machines:
                await complaint(db, client, machine.task_queue, "after")
            await smtp_sink.wait_for(4)
    await delivery.close()

    async with db.session() as session:
        decisions = list(await session.scalars(select(RuleDecision)))
        journeys = list(await session.scalars(select(JourneyRecord)))
        ledger = list(await session.scalars(select(OutreachLedger)))
    after = [d for d in decisions if d.event_id and "-after-" in d.event_id]
    assert len(after) == 2
    assert {d.release_id for d in after} == {proposal.release_id}
    assert len({d.ruleset_hash for d in after}) == 1
    assert not {d.ruleset_hash for d in after} & hashes
    # No decision made after the activation used anything else.
    assert all(
        d.release_id == proposal.release_id
        for d in decisions
        if d.decided_at >= activation.activated_at
    )
    started_after = [j for j in journeys if j.started_at >= activation.activated_at]
    assert len(started_after) == 2
    assert {j.release_id for j in started_after} == {proposal.release_id}
    sent_after = [row for row in ledger if row.created_at >= activation.activated_at]
    assert len(sent_after) == 2
    assert {row.release_id for row in sent_after} == {proposal.release_id}

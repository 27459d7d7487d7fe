"""A release's life: proposed as a draft, checked, activated by a reviewer, rolled back.

The gates, in the order `activate` applies them:
1. the draft passed its check (careflow/releases/checking.py); a draft not checked
   yet is checked first, and a broken one is refused;
2. the person activating has the configured role (`CAREFLOW_RELEASE_APPROVER_ROLE`,
   default admin), and is not the draft's author unless `CAREFLOW_RELEASE_SELF_APPROVAL`
   allows it.
Every step and every refusal is in the audit log. `careflow up` on its embedded store
proposes and activates its own folder on every good edit (`sync_local_folder`): one
person on one machine, as before releases.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from careflow.console.roles import Role
from careflow.releases.bundle import RULES_PREFIX, TEMPLATES_PREFIX, read_folder
from careflow.releases.checking import CheckReport, check_folder
from careflow.releases.materialize import materialize
from careflow.releases.repository import (
    ACTIVATE,
    ROLLBACK,
    Activation,
    active_release_id,
    get_release,
    previous_release_id,
    propose,
    record_activation,
    record_check,
    record_refusal,
    release_files,
)
from careflow.releases.words import REFUSAL_WORDS
from careflow.rules.phrases import Phrase, Stored
from careflow.store import Database

log = logging.getLogger(__name__)

# Who `careflow up` acts as when it follows its own folder.
LOCAL_ACTOR = "careflow up"


@dataclass(frozen=True)
class Actor:
    """Who acts: a console user, or `cli:<account>` (the CLI acts as an admin)."""

    name: str
    role: Role


@dataclass(frozen=True)
class ReviewPolicy:
    """Who may activate: the role needed, and whether an author may activate their own."""

    approver_role: Role = Role.ADMIN
    self_approval: bool = False


class ActivationRefused(Exception):
    """A gate refused the activation; `reason` says which and what to do (a Phrase).

    `forbidden`: the actor may not do it (their role, their own release); otherwise the
    release's state stands in the way (its check failed, it is active, nothing earlier).
    """

    def __init__(self, reason: Phrase, *, forbidden: bool = False) -> None:
        self.reason = reason
        self.forbidden = forbidden
        super().__init__(str(reason))


@dataclass(frozen=True)
class Proposal:
    release_id: str
    created: bool
    check: CheckReport


async def check_release(
    db: Database, release_id: str, *, actor: str, cache_dir: Path
) -> CheckReport:
    """Check the release's own files (as stored) and record the outcome on it."""
    files = await release_files(db, release_id)
    folder = await asyncio.to_thread(materialize, files, cache_dir, release_id)
    report = await asyncio.to_thread(check_folder, folder / RULES_PREFIX, folder / TEMPLATES_PREFIX)
    # Problems name the files by their place in the release, not this disk's folder.
    report = CheckReport(
        problems=[problem.replace(f"{folder}/", "") for problem in report.problems],
        rulesets=report.rulesets,
        rules=report.rules,
        examples=report.examples,
        rules_hash=report.rules_hash,
    )
    await record_check(db, release_id, actor=actor, passed=report.passed, report=report.as_json())
    return report


async def propose_folder(
    db: Database,
    rules_dir: Path,
    templates_dir: Path,
    *,
    actor: str,
    cache_dir: Path,
    note: str | None = None,
) -> Proposal:
    """Upload a rules folder and a templates folder as a draft, and check it.

    Raises BundleError when a file cannot be read.
    """
    files = await asyncio.to_thread(read_folder, rules_dir, templates_dir)
    release_id, created = await propose(db, files, actor=actor, note=note)
    report = await check_release(db, release_id, actor=actor, cache_dir=cache_dir)
    return Proposal(release_id, created, report)


async def activate(
    db: Database,
    release_id: str,
    *,
    actor: Actor,
    policy: ReviewPolicy,
    cache_dir: Path,
    reviewed: bool = True,
) -> Activation:
    """Make the release the active one, through every gate; ActivationRefused says why not.

    `reviewed=False` skips the role and author gates (only `careflow up`'s own folder).
    """
    release = await get_release(db, release_id)
    if release.check_status is None:
        await check_release(db, release_id, actor=actor.name, cache_dir=cache_dir)
        release = await get_release(db, release_id)
    reason = None
    forbidden = False
    short = release_id[:12]
    role = Stored("role", policy.approver_role.value)
    if release.check_status != "passed":
        problems = len((release.check_report or {}).get("problems", []))
        reason = REFUSAL_WORDS("refusal.release.check_failed", release=short, problems=problems)
    elif await active_release_id(db) == release_id:
        reason = REFUSAL_WORDS("refusal.release.already_active", release=short)
    elif reviewed and not actor.role.allows(policy.approver_role):
        reason, forbidden = REFUSAL_WORDS("refusal.release.role", role=role), True
    elif reviewed and not policy.self_approval and actor.name == release.proposed_by:
        reason = REFUSAL_WORDS("refusal.release.own", actor=actor.name, release=short, role=role)
        forbidden = True
    if reason is not None:
        await record_refusal(db, release_id, actor=actor.name, reason=str(reason))
        raise ActivationRefused(reason, forbidden=forbidden)
    return await record_activation(
        db,
        release_id,
        actor=actor.name,
        kind=ACTIVATE,
        approved=reviewed,
        details={"role": actor.role.value, "reviewed": reviewed},
    )


async def rollback(db: Database, *, actor: Actor, policy: ReviewPolicy) -> Activation:
    """Re-activate the release that was active before the active one, in one step.

    It passed its gates when it went live; rolling back needs the approver role only.
    """
    previous = await previous_release_id(db)
    reason = None
    if previous is None:
        reason = REFUSAL_WORDS("refusal.release.nothing_earlier")
    elif not actor.role.allows(policy.approver_role):
        reason = REFUSAL_WORDS(
            "refusal.release.rollback_role", role=Stored("role", policy.approver_role.value)
        )
    if reason is not None:
        await record_refusal(db, previous or "-", actor=actor.name, reason=str(reason))
        raise ActivationRefused(reason, forbidden=previous is not None)
    assert previous is not None
    return await record_activation(
        db,
        previous,
        actor=actor.name,
        kind=ROLLBACK,
        approved=False,
        details={"role": actor.role.value},
    )


async def sync_local_folder(
    db: Database, rules_dir: Path, templates_dir: Path, *, cache_dir: Path
) -> str | None:
    """`careflow up`'s edit-and-reload loop: propose the folder when it changed, and
    activate it when it passes its check. The release active afterwards."""
    files = await asyncio.to_thread(read_folder, rules_dir, templates_dir)
    active = await active_release_id(db)
    if files.id == active:
        return active
    release_id, _ = await propose(db, files, actor=LOCAL_ACTOR, note=str(rules_dir))
    release = await get_release(db, release_id)
    if release.check_status is None:
        report = await check_release(db, release_id, actor=LOCAL_ACTOR, cache_dir=cache_dir)
        if not report.passed:
            log.error(
                "rule files in %s rejected (keeping release %s):\n%s",
                rules_dir,
                (active or "-")[:12],
                "\n".join(
                    _local_paths(problem, rules_dir, templates_dir) for problem in report.problems
                ),
            )
    release = await get_release(db, release_id)
    if release.check_status != "passed":
        return active
    await activate(
        db,
        release_id,
        actor=Actor(LOCAL_ACTOR, Role.ADMIN),
        policy=ReviewPolicy(),
        cache_dir=cache_dir,
        reviewed=False,
    )
    log.info("rule files in %s loaded: release %s", rules_dir, release_id[:12])
    return release_id


def _local_paths(problem: str, rules_dir: Path, templates_dir: Path) -> str:
    """A release's problem naming the operator's own file (`rules/x.yaml` -> its path)."""
    for prefix, folder in ((RULES_PREFIX, rules_dir), (TEMPLATES_PREFIX, templates_dir)):
        if problem.startswith(f"{prefix}/"):
            return f"{folder}/{problem.removeprefix(prefix + '/')}"
    return problem


async def active_release_folder(db: Database, cache_dir: Path) -> tuple[str, Path] | None:
    """The active release's id and its files written out under `cache_dir`; None when no
    release is active."""
    release_id = await active_release_id(db)
    if release_id is None:
        return None
    files = await release_files(db, release_id)
    return release_id, await asyncio.to_thread(materialize, files, cache_dir, release_id)

"""Releases in the store: propose, record gates, activate, roll back, list; each step audited.

The active release is the newest row of `release_activations`: activating appends a
row, so there is exactly one active release at any moment, and the rows are the
history `careflow rules releases` shows. Every step writes its audit entry in the
same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.console.audit import add_audit_entry
from careflow.releases.bundle import ReleaseFiles
from careflow.store import Database, Release, ReleaseActivation, ReleaseFile

# Audit actions.
RELEASE_PROPOSED = "release_proposed"
RELEASE_CHECKED = "release_checked"
RELEASE_BACKTESTED = "release_backtested"
RELEASE_APPROVED = "release_approved"
RELEASE_ACTIVATED = "release_activated"
RELEASE_ROLLED_BACK = "release_rolled_back"
RELEASE_REFUSED = "release_activation_refused"

ACTIVATE = "activate"
ROLLBACK = "rollback"


class ReleaseNotFound(LookupError):
    """No release has this id (or id prefix), or the prefix names more than one."""


@dataclass(frozen=True)
class Activation:
    release_id: str
    previous_release_id: str | None
    kind: str
    activated_by: str
    activated_at: datetime


@dataclass(frozen=True)
class ReleaseSummary:
    """A release and its history, as `careflow rules releases` and the console list them."""

    id: str
    note: str | None
    proposed_by: str
    proposed_at: datetime
    check_status: str | None
    checked_by: str | None
    checked_at: datetime | None
    backtested_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    activations: tuple[Activation, ...]
    active: bool


async def propose(
    db: Database, files: ReleaseFiles, *, actor: str, note: str | None = None
) -> tuple[str, bool]:
    """Store `files` as a draft; (its id, whether it is new). The same files again are the
    same release (its id is their hash), recorded once."""
    release_id = files.id
    async with db.session() as session:
        if await session.get(Release, release_id) is not None:
            return release_id, False
        session.add(
            Release(
                id=release_id,
                note=note,
                proposed_by=actor[:64],
                proposed_at=datetime.now(UTC),
            )
        )
        await session.flush()
        session.add_all(
            ReleaseFile(release_id=release_id, path=path, content=content)
            for path, content in sorted(files.files.items())
        )
        add_audit_entry(
            session, actor, RELEASE_PROPOSED, release_id, {"files": len(files.files), "note": note}
        )
    return release_id, True


async def resolve_id(db: Database, given: str) -> str:
    """The full id of the release `given` names (its id or a unique prefix of it)."""
    async with db.session() as session:
        found = list(
            await session.scalars(select(Release.id).where(Release.id.startswith(given)).limit(2))
        )
    if len(found) != 1 or not given:
        what = "no release" if not found else "more than one release"
        raise ReleaseNotFound(f"{what} starts with {given!r}")
    return found[0]


async def release_files(db: Database, release_id: str) -> ReleaseFiles:
    """The files of one release, exactly as proposed."""
    async with db.session() as session:
        rows = (
            await session.execute(
                select(ReleaseFile.path, ReleaseFile.content).where(
                    ReleaseFile.release_id == release_id
                )
            )
        ).all()
        if not rows and await session.get(Release, release_id) is None:
            raise ReleaseNotFound(f"no release {release_id!r}")
    return ReleaseFiles({path: bytes(content) for path, content in rows})


async def get_release(db: Database, release_id: str) -> Release:
    async with db.session() as session:
        release = await session.get(Release, release_id)
    if release is None:
        raise ReleaseNotFound(f"no release {release_id!r}")
    return release


async def active_activation(session: AsyncSession) -> ReleaseActivation | None:
    """The newest activation: its release is the active one."""
    return await session.scalar(
        select(ReleaseActivation).order_by(ReleaseActivation.id.desc()).limit(1)
    )


async def active_release_id(db: Database) -> str | None:
    """The id of the one active release; None before any release was activated."""
    async with db.session() as session:
        return await session.scalar(
            select(ReleaseActivation.release_id).order_by(ReleaseActivation.id.desc()).limit(1)
        )


async def record_check(
    db: Database, release_id: str, *, actor: str, passed: bool, report: dict[str, Any]
) -> None:
    """Store a check's outcome on the release (the last check counts)."""
    async with db.session() as session:
        release = await session.get(Release, release_id)
        if release is None:
            raise ReleaseNotFound(f"no release {release_id!r}")
        release.check_status = "passed" if passed else "failed"
        release.check_report = report
        release.checked_by = actor[:64]
        release.checked_at = datetime.now(UTC)
        add_audit_entry(
            session,
            actor,
            RELEASE_CHECKED,
            release_id,
            {"passed": passed, "problems": len(report.get("problems", []))},
        )


async def record_backtest(
    db: Database, release_id: str, *, actor: str, backtest: dict[str, Any]
) -> None:
    """Store a backtest's numbers on the release (the last backtest counts)."""
    async with db.session() as session:
        release = await session.get(Release, release_id)
        if release is None:
            raise ReleaseNotFound(f"no release {release_id!r}")
        release.backtest = backtest
        release.backtested_at = datetime.now(UTC)
        add_audit_entry(
            session,
            actor,
            RELEASE_BACKTESTED,
            release_id,
            {key: backtest[key] for key in ("against", "sample", "days") if key in backtest},
        )


async def record_activation(
    db: Database,
    release_id: str,
    *,
    actor: str,
    kind: str,
    approved: bool,
    details: dict[str, Any] | None = None,
) -> Activation:
    """Make `release_id` the active release (the gates are the caller's: lifecycle.py)."""
    now = datetime.now(UTC)
    async with db.session() as session:
        release = await session.get(Release, release_id)
        if release is None:
            raise ReleaseNotFound(f"no release {release_id!r}")
        current = await active_activation(session)
        previous = current.release_id if current is not None else None
        if approved:
            release.approved_by = actor[:64]
            release.approved_at = now
            add_audit_entry(session, actor, RELEASE_APPROVED, release_id, details or {}, at=now)
        row = ReleaseActivation(
            release_id=release_id,
            previous_release_id=previous,
            kind=kind,
            activated_by=actor[:64],
            activated_at=now,
        )
        session.add(row)
        action = RELEASE_ROLLED_BACK if kind == ROLLBACK else RELEASE_ACTIVATED
        add_audit_entry(
            session, actor, action, release_id, {"previous": previous, **(details or {})}, at=now
        )
    return Activation(release_id, previous, kind, actor[:64], now)


async def record_refusal(db: Database, release_id: str, *, actor: str, reason: str) -> None:
    """Audit an activation that a gate refused."""
    async with db.session() as session:
        add_audit_entry(session, actor, RELEASE_REFUSED, release_id, {"reason": reason})


async def list_releases(db: Database, limit: int = 50) -> list[ReleaseSummary]:
    """The newest releases first, each with every activation of it."""
    async with db.session() as session:
        releases: Sequence[Release] = list(
            await session.scalars(
                select(Release).order_by(Release.proposed_at.desc(), Release.id).limit(limit)
            )
        )
        ids = [release.id for release in releases]
        activations = list(
            await session.scalars(
                select(ReleaseActivation)
                .where(ReleaseActivation.release_id.in_(ids))
                .order_by(ReleaseActivation.id)
            )
        )
        current = await active_activation(session)
    by_release: dict[str, list[Activation]] = {}
    for row in activations:
        by_release.setdefault(row.release_id, []).append(
            Activation(
                row.release_id,
                row.previous_release_id,
                row.kind,
                row.activated_by,
                row.activated_at,
            )
        )
    return [
        ReleaseSummary(
            id=release.id,
            note=release.note,
            proposed_by=release.proposed_by,
            proposed_at=release.proposed_at,
            check_status=release.check_status,
            checked_by=release.checked_by,
            checked_at=release.checked_at,
            backtested_at=release.backtested_at,
            approved_by=release.approved_by,
            approved_at=release.approved_at,
            activations=tuple(by_release.get(release.id, ())),
            active=current is not None and current.release_id == release.id,
        )
        for release in releases
    ]


async def previous_release_id(db: Database) -> str | None:
    """The release that was active before the active one (what a rollback restores)."""
    async with db.session() as session:
        current = await active_activation(session)
    return None if current is None else current.previous_release_id

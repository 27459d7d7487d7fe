"""Who gets a piece of work: the customer's account manager, a team member, or a named person.

A target is written in rules (`notify: ... params: {assign_to: ...}`) and used by journeys:

- `account_manager`: the customer's own; a customer without one gets one from the sales
  roster (`careflow/teams.py`), recorded on the customer and audited, so the same person
  keeps the customer.
- `team:<name>`: a member of that team's roster on duty now (all members when nobody
  is), by the team's strategy: `round_robin` gives the member after the one who got the
  team's last task, `least_loaded` the member with the fewest open or assigned tasks
  (ties in roster order). Both are read from the `tasks` table, so every worker agrees
  and nothing else needs to be stored.
- `person:<name>`: that roster member.

`due_in` (`4h`, `30m`, parsed by `careflow/assign_targets.py`) is counted in business
hours (`careflow/business_hours.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.assign_targets import ACCOUNT_MANAGER, PERSON_PREFIX, TEAM_PREFIX, target_problem
from careflow.staffwork.states import ACTIVE
from careflow.store import AuditEntry, Customer, Task
from careflow.teams import ACCOUNT_MANAGER_TEAM, Member, Team, TeamsConfig

# The audit action when careflow gives a customer an account manager.
ACCOUNT_MANAGER_ASSIGNED = "account_manager_assigned"
SYSTEM_ACTOR = "careflow"


class AssignmentError(ValueError):
    """A target careflow cannot resolve (an unknown team or person in the rosters)."""


@dataclass(frozen=True)
class Assignee:
    """Who the work goes to, and whether that is one person (else a shared address)."""

    address: str
    person: bool


async def pick_member(session: AsyncSession, team: Team, now: datetime) -> Member:
    """The member of `team` who gets the next piece of work (see the module docstring)."""
    candidates = team.on_duty(now) or list(team.members)
    addresses = [member.address for member in team.members]
    if team.strategy == "least_loaded":
        rows = await session.execute(
            select(Task.assignee, func.count())
            .where(Task.assignee.in_(addresses), Task.status.in_(ACTIVE))
            .group_by(Task.assignee)
        )
        load = {str(address): int(count) for address, count in rows.all()}
        return min(candidates, key=lambda m: (load.get(m.address, 0), team.members.index(m)))
    last = await session.scalar(
        select(Task.assignee)
        .where(Task.assignee.in_(addresses))
        .order_by(Task.created_at.desc(), Task.id.desc())
        .limit(1)
    )
    start = addresses.index(last) + 1 if last in addresses else 0
    ordered = team.members[start:] + team.members[:start]
    return next(member for member in ordered if member in candidates)


async def resolve_target(
    session: AsyncSession,
    target: str,
    *,
    customer: Customer | None,
    teams: TeamsConfig,
    now: datetime,
    fallback_teams: dict[str, str],
) -> Assignee | None:
    """The assignee for `target`; None when there is nobody to give it to.

    `fallback_teams` are the team addresses of `journeys.yaml` (`staff.teams`), used for a
    team without a roster. Raises `AssignmentError` for an unknown person.
    """
    if target == ACCOUNT_MANAGER:
        if customer is None:
            return None
        return await account_manager(session, customer, teams=teams, now=now)
    if target.startswith(TEAM_PREFIX):
        name = target.removeprefix(TEAM_PREFIX)
        team = teams.teams.get(name)
        if team is None:
            address = fallback_teams.get(name)
            return Assignee(address, person=False) if address else None
        return Assignee((await pick_member(session, team, now)).address, person=True)
    if target.startswith(PERSON_PREFIX):
        name = target.removeprefix(PERSON_PREFIX)
        member = teams.person(name)
        if member is None:
            raise AssignmentError(f"no one called {name!r} is on a roster in teams.yaml")
        return Assignee(member.address, person=True)
    raise AssignmentError(target_problem(target) or f"unknown target {target!r}")


async def account_manager(
    session: AsyncSession, customer: Customer, *, teams: TeamsConfig, now: datetime
) -> Assignee | None:
    """The customer's account manager; one from the sales roster (recorded on the customer,
    audited) when they have none; None when there is no sales roster either."""
    if customer.account_manager:
        return Assignee(customer.account_manager, person=True)
    team = teams.teams.get(ACCOUNT_MANAGER_TEAM)
    if team is None:
        return None
    member = await pick_member(session, team, now)
    customer.account_manager, customer.updated_at = member.address, now
    # Written as the audit log's row directly: this runs in activities, below the console.
    session.add(
        AuditEntry(
            at=now,
            actor=SYSTEM_ACTOR,
            action=ACCOUNT_MANAGER_ASSIGNED,
            target=f"customer {customer.external_id}"[:300],
            details={"account_manager": member.address, "team": ACCOUNT_MANAGER_TEAM},
        )
    )
    return Assignee(member.address, person=True)

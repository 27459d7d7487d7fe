"""How rules and journeys name whom work goes to, and when it is due: the written forms.

Pure parsing, so the rule parser (rules/parser.py) can check them without the store;
resolving a target to a person is `careflow/assignment.py`'s job.
"""

from __future__ import annotations

import re

ACCOUNT_MANAGER = "account_manager"
TEAM_PREFIX = "team:"
PERSON_PREFIX = "person:"
# A due time in business hours: `4h`, `1.5h`, `30m`.
_DUE_IN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([hm])\s*$")


def target_problem(value: str) -> str | None:
    """Why `value` is not a target, or None when it is one."""
    if value == ACCOUNT_MANAGER:
        return None
    for prefix in (TEAM_PREFIX, PERSON_PREFIX):
        if value.startswith(prefix) and value.removeprefix(prefix).strip():
            return None
    return (
        f"expected account_manager, team:<name> or person:<name>, not {value!r} "
        "(teams and their people are in teams.yaml)"
    )


def due_in_hours(value: str) -> float:
    """`4h` -> 4.0, `30m` -> 0.5; ValueError naming the expected form."""
    found = _DUE_IN.match(value)
    if not found or float(found.group(1)) <= 0:
        raise ValueError(f"expected business time like 4h or 30m, not {value!r}")
    amount = float(found.group(1))
    return amount if found.group(2) == "h" else amount / 60

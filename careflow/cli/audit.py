"""Writing the CLI's state changes to the audit log, with the operating-system user.

Whoever runs `careflow` on the server acts outside the console's logins, so the audit
log names them by the account the process runs as (`cli:<user>`), read from the
process's user id rather than from `$USER` or `$LOGNAME`, which anyone can set. When
the command runs under sudo, the invoking account is kept in the entry's details.
"""

from __future__ import annotations

import os
import pwd
from typing import Any

from careflow.console.audit import CLI_ACTOR, record_audit
from careflow.store import Database

# Actions of the CLI, as the console's audit page shows and filters them (the `users`
# commands use the console's own USER_ADDED, USER_REMOVED and USER_REKEYED).
CUSTOMER_ERASED = "customer_erased"
JOURNEYS_CANCELLED = "journeys_cancelled"
DATA_IMPORTED = "data_imported"
EVENT_RECORDED = "event_recorded"
SCAN_STARTED = "scan_started"


def os_user() -> str:
    """The account this process runs as (its user id when the account has no name)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # no passwd entry (a container running as an arbitrary uid)
        return f"uid {uid}"


def cli_actor() -> str:
    """`cli:<operating-system user>`: who ran the command, as the audit log names them."""
    return f"{CLI_ACTOR}:{os_user()}"


def cli_details(command: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """An entry's details: the command, and the account that ran sudo when there is one."""
    found: dict[str, Any] = {"command": command, **(details or {})}
    invoker = os.environ.get("SUDO_USER")
    if invoker:
        found["sudo_user"] = invoker[:64]
    return found


async def audit_cli_action(
    db: Database,
    action: str,
    target: str | None,
    *,
    command: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Write one CLI state change to the audit log, in a transaction of its own."""
    await record_audit(db, cli_actor(), action, target, cli_details(command, details))

"""Setup mistakes every command can meet, said in one line instead of a traceback.

A setting in the environment that does not parse, or a store that cannot be reached,
is the operator's to fix, not a bug: the command names the variable to check and
exits 2, whichever command it was. Connection problems with Temporal are already one
line (careflow/temporal_connection.py); these are the rest.
"""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError

from careflow.config import Settings

# Where a store connection fails: the driver's socket error, or SQLAlchemy's wrapping.
STORE_UNREACHABLE = (ConnectionError, OperationalError, InterfaceError)


def setup_problem(error: BaseException) -> str | None:
    """One line for a setup mistake, or None when `error` is something else."""
    if isinstance(error, ValidationError) and error.title == Settings.__name__:
        return "; ".join(_setting_problem(problem) for problem in error.errors())
    if isinstance(error, STORE_UNREACHABLE):
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        return f"cannot reach the store: {reason} — check CAREFLOW_DATABASE_URL"
    return None


def _setting_problem(problem: object) -> str:
    assert isinstance(problem, dict)
    field = str(problem["loc"][0]) if problem.get("loc") else ""
    alias = (
        Settings.model_fields[field].validation_alias if field in Settings.model_fields else None
    )
    variable = alias if isinstance(alias, str) else f"CAREFLOW_{field.upper()}"
    return f"{variable}: {problem['msg']} (got {problem.get('input')!r})"

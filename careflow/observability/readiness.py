"""Readiness: do the store and Temporal answer, each within a bounded time?"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import text
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from careflow.store import Database

# Each dependency gets this long to answer; a readiness probe must answer in time
# for the orchestrator's own timeout (usually 1-5 s), whatever hangs behind it.
PROBE_TIMEOUT_SECONDS = 2.0


@dataclass
class Readiness:
    """Which dependencies answered; `problems` says why each other one did not."""

    ready: bool
    checks: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


async def check_readiness(
    db: Database, client: Client, *, probe_seconds: float = PROBE_TIMEOUT_SECONDS
) -> Readiness:
    """Probe the store (`SELECT 1`) and Temporal (GetSystemInfo) at the same time,
    each for at most `probe_seconds`."""
    probes: dict[str, Callable[[], Awaitable[object]]] = {
        "store": lambda: _store_answers(db),
        "temporal": lambda: _temporal_answers(client, probe_seconds),
    }
    outcomes = await asyncio.gather(*(_bounded(probe, probe_seconds) for probe in probes.values()))
    result = Readiness(ready=True)
    for name, problem in zip(probes, outcomes, strict=True):
        if problem is None:
            result.checks[name] = "ok"
        else:
            result.ready = False
            result.checks[name] = "unavailable"
            result.problems[name] = problem
    return result


async def _bounded(probe: Callable[[], Awaitable[object]], seconds: float) -> str | None:
    """None when the probe answered in time, else what went wrong (no stack trace)."""
    try:
        async with asyncio.timeout(seconds):
            await probe()
    except TimeoutError:
        return f"no answer within {seconds:g} s"
    except Exception as error:  # any failure means "not ready"; the reason is shown
        return f"{type(error).__name__}: {error}".strip()[:300]
    return None


async def _store_answers(db: Database) -> None:
    async with db.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _temporal_answers(client: Client, seconds: float) -> None:
    # GetSystemInfo needs no namespace permission, so it works with an API key
    # scoped to one namespace as well as on a self-hosted cluster.
    await client.workflow_service.get_system_info(
        GetSystemInfoRequest(), retry=False, timeout=timedelta(seconds=seconds)
    )

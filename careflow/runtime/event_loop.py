"""The event loop a service process runs on: uvloop's where it is installed.

careflow's services are I/O loops: HTTP requests in, SMTP and webhook exchanges out,
and a SQLite connection thread and Temporal's core handing results back to the loop
several dozen times per event. asyncio's own loop pays a write to and a read from a
self-pipe for each of those hand-backs, and Python code for every socket's reads and
writes; uvloop (libuv) does both in C and coalesces the wake-ups. Measured on the
end-to-end path, it took a few milliseconds of a `careflow up` process's CPU per
complaint on either event path (docs/benchmarks.md, issue 21 item 2, tenth round).

`CAREFLOW_EVENT_LOOP=asyncio` (a setting, careflow/config.py) keeps asyncio's loop
(to rule the loop out when chasing a fault); on platforms without uvloop (Windows)
asyncio's is the only one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Literal

EventLoopName = Literal["uvloop", "asyncio"]


def chosen_loop(wanted: EventLoopName) -> EventLoopName:
    """The loop wanted (the `event_loop` setting), unless it is uvloop and uvloop is
    not installed: asyncio's then."""
    if wanted == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401  (only whether it imports)
    except ImportError:
        return "asyncio"
    return "uvloop"


def run_on(loop: EventLoopName, main: Coroutine[Any, Any, None]) -> None:
    """`asyncio.run(main)`, on the named loop."""
    if loop == "uvloop":
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)

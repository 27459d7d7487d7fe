"""What the hypothesis-driven tests share.

hypothesis drives synchronous test functions, while the store and Temporal
connections belong to the session's event loop. These tests therefore run
synchronously and hand each coroutine to that loop, which is idle between
asynchronous tests, with `loop.run_until_complete`.
"""

from __future__ import annotations

import asyncio

import pytest


@pytest.fixture
async def loop() -> asyncio.AbstractEventLoop:
    """The session's event loop, which owns the store and Temporal connections."""
    return asyncio.get_running_loop()

"""A service's parts run until a stop signal or one ends, the collector set for a long run."""

from __future__ import annotations

import asyncio
import gc

import pytest

from careflow.gc_tuning import YOUNG_GENERATION_THRESHOLD
from careflow.runtime.service import run_until_stopped


async def test_while_serving_the_start_up_heap_is_frozen_and_afterwards_put_back() -> None:
    before = gc.get_threshold()
    stop = asyncio.Event()
    seen: dict[str, int | tuple[int, ...]] = {}
    shut_down: list[str] = []

    async def serve() -> None:
        seen["frozen"] = gc.get_freeze_count()
        seen["threshold"] = gc.get_threshold()
        stop.set()
        await asyncio.Event().wait()  # runs until cancelled, like a server

    async def shutdown() -> None:
        shut_down.append("done")
        serving.cancel()

    serving = asyncio.ensure_future(serve())
    await run_until_stopped(stop, {"the part": serving}, shutdown)

    assert seen["frozen"] != 0  # objects made before serving are out of collections
    assert seen["threshold"] == (YOUNG_GENERATION_THRESHOLD, *before[1:])
    assert shut_down == ["done"]
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


async def test_a_part_that_fails_is_raised_and_the_collector_is_put_back() -> None:
    before = gc.get_threshold()

    async def fail() -> None:
        raise OSError("port 8080 is taken")

    async def shutdown() -> None:
        return None

    with pytest.raises(OSError, match="port 8080 is taken"):
        await run_until_stopped(asyncio.Event(), {"the HTTP API": fail()}, shutdown)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0

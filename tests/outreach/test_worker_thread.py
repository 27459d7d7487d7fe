"""The SQLite ledger's thread: results and errors come back, a dropped call never runs."""

from __future__ import annotations

import asyncio
import threading
from functools import partial

import pytest

from careflow.outreach.ledger import _WorkerThread


async def test_results_and_errors_come_back_in_order() -> None:
    worker = _WorkerThread("test-ledger")
    ran_in: list[str] = []

    def work(value: int) -> int:
        ran_in.append(threading.current_thread().name)
        return value * 2

    def broken() -> int:
        raise LookupError("no such row")

    try:
        results = await asyncio.gather(*(worker.run(partial(work, n)) for n in range(5)))
        assert results == [0, 2, 4, 6, 8]
        with pytest.raises(LookupError, match="no such row"):
            await worker.run(broken)
        assert await worker.run(partial(work, 21)) == 42
    finally:
        await worker.stop()
    assert set(ran_in) == {"test-ledger"}


async def test_a_call_its_caller_stopped_waiting_for_is_skipped() -> None:
    worker = _WorkerThread("test-ledger")
    release = threading.Event()
    ran: list[str] = []
    try:
        busy = worker.run(lambda: release.wait(10))
        dropped = worker.run(lambda: ran.append("dropped"))
        dropped.cancel()
        release.set()
        assert await busy
        await worker.run(lambda: ran.append("next"))
    finally:
        await worker.stop()
    assert ran == ["next"]


async def test_stop_ends_the_thread_after_what_was_handed_over() -> None:
    worker = _WorkerThread("test-ledger-stop")
    done: list[int] = []
    pending = worker.run(lambda: done.append(1))
    thread = worker._thread
    assert thread is not None
    await worker.stop()
    await pending
    assert done == [1]
    assert not thread.is_alive()

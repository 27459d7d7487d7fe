"""Counters inside a `careflow up` started by bench/tools/inside_event_path.py.

Python imports this module at start-up when its folder is first on PYTHONPATH (the
tool puts it there, for the process it measures only). Nothing is counted until
the first SIGUSR1, so start-up and warm-up stay out; the second SIGUSR1 writes the
counts to CAREFLOW_COUNTS_FILE as JSON and stops counting. No behaviour changes:
each counter wraps a call and passes it on.
"""

from __future__ import annotations

import collections
import gc
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from typing import Any

_counts: collections.Counter[str] = collections.Counter()
_undo: list[Any] = []
# Frames of these files are skipped when naming who checked a file.
_PLUMBING = ("pathlib.py", "genericpath.py", "config_files.py", "<frozen genericpath>")


def _caller() -> str:
    frame = sys._getframe(3)  # past this function, the key and the wrapper
    while frame.f_back is not None and frame.f_code.co_filename.endswith(_PLUMBING):
        frame = frame.f_back
    path = frame.f_code.co_filename
    short = path.split("/site-packages/")[-1].split("/careflow/")[-1]
    return f"{short}:{frame.f_code.co_name}"


def _wrap(owner: Any, name: str, key: Any) -> None:
    original = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        _counts[key(*args, **kwargs)] += 1
        return original(*args, **kwargs)

    setattr(owner, name, counted)
    _undo.append(lambda: setattr(owner, name, original))


def _statement(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    _counts["sql " + re.sub(r"\s+", " ", statement)[:110]] += 1


class _CollectionClock:
    """Time spent in the cyclic garbage collector, by generation (gc.callbacks)."""

    def __init__(self) -> None:
        self.started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        generation = info["generation"]
        _counts[f"gc collections: generation {generation}"] += 1
        # Microseconds, so the counts stay integers like every other counter.
        elapsed_us = round((time.perf_counter() - self.started) * 1_000_000)
        _counts[f"gc microseconds: generation {generation}"] += elapsed_us


def _name_threads() -> None:
    """Give each Python thread an OS name (its target's, shortened), so that the
    tool can split the process's CPU time by thread from /proc."""
    for thread in threading.enumerate():
        target = getattr(getattr(thread, "_target", None), "__name__", "") or ""
        if thread is threading.main_thread():
            name = "main"
        elif "connection_worker" in target:
            name = "aiosqlite"
        elif thread.name.startswith("ThreadPoolExecutor"):
            name = "pool"
        else:
            name = thread.name
        try:
            with open(f"/proc/self/task/{thread.native_id}/comm", "w") as comm:
                comm.write(name[:15])
        except OSError:
            pass


def _start() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from careflow.outreach import ledger
    from careflow.store.sqlite_connection import FewerHopsConnection

    _wrap(os, "stat", lambda *a, **k: "file check " + _caller())
    _wrap(
        logging.Logger,
        "handle",
        lambda logger, record: f"log {record.levelname} {logger.name}: {record.msg}"[:110],
    )
    _wrap(FewerHopsConnection, "_execute", lambda *a, **k: "hand-off to aiosqlite's thread")
    _wrap(ledger._WorkerThread, "run", lambda *a, **k: "hand-off to the ledger's thread")
    event.listen(Engine, "before_cursor_execute", _statement)
    _undo.append(lambda: event.remove(Engine, "before_cursor_execute", _statement))
    clock = _CollectionClock()
    gc.callbacks.append(clock)
    _undo.append(lambda: gc.callbacks.remove(clock))
    _name_threads()


def _stop() -> None:
    _name_threads()
    while _undo:
        _undo.pop()()
    with open(os.environ["CAREFLOW_COUNTS_FILE"], "w") as file:
        json.dump(dict(_counts), file)


def _toggle(*_: Any) -> None:
    (_stop if _undo else _start)()


if os.environ.get("CAREFLOW_COUNTS_FILE"):
    signal.signal(signal.SIGUSR1, _toggle)

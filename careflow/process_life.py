"""Tying a process's life to its parent's, and finding what a process started.

Linux only, and best effort elsewhere: a killed careflow must not leave Temporal
servers or worker processes running with nobody to stop them.
"""

from __future__ import annotations

import ctypes
import signal
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """From now on this process gets SIGTERM when the thread that started it ends, for
    any reason, SIGKILL included (the kernel sends it). Run it first thing in a child:
    in `preexec_fn`, or as a process pool's or manager's `initializer`."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the caller's own shutdown path is all there is


def descendants(pid: int) -> list[int]:
    """The processes `pid` started and those they started, children first; none when
    /proc cannot tell (not Linux, or `pid` is gone)."""
    found: list[int] = []
    waiting = [pid]
    while waiting:
        parent = waiting.pop()
        tasks = Path(f"/proc/{parent}/task")
        try:
            threads = list(tasks.iterdir())
        except OSError:
            continue
        for thread in threads:
            try:
                children = (thread / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                found.append(child)
                waiting.append(child)
    return found

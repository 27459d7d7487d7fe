"""Child processes that die with careflow, even when careflow is killed with SIGKILL."""

from __future__ import annotations

import ctypes
import signal
import subprocess
from collections.abc import Sequence
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


def start_child(args: Sequence[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start `args` with output appended to `log_path`, tied to this process's life."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            list(args),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # The kernel sends it SIGTERM when careflow ends for any reason (SIGKILL
            # too), so a killed `careflow up` never leaves an orphan Temporal server.
            preexec_fn=die_with_parent,
            # Its own process group: Ctrl-C in a terminal (or `timeout`) signals the
            # whole foreground group, and the server must outlive the worker's graceful
            # shutdown (in-flight sends report to it); careflow stops it afterwards.
            process_group=0,
        )


def stop_child(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM, wait, then SIGKILL: the child is gone when this returns."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

"""How a careflow command ends its process once it has said what it had to say.

temporalio's client and worker run on a Rust (tokio) runtime whose threads outlive
the command's event loop and call into Python when they wake. When one wakes while
the interpreter is tearing itself down, the process dies with SIGSEGV or SIGABRT
after the command has finished: a scan that failed cleanly with exit code 2 exits
-11 instead, and a service manager or script reading the code is misled
(temporalio/sdk-python#300 describes the same race).

So a command that loaded that runtime ends the process itself, doing first what
the interpreter's own exit does that anyone could notice (in CPython's order): it
waits for the threads that are not daemons, runs the exit handlers (log files
flushed, temporary folders removed), flushes stdout and stderr, and then leaves
with `os._exit`, which tears nothing down. A command that never loaded it ends
with `SystemExit`, as any Python program does.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn

# The extension module holding the Rust runtime; importing temporalio's client or
# worker loads it.
TEMPORAL_CORE_MODULE = "temporalio.bridge.temporal_sdk_bridge"


def end_process(code: int) -> NoReturn:
    """Exit with `code`; past interpreter teardown when Temporal's runtime is loaded."""
    if TEMPORAL_CORE_MODULE not in sys.modules:
        raise SystemExit(code)
    _wait_for_threads()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe or stream: there is nobody left to say anything to.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def exit_status(stop: SystemExit) -> tuple[int, str | None]:
    """The status `SystemExit(stop.code)` would give the process, and the message
    Python would print first (a code that is not a number), as Python maps them."""
    if stop.code is None:
        return 0, None
    if isinstance(stop.code, int):
        return stop.code, None
    return 1, str(stop.code)


def _wait_for_threads() -> None:
    """Join the threads that are not daemons, as the interpreter does before exiting."""
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon and thread.is_alive():
            thread.join()

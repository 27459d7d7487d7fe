"""How a careflow command's process ends: with the command's exit code and all it
said, and, once Temporal's Rust runtime is loaded, without the interpreter teardown
that races that runtime's threads (a clean exit 2 once came out as SIGSEGV)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from careflow.cli.process_end import exit_status
from tests.subprocesses import run_careflow, run_python

# A command's last moments: a thread that is not a daemon still writing, an exit
# handler, output left in the pipe's buffer, and an object whose finalizer only runs
# if the interpreter tears down its modules. `end_process(3)` ends it.
_COMMAND = """
import atexit, sys, threading
if sys.argv[1] == "temporal":
    from temporalio.runtime import Runtime
    Runtime.default()  # the Rust runtime and its threads
from careflow.cli.process_end import end_process

class TornDown:
    def __del__(self):
        print("modules torn down")
kept = TornDown()

go = threading.Event()
def finish_writing():
    go.wait()
    print("the thread's last line")
threading.Thread(target=finish_writing).start()
atexit.register(print, "exit handlers ran")
sys.stdout.write("the command's output")  # a pipe: buffered, no newline
go.set()
end_process(3)
"""


def _end(runtime: str) -> subprocess.CompletedProcess[str]:
    return run_python("-c", _COMMAND, runtime, timeout=60)


def test_a_command_that_loaded_temporal_ends_with_all_it_said_and_no_teardown() -> None:
    ended = _end("temporal")
    assert ended.returncode == 3, ended.stderr
    assert "the command's output" in ended.stdout
    assert "the thread's last line" in ended.stdout
    assert ended.stdout.rstrip().endswith("exit handlers ran")
    assert "modules torn down" not in ended.stdout
    assert ended.stderr == ""


def test_a_command_that_never_loaded_temporal_exits_as_python_does() -> None:
    ended = _end("plain")
    assert ended.returncode == 3, ended.stderr
    assert "the command's output" in ended.stdout
    assert "the thread's last line" in ended.stdout
    assert "exit handlers ran" in ended.stdout
    assert "modules torn down" in ended.stdout


@pytest.mark.parametrize(
    ("arguments", "code", "said"),
    [
        (["--version"], 0, "careflow "),
        (["no-such-command"], 2, "No such command 'no-such-command'"),
        # Loads Temporal's runtime, then refuses: the one line and code 2 survive.
        (["scan"], 2, "careflow: cannot reach Temporal at 127.0.0.1:1: connection refused"),
    ],
)
def test_the_console_entry_keeps_each_command_s_exit_code_and_words(
    tmp_path: Path, arguments: list[str], code: int, said: str
) -> None:
    ended = run_careflow(
        *arguments,
        env={"CAREFLOW_HOME": str(tmp_path), "TEMPORAL_ADDRESS": "127.0.0.1:1"},
        timeout=60,
    )
    assert ended.returncode == code, ended.stderr
    assert said in ended.stdout + ended.stderr


def test_an_exit_with_a_message_is_said_and_ends_with_1() -> None:
    assert exit_status(SystemExit("careflow: the store is locked")) == (
        1,
        "careflow: the store is locked",
    )
    assert exit_status(SystemExit(None)) == (0, None)
    assert exit_status(SystemExit(2)) == (2, None)

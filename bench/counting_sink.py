"""An SMTP sink that parses every message and keeps only a count, in this process or its own.

    python -m bench.counting_sink   # prints its port, then answers "take" on stdin with a count

`CountingSink` runs in the calling process (aiosmtpd's thread), as the campaign
bench uses it; `SinkThread` is that, with `SinkProcess`'s asynchronous interface.
`SinkProcess` runs the same sink as a child process: the send bench
measures careflow's send step and a bare aiosmtplib loop against it, and a sink in
the measuring process parses every message in a thread that holds the interpreter
lock much of the time. Every call the measured code makes that lets go of the lock
(a socket write, a hand-off to the store's thread) then waits to take it back, up
to the 5 ms switch interval, so the measured rate depended on how often the code
let go of the lock rather than on the work it did (docs/benchmarks.md, issue 21,
twelfth round). A mail server is another process in production, and here too.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from aiosmtpd.smtp import Envelope, Session

from tests.smtp_sink import SmtpSink, _Collector


class _CountingCollector(_Collector):
    """Parses every message as the tests' sink does, then keeps only a count."""

    sink: CountingSink

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        with self.sink.lock:
            self.sink.count += len(self.sink.messages)
            self.sink.messages.clear()
        return reply


class CountingSink(SmtpSink):
    """The tests' SMTP sink without its memory: thousands of kept messages would make
    every garbage collection walk them, a cost that grows with the run and falls
    mostly on whichever side allocates more."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.controller.handler = _CountingCollector(self)

    def take_count(self) -> int:
        """Messages arrived since the last call."""
        with self.lock:
            count, self.count = self.count, 0
        return count


# The child's side of the conversation: one line each way.
_TAKE = b"take\n"


def serve_until_stdin_closes() -> None:
    """The child: a CountingSink until its standard input closes. It writes its port
    as the first line, then a count for every "take" line it reads."""
    sink = CountingSink()
    sink.start()
    try:
        print(sink.port, flush=True)
        for line in sys.stdin.buffer:
            if line != _TAKE:
                raise SystemExit(f"counting sink: expected 'take', got {line!r}")
            print(sink.take_count(), flush=True)
    finally:
        sink.stop()


class SinkThread:
    """A CountingSink in this process's thread, used as a `SinkProcess` is: the send
    bench's `--sink thread`, how it measured before the twelfth round of issue 21."""

    def __init__(self) -> None:
        self._sink = CountingSink()
        self.port = 0

    async def start(self) -> None:
        self._sink.start()
        self.port = self._sink.port

    async def take_count(self) -> int:
        """Messages the sink accepted since the last call."""
        return self._sink.take_count()

    async def stop(self) -> None:
        self._sink.stop()


class SinkProcess:
    """A CountingSink in a child process: `start()` returns once it listens."""

    def __init__(self) -> None:
        self._child: asyncio.subprocess.Process | None = None
        self.port = 0

    async def start(self) -> None:
        self._child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.counting_sink",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        self.port = int(await self._line())

    async def take_count(self) -> int:
        """Messages the sink accepted since the last call."""
        child = self._running()
        assert child.stdin is not None
        child.stdin.write(_TAKE)
        await child.stdin.drain()
        return int(await self._line())

    async def stop(self) -> None:
        if self._child is None:
            return
        child, self._child = self._child, None
        assert child.stdin is not None
        child.stdin.close()
        if await child.wait() != 0:
            raise RuntimeError(f"the counting sink exited with code {child.returncode}")

    def _running(self) -> asyncio.subprocess.Process:
        if self._child is None:
            raise RuntimeError("the counting sink is not running: call start() first")
        return self._child

    async def _line(self) -> bytes:
        child = self._running()
        assert child.stdout is not None
        line = await child.stdout.readline()
        if not line:
            raise RuntimeError(f"the counting sink ended early (exit code {await child.wait()})")
        return line


if __name__ == "__main__":
    serve_until_stdin_closes()

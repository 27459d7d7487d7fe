"""careflow up's capture endpoint in a process of its own, for the end-to-end bench.

    python -m bench.capture_endpoint OUTBOX PORT

The endpoint stands in for the systems that webhooks and staff robots reach (a CRM,
a WeCom group); in production those run elsewhere. The bench runs it outside the
careflow processes it measures, as it runs the SMTP sink, so that none of the
receiving end's CPU is counted as careflow's; each `careflow up` is pointed at it
with `CAREFLOW_CAPTURE_URL`.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import httpx

from careflow.runtime.http_capture import CaptureHttpServer
from careflow.runtime.processes import start_child, stop_child


async def serve(outbox: Path, port: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    server = CaptureHttpServer(outbox, port)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop()


class CaptureEndpoint:
    """The endpoint as a child process: `start()` returns once it answers."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.process = start_child(
            [sys.executable, "-m", "bench.capture_endpoint", str(folder / "outbox"), str(port)],
            folder / "capture.log",
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, within_seconds: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_seconds
        async with httpx.AsyncClient() as http:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the capture endpoint exited; see {self.folder}")
                try:
                    await http.get(f"{self.url}/")  # any answer, a 404 too: it listens
                    return
                except httpx.TransportError:
                    if loop.time() > deadline:
                        raise TimeoutError("the capture endpoint did not answer") from None
                    await asyncio.sleep(0.1)

    def stop(self) -> None:
        stop_child(self.process)


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1]), int(sys.argv[2])))

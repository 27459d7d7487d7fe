"""A loopback TCP proxy that can make a server vanish: refuse new connections and cut
the open ones, then come back on the same port.

It runs its own event loop in a thread, so a test that blocks (waiting for a child
process, say) never stalls the traffic it carries.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Coroutine
from typing import Any

from tests.smtp_sink import free_port

_CHUNK = 64 * 1024


class TcpProxy:
    """Forwards 127.0.0.1:`port` to `target_host`:`target_port` until `cut()`.

    With `tls`, it terminates TLS with that server context (as a load balancer in
    front of a Temporal cluster does) and forwards the plaintext.
    """

    def __init__(
        self, target_host: str, target_port: int, *, tls: ssl.SSLContext | None = None
    ) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.tls = tls
        self.port = free_port()
        self.cuts = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def start(self) -> None:
        self._thread.start()
        self._call(self._listen())

    def stop(self) -> None:
        self._call(self._close_everything())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def cut(self) -> None:
        """The server is gone: connecting is refused and every open connection is reset."""
        self._call(self._close_everything())
        self.cuts += 1

    def restore(self) -> None:
        """The server is back on the same port."""
        self._call(self._listen())

    def _call(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        # reuse_address (asyncio's default on Unix) lets the port be bound again at once.
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self.tls)

    async def _close_everything(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._open):
            # abort() sends a reset, as a crashed server's host would.
            writer.transport.abort()
        self._open.clear()
        if server is not None:
            await server.wait_closed()

    async def _serve(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        try:
            upstream_reader, upstream = await asyncio.open_connection(
                self.target_host, self.target_port
            )
        except OSError:
            client.transport.abort()
            return
        self._open.update((client, upstream))
        await asyncio.gather(
            self._pipe(client_reader, upstream),
            self._pipe(upstream_reader, client),
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(_CHUNK):
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._open.discard(writer)
            with contextlib.suppress(OSError):
                writer.transport.abort()

"""Serving the metrics: the text for the API's `GET /metrics`, and a worker's own
HTTP listener at `CAREFLOW_METRICS_HTTP`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from threading import Thread
from wsgiref.simple_server import WSGIServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest, start_http_server

from careflow.config import Settings

log = logging.getLogger(__name__)

# The Prometheus text format's media type, for the API's response.
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST


async def metrics_text() -> bytes:
    """Every registered metric in the Prometheus text format.

    Off the event loop: collecting the SDK's metrics is a (loopback) HTTP request.
    """
    return await asyncio.to_thread(generate_latest, REGISTRY)


@dataclass
class MetricsServer:
    """A running metrics listener; `close()` stops it."""

    server: WSGIServer
    thread: Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_metrics_server(settings: Settings) -> MetricsServer | None:
    """Serve the metrics at `CAREFLOW_METRICS_HTTP` (any path answers); None when unset.

    The listener runs in a daemon thread, so a blocked event loop still answers
    scrapes (and its absence in the metrics is itself a signal).
    """
    address = settings.metrics_address
    if address is None:
        return None
    host, port = address
    server, thread = start_http_server(port, addr=host or "0.0.0.0", registry=REGISTRY)  # noqa: S104 - an empty host asks for every interface
    log.info("metrics served on %s:%d", host or "0.0.0.0", server.server_address[1])  # noqa: S104
    return MetricsServer(server, thread)

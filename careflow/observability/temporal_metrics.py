"""The Temporal SDK's own metrics, served on careflow's metrics endpoints.

The SDK's Rust core exports its metrics (workflow and activity task latencies,
slots, polls, sticky cache, client requests) through its Prometheus exporter,
which needs an HTTP listener of its own. careflow binds that listener to a private
loopback port and folds what it serves into prometheus-client's registry, so one
scrape of `GET /metrics` (API) or `CAREFLOW_METRICS_HTTP` (worker) returns
careflow's metrics and the SDK's together.

`install_temporal_runtime()` must run before the process creates its first
Temporal client: a client keeps the runtime it was created with.
"""

from __future__ import annotations

import logging
import threading
import urllib.request
from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from careflow.local_ports import free_loopback_port
from careflow.temporal_runtime import CORE_LOGGER, core_logging, set_default_runtime

log = logging.getLogger(__name__)

# A scrape waits at most this long for the SDK's exporter (it answers from memory).
SDK_SCRAPE_TIMEOUT_SECONDS = 2.0

_installed: Runtime | None = None
_install_lock = threading.Lock()


class SdkMetricsCollector(Collector):
    """Reads the SDK exporter's text on each scrape and hands its families on."""

    def __init__(self, url: str) -> None:
        self.url = url

    def describe(self) -> list[Metric]:
        # Registering must not scrape the exporter (the registry would collect() to
        # learn the names); the SDK's names never clash with careflow_*.
        return []

    def collect(self) -> Iterator[Metric]:
        try:
            # The URL is built by this module from a loopback address, never from input.
            with urllib.request.urlopen(self.url, timeout=SDK_SCRAPE_TIMEOUT_SECONDS) as answer:  # noqa: S310
                families = list(text_string_to_metric_families(answer.read().decode("utf-8")))
        except (OSError, ValueError) as error:
            # careflow's own metrics are still worth a scrape without the SDK's.
            log.warning("the Temporal SDK's metrics could not be read: %s", error)
            return
        yield from families


def install_temporal_runtime() -> Runtime:
    """Make this process's default Temporal runtime export the SDK's metrics.

    Idempotent; call it before creating any Temporal client (clients created
    earlier stay on the runtime they had and their metrics are not shown). The SDK
    core's own warnings go through Python logging, as in every careflow process
    (careflow/temporal_runtime.py), so they take careflow's log format (JSON or text).
    """
    global _installed
    with _install_lock:
        if _installed is not None:
            return _installed
        # The SDK's exporter cannot report the port it got for port 0.
        address = f"127.0.0.1:{free_loopback_port()}"
        runtime = Runtime(
            telemetry=TelemetryConfig(
                logging=core_logging(logging.getLogger(CORE_LOGGER)),
                metrics=PrometheusConfig(
                    bind_address=address,
                    # `_total` on counters and seconds for durations: the names
                    # Prometheus conventions (and prometheus-client) expect.
                    counters_total_suffix=True,
                    durations_as_seconds=True,
                ),
            )
        )
        set_default_runtime(runtime)
        REGISTRY.register(SdkMetricsCollector(f"http://{address}/metrics"))
        _installed = runtime
        return runtime

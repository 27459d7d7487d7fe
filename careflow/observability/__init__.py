"""Watching careflow run: Prometheus metrics, OpenTelemetry traces, readiness, logs.

Every process entry point (`careflow up`, and a worker or API process) calls
`observe_process(settings, service_name)` first (logging, tracing, the Temporal
runtime's metrics, in that order), then connects its Temporal client with
`interceptors=tracing_interceptors()`; a worker also calls
`start_metrics_server(settings)`. See docs/observability.md.
"""

from careflow.observability.exposition import MetricsServer, metrics_text, start_metrics_server
from careflow.observability.logs import configure_logging
from careflow.observability.process import observe_process
from careflow.observability.readiness import Readiness, check_readiness
from careflow.observability.temporal_metrics import install_temporal_runtime
from careflow.observability.tracing import (
    client_traces,
    configure_tracing,
    otlp_configured,
    tracing_interceptors,
)

__all__ = [
    "MetricsServer",
    "Readiness",
    "check_readiness",
    "client_traces",
    "configure_logging",
    "configure_tracing",
    "install_temporal_runtime",
    "metrics_text",
    "observe_process",
    "otlp_configured",
    "start_metrics_server",
    "tracing_interceptors",
]

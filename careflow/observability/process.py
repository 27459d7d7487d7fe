"""Setting up a careflow process to be watched, in the one order that works."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider

from careflow.config import Settings
from careflow.observability.logs import configure_logging
from careflow.observability.temporal_metrics import install_temporal_runtime
from careflow.observability.tracing import configure_tracing


def observe_process(settings: Settings, service_name: str) -> TracerProvider | None:
    """Logging, tracing and the Temporal SDK's metrics for this process.

    Call first thing in an entry point, before any Temporal client exists: logging
    first (the SDK core's logs are forwarded into it), then the tracer provider
    (only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; returned), then the Temporal
    runtime whose Prometheus exporter feeds `/metrics`. `service_name` names the
    process in traces (`careflow-api`, `careflow-worker`, `careflow`).
    """
    configure_logging(settings)
    provider = configure_tracing(service_name)
    install_temporal_runtime()
    return provider

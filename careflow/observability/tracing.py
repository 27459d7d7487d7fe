"""OpenTelemetry tracing: OTLP export when configured, and the Temporal interceptor.

Spans are exported over OTLP/HTTP only when the standard
`OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set;
the exporter reads the other standard variables itself (headers, timeout,
`OTEL_SERVICE_NAME`). Without it no tracer provider is installed and every span is
a no-op, but trace context still travels: a trace started by a caller's
`traceparent` header continues through the API, the workflows and the activities.

One trace follows an event: the API's request span is current while `POST /events`
starts the event's workflow, the SDK's `TracingInterceptor` carries the context in
the Temporal headers to the workflow and its activities, and the dispatcher starts
journeys from inside its activity span, so their workflows and their `send_email`
activities join the same trace.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
TRACER_NAME = "careflow"


def otlp_configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Is an OTLP endpoint for traces set in the environment?"""
    return any(environ.get(name) for name in ENDPOINT_VARIABLES)


def build_tracer_provider(service_name: str) -> TracerProvider:
    """A tracer provider exporting in batches over OTLP/HTTP to the configured endpoint.

    `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) wins over
    `service_name`, as operators expect of the standard variables.
    """
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def configure_tracing(service_name: str) -> TracerProvider | None:
    """Install the process's tracer provider when OTLP is configured; else None.

    Call once per process, before creating the Temporal client. The provider
    flushes its spans when the process exits.
    """
    if not otlp_configured():
        return None
    provider = build_tracer_provider(service_name)
    trace.set_tracer_provider(provider)
    return provider


def tracing_interceptors(provider: trace.TracerProvider | None = None) -> list[TracingInterceptor]:
    """The interceptors a careflow Temporal client needs (pass to `Client.connect`).

    A worker built on that client uses them for its workflows and activities too
    (the interceptor is both a client and a worker interceptor).
    `provider` is for tests; processes use the one `configure_tracing` installed.
    """
    return [TracingInterceptor(trace.get_tracer(TRACER_NAME, tracer_provider=provider))]


def client_traces(client: Client) -> bool:
    """Does this client already carry the tracing interceptor?"""
    return any(isinstance(each, TracingInterceptor) for each in client.config()["interceptors"])

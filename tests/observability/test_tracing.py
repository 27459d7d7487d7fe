"""One trace follows a complaint from `POST /events` to the acknowledgement sent,
exported over OTLP/HTTP to a real receiver on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.observability.tracing import (
    build_tracer_provider,
    configure_tracing,
    otlp_configured,
    tracing_interceptors,
)
from careflow.store import Database
from tests.observability.conftest import (
    EMAIL,
    NAME,
    PHONE,
    client_with,
    post_complaint,
    running_careflow,
)
from tests.smtp_sink import SmtpSink


class OtlpReceiver:
    """An OTLP/HTTP trace receiver: decodes every protobuf POST to /v1/traces."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, dict[str, str], str]] = []  # service, name, attrs, trace
        self.raw: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver.take(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass  # the test reads the spans, not the receiver's chatter

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.raw.append(body)
        for resource_spans in request.resource_spans:
            service = next(
                (
                    kv.value.string_value
                    for kv in resource_spans.resource.attributes
                    if kv.key == "service.name"
                ),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {kv.key: kv.value.string_value for kv in span.attributes}
                    self.spans.append((service, span.name, attributes, span.trace_id.hex()))


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


async def test_one_trace_from_the_request_to_the_message_sent(
    db: Database,
    workflow_env: WorkflowEnvironment,
    settings: Settings,
    smtp_sink: SmtpSink,
    receiver: OtlpReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    # The provider careflow's processes install, handed in rather than made global
    # (a process may set its global provider once).
    provider = build_tracer_provider("careflow-test")
    client = client_with(workflow_env, tracing_interceptors(provider))
    try:
        with workflow_env.auto_time_skipping_disabled():
            async with running_careflow(db, client, settings, provider) as http:
                complaint = await post_complaint(http, smtp_sink, settings.task_queue)
        assert provider.force_flush()
    finally:
        provider.shutdown()

    spans = receiver.spans
    # The acknowledgement's send, found by its journey's id ...
    [send_trace] = {
        trace
        for _, name, attributes, trace in spans
        if name == "RunActivity:send_email"
        and attributes.get("temporalWorkflowID") == complaint.journey_id
    }
    # ... is in the trace the complaint's `POST /events` began.
    in_trace = {name for _, name, _, trace in spans if trace == send_trace}
    assert {
        "POST /events",  # the API's request span
        "StartWorkflow:CustomerEventWorkflow",  # the API starting the event's workflow
        "RunWorkflow:CustomerEventWorkflow",
        "RunActivity:evaluate_event",
        "RunActivity:dispatch_intents",
        "StartWorkflow:ComplaintEscalationWorkflow",  # the dispatcher starting the journey
        "RunWorkflow:ComplaintEscalationWorkflow",
        "RunActivity:send_email",
    } <= in_trace, sorted(in_trace)
    [request] = [
        attributes
        for _, name, attributes, trace in spans
        if name == "POST /events" and trace == send_trace
    ]
    assert request["http.route"] == "/events"
    assert {service for service, *_ in spans} == {"careflow-test"}
    # Spans carry ids and names of things, never the customer's personal data.
    for body in receiver.raw:
        for personal in (NAME, EMAIL, PHONE):
            assert personal.encode() not in body


def test_without_an_otlp_endpoint_no_provider_is_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert not otlp_configured()
    assert configure_tracing("careflow-test") is None
    assert otlp_configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318"})

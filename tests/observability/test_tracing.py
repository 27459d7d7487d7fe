"""One trace follows a complaint from `POST /events` to the acknowledgement sent,
exported over OTLP/HTTP to a real receiver on loopback."""

from __future__ import annotations

import pytest
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
    COMPLAINT_TRACE,
    EMAIL,
    NAME,
    PHONE,
    OtlpReceiver,
    client_with,
    post_complaint,
    running_careflow,
    trace_of_send,
)
from tests.smtp_sink import SmtpSink


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
                complaint = await post_complaint(http, smtp_sink, settings)
        assert provider.force_flush()
    finally:
        provider.shutdown()

    spans = receiver.spans
    # The acknowledgement's send, found by its journey's id, is in the trace the
    # complaint's `POST /events` began.
    trace_id, in_trace = trace_of_send(receiver, complaint.journey_id)
    assert in_trace >= COMPLAINT_TRACE, sorted(in_trace)
    [request] = [
        attributes
        for _, name, attributes, trace in spans
        if name == "POST /events" and trace == trace_id
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

"""A complaint posted through the HTTP API to the acknowledgement on the SMTP sink,
with careflow's full worker on the Temporal test server: what the observability
tests watch."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.trace import TracerProvider
from temporalio.client import Client, Interceptor
from temporalio.testing import WorkflowEnvironment

from careflow.api.app import create_app
from careflow.api.state import ApiState
from careflow.config import Settings
from careflow.outreach.mailer import SmtpDelivery
from careflow.pseudonyms import customer_pseudonym
from careflow.store import Database
from careflow.worker import create_worker
from careflow.workflows.ids import complaint_workflow_id
from tests.smtp_sink import SmtpSink

# The customer's personal data: none of it may show in logs, metrics or traces.
NAME = "Zhao Lianhua"
EMAIL = "zhao.lianhua@example.com"
PHONE = "+8613812345678"


@dataclass
class Complaint:
    """What one run posted and what came of it."""

    customer_id: str
    complaint_id: str
    journey_id: str
    acknowledgement: EmailMessage


def client_with(env: WorkflowEnvironment, interceptors: Sequence[Interceptor]) -> Client:
    """A client to the test server carrying `interceptors`, as careflow's processes connect."""
    config = env.client.config()
    return Client(
        env.client.service_client,
        namespace=config["namespace"],
        data_converter=config["data_converter"],
        interceptors=interceptors,
    )


@asynccontextmanager
async def running_careflow(
    db: Database,
    client: Client,
    settings: Settings,
    tracer_provider: TracerProvider | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """The API (over ASGI) and the worker, on one client, as `careflow up` runs them."""
    delivery = SmtpDelivery(settings.smtp_target)
    app = create_app(
        ApiState(db, client, settings.task_queue, settings.secret_key),
        tracer_provider=tracer_provider,
    )
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            create_worker(client, settings, db=db, delivery=delivery),
            httpx.AsyncClient(transport=transport, base_url="http://careflow") as http,
        ):
            yield http
    finally:
        await delivery.close()


async def post_complaint(
    http: httpx.AsyncClient,
    sink: SmtpSink,
    settings: Settings,
    headers: dict[str, str] | None = None,
    *,
    at: datetime | None = None,
) -> Complaint:
    """A new customer with a name, email and phone opens a complaint; returns once the
    acknowledgement has arrived. The task queue makes the ids unique on the shared
    server; posting again with the same `at` repeats the very same events."""
    run = settings.task_queue
    customer = f"c-{run}"
    complaint = f"k-{run}"
    now = (at or datetime.now(UTC)).isoformat()
    upsert = {
        "type": "customer_upserted",
        "customer_id": customer,
        "occurred_at": now,
        "event_id": f"u-{run}",
        "data": {"name": NAME, "email": EMAIL, "phone": PHONE, "locale": "en"},
    }
    opened = {
        "type": "complaint_opened",
        "customer_id": customer,
        "occurred_at": now,
        "event_id": f"o-{run}",
        "data": {"complaint_id": complaint, "severity": "high", "subject": "Parcel lost"},
    }
    for event in (upsert, opened):
        response = await http.post("/events", json=event, headers=headers or {})
        assert response.status_code == 202, response.text
    [ack] = await sink.wait_for(1)
    assert ack["To"] == EMAIL
    journey = complaint_workflow_id(customer_pseudonym(settings.secret_key, customer), complaint)
    return Complaint(customer, complaint, journey, ack)


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


# The spans of one complaint's trace, from the request to the acknowledgement sent.
COMPLAINT_TRACE = {
    "POST /events",  # the API's request span
    "StartWorkflow:CustomerEventWorkflow",  # the API starting the event's workflow
    "RunWorkflow:CustomerEventWorkflow",
    "RunActivity:evaluate_event",
    "RunActivity:dispatch_intents",
    "StartWorkflow:ComplaintEscalationWorkflow",  # the dispatcher starting the journey
    "RunWorkflow:ComplaintEscalationWorkflow",
    "RunActivity:send_email",
}
# The same on the direct event path (`careflow up`'s default): the API evaluates the
# rules and starts the journey itself, no workflow of the event's own in between.
DIRECT_COMPLAINT_TRACE = {
    "POST /events",
    "StartWorkflow:ComplaintEscalationWorkflow",  # the API starting the journey
    "RunWorkflow:ComplaintEscalationWorkflow",
    "RunActivity:send_email",
}


def trace_of_send(receiver: OtlpReceiver, journey_id: str) -> tuple[str, set[str]]:
    """The trace id of the journey's `send_email` span and the names of its spans."""
    [trace_id] = {
        trace
        for _, name, attributes, trace in receiver.spans
        if name == "RunActivity:send_email" and attributes.get("temporalWorkflowID") == journey_id
    }
    return trace_id, {name for _, name, _, trace in receiver.spans if trace == trace_id}

"""`careflow up` watched as an operator watches it: its metrics endpoint, `/metrics`,
`/ready` going to 503 when Temporal stops, one trace per event exported over OTLP,
and JSON logs without personal data.

Real parts: a Temporal dev server of the test's own (`TEMPORAL_ADDRESS`), a SQLite
store, the SMTP sink, and `careflow up` as a child process.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.store import create_database
from tests.faults.harness import CareflowUp, wait_until
from tests.observability.conftest import (
    DIRECT_COMPLAINT_TRACE,
    EMAIL,
    NAME,
    PHONE,
    OtlpReceiver,
    trace_of_send,
)
from tests.smtp_sink import SmtpSink, free_port


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def sent(text: str) -> float:
    return float(
        sum(
            sample.value
            for sample in families(text)["careflow_messages"].samples
            if sample.labels == {"channel": "email", "status": "sent"}
        )
    )


@pytest.mark.timeout(300)
async def test_metrics_readiness_traces_and_json_logs_of_a_running_careflow(
    tmp_path: Path, smtp_sink: SmtpSink, receiver: OtlpReceiver
) -> None:
    temporal = EmbeddedTemporal(tmp_path / "temporal", free_port(), free_port())
    await temporal.start()
    store = create_database(f"sqlite+aiosqlite:///{tmp_path / 'careflow.db'}")
    await store.migrate()
    await store.dispose()
    metrics_port = free_port()
    careflow = CareflowUp(
        tmp_path,
        temporal=temporal.address,
        database_url=f"sqlite:///{tmp_path / 'careflow.db'}",
        smtp_port=smtp_sink.port,
        env={
            "CAREFLOW_METRICS_HTTP": f"127.0.0.1:{metrics_port}",
            "CAREFLOW_LOG_FORMAT": "json",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_SERVICE_NAME": "careflow-under-test",
        },
    )
    try:
        careflow.start()
        await careflow.wait_for_api()
        now = datetime.now(UTC).isoformat()
        upsert: dict[str, object] = {
            "type": "customer_upserted",
            "customer_id": "c-1",
            "occurred_at": now,
            "data": {"name": NAME, "email": EMAIL, "phone": PHONE, "locale": "en"},
        }
        opened: dict[str, object] = {
            "type": "complaint_opened",
            "customer_id": "c-1",
            "occurred_at": now,
            "data": {"complaint_id": "k-1", "severity": "high", "subject": "Parcel lost"},
        }
        for event in (upsert, opened):
            assert (await careflow.post_event(event)).status_code == 202
        await smtp_sink.wait_for(1, within_seconds=60)

        async with httpx.AsyncClient(base_url=careflow.base_url, timeout=30) as http:
            worker_endpoint = f"http://127.0.0.1:{metrics_port}/metrics"

            async def counted() -> bool:
                return sent((await http.get(worker_endpoint)).text) >= 1

            # The message is on the sink a moment before the send step records it.
            await wait_until(
                counted, within_seconds=30, failure=lambda: "the message was never counted"
            )
            ready = await http.get("/ready")
            assert (ready.status_code, ready.json()["checks"]) == (
                200,
                {"store": "ok", "temporal": "ok"},
            )
            api_metrics = (await http.get("/metrics")).text
            worker_metrics = (await http.get(worker_endpoint)).text
            for scraped in (api_metrics, worker_metrics):
                names = set(families(scraped))
                assert {
                    "careflow_events",
                    "careflow_rule_firings",
                    "careflow_journeys_started",
                    "careflow_messages",
                    "careflow_send_seconds",
                } <= names
                # The Temporal SDK's own: its worker's task latencies and its requests.
                assert {"temporal_workflow_task_execution_latency", "temporal_request"} <= names
                assert sent(scraped) == 1
                for personal in (NAME, EMAIL, PHONE):
                    assert personal not in scraped

            temporal.stop()
            unready = await http.get("/ready")
        assert unready.status_code == 503
        body = unready.json()
        assert body["checks"] == {"store": "ok", "temporal": "unavailable"}
        assert set(body["problems"]) == {"temporal"}
    finally:
        careflow.stop()
        temporal.stop()

    # The spans were exported by the time careflow up stopped (its provider flushes
    # on the way out).
    journey = careflow.journey_of("c-1", "k-1")
    trace_id, in_trace = trace_of_send(receiver, journey)
    assert in_trace >= DIRECT_COMPLAINT_TRACE, sorted(in_trace)
    assert {service for service, *_ in receiver.spans} == {"careflow-under-test"}

    log = careflow.log_text()
    for personal in (NAME, EMAIL, PHONE, "Zhao", "13812345678"):
        assert personal not in log
    # stdout (careflow up's banner) and stderr (the log) share the file: the log's
    # lines are the JSON objects, one a line.
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    sends = [line for line in lines if line.get("activity_type") == "send_email"]
    assert sends, log[-3000:]
    assert all(line["workflow_id"] == journey for line in sends)
    assert any(line["message"].startswith(f"sent {journey}/ack") for line in sends)
    access = [line for line in lines if line["logger"] == "careflow.access"]
    # The access log line of the request that began the trace names it.
    assert trace_id in {line.get("trace_id") for line in access if line["path"] == "/events"}
    assert {(line["method"], line["path"], line["status"]) for line in access} >= {
        ("POST", "/events", 202),
        ("GET", "/ready", 200),
        ("GET", "/ready", 503),
        ("GET", "/metrics", 200),
    }

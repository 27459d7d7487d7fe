"""careflow as a care team deploys it: one Temporal server in a namespace of its own, a
PostgreSQL store, two `careflow worker` processes and one `careflow api`, watched
through their metrics, readiness and Temporal's own CLI, while a worker is SIGKILLed
in the middle of a burst."""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from careflow.pseudonyms import customer_pseudonym
from careflow.runtime.binaries import temporal_cli_path
from careflow.runtime.temporal_server import EmbeddedTemporal
from careflow.workflows.ids import complaint_workflow_id
from tests.faults.conftest import postgres_database
from tests.faults.harness import wait_until
from tests.observability.test_careflow_up_observed import families
from tests.runtime.conftest import NAMESPACE
from tests.runtime.test_services import Service, run
from tests.smtp_sink import SmtpSink, free_port

__all__ = ["postgres_database"]  # the fault suite's fixture: a fresh PostgreSQL database

BURST = 24
KILL_AFTER = 8
CAREFLOW_FAMILIES = {
    "careflow_events",
    "careflow_rule_firings",
    "careflow_journeys_started",
    "careflow_messages",
    "careflow_send_seconds",
}
# The Temporal SDK's own: every process's requests to the server, and a worker's task
# latencies (the API runs no worker).
SDK_FAMILIES = {
    "api": {"temporal_request"},
    "worker": {"temporal_request", "temporal_workflow_task_execution_latency"},
}


def acknowledged(sink: SmtpSink, customer: str) -> bool:
    """Whether `customer` (each has one complaint here) got their acknowledgement."""
    return any(str(m["To"]) == f"{customer}@example.com" for m in sink.messages)


@pytest.mark.timeout(600)
async def test_two_workers_and_an_api_survive_a_sigkill_and_are_watched(
    tmp_path: Path,
    namespaced_temporal: EmbeddedTemporal,
    postgres_database: str,
    smtp_sink: SmtpSink,
) -> None:
    http_port = free_port()
    worker_metrics = [free_port(), free_port()]
    env = {
        **os.environ,
        "CAREFLOW_HOME": str(tmp_path / "var"),
        "CAREFLOW_DATABASE_URL": postgres_database,
        "CAREFLOW_SMTP_URL": f"smtp://127.0.0.1:{smtp_sink.port}",
        "CAREFLOW_HTTP": f"127.0.0.1:{http_port}",
        "CAREFLOW_SECRET_KEY": "one-key-for-every-host",
        "CAREFLOW_TASK_QUEUE": f"deploy-{uuid.uuid4().hex[:8]}",
        "TEMPORAL_ADDRESS": namespaced_temporal.address,
        "TEMPORAL_NAMESPACE": NAMESPACE,
    }
    env.pop("CAREFLOW_METRICS_HTTP", None)
    migrated = await run(env, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr

    workers = [
        Service(f"worker-{n}", {**env, "CAREFLOW_METRICS_HTTP": f"127.0.0.1:{port}"}, tmp_path,
                "worker")
        for n, port in enumerate(worker_metrics)
    ]  # fmt: skip
    api = Service("api", env, tmp_path, "api")
    services = [*workers, api]
    complaints = [f"k-deploy-{n}" for n in range(BURST)]
    customers = [f"deploy-{n}" for n in range(BURST)]
    try:
        for worker in workers:
            await worker.wait_for("careflow worker polling task queue")
        await api.wait_for("careflow api listening")

        now = datetime.now(UTC).isoformat()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=30) as http:
            for n, complaint in enumerate(complaints):
                if n == KILL_AFTER:
                    # Mid-burst, with journeys in every state on it: no goodbye at all.
                    workers[0].kill()
                customer = f"deploy-{n}"
                for event in (
                    {"type": "customer_upserted", "customer_id": customer, "occurred_at": now,
                     "data": {"email": f"{customer}@example.com", "locale": "en"}},
                    {"type": "complaint_opened", "customer_id": customer, "occurred_at": now,
                     "data": {"complaint_id": complaint, "severity": "high"}},
                ):  # fmt: skip
                    response = await http.post("/events", json=event)
                    assert response.status_code == 202, response.text

            # The survivor takes over what the killed worker held (its activities time out
            # and are retried there), so every acknowledgement arrives.
            await wait_until(
                lambda: all(acknowledged(smtp_sink, c) for c in customers),
                within_seconds=240,
                failure=lambda: (
                    f"no ack: {[c for c in customers if not acknowledged(smtp_sink, c)]}"
                ),
            )
            ids = Counter(str(m["Message-ID"]) for m in smtp_sink.messages)
            # Exactly once, except an SMTP exchange the kill cut after the server took the
            # message: that one is sent again under the same Message-ID (at most one).
            repeats = {mid: count for mid, count in ids.items() if count > 1}
            assert len(repeats) <= 1, repeats
            assert all(count == 2 for count in repeats.values()), repeats
            print(f"{len(ids)} acknowledgements, {len(repeats)} repeated by the SIGKILL")
            assert len(ids) == BURST

            # Temporal's own CLI finds the journeys in careflow's namespace.
            listed = await asyncio.to_thread(
                subprocess.run,
                [
                    str(temporal_cli_path()), "workflow", "list",
                    "--address", namespaced_temporal.address,
                    "--namespace", NAMESPACE,
                    "--query", "WorkflowType = 'ComplaintEscalationWorkflow'",
                    "--limit", str(BURST * 2),
                ],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            assert listed.returncode == 0, listed.stderr
            for n, complaint in enumerate(complaints):
                customer = customer_pseudonym(env["CAREFLOW_SECRET_KEY"], f"deploy-{n}")
                assert complaint_workflow_id(customer, complaint) in listed.stdout

            # Both the API's /metrics and the surviving worker's endpoint carry careflow's
            # and the SDK's families; the acknowledgements are counted where they were sent.
            scraped = {
                "api": (await http.get("/metrics")).text,
                "worker": (await http.get(f"http://127.0.0.1:{worker_metrics[1]}/metrics")).text,
            }
            for where, text in scraped.items():
                names = set(families(text))
                assert names >= CAREFLOW_FAMILIES | SDK_FAMILIES[where], (where, sorted(names))
                assert "@example.com" not in text
            api_events = families(scraped["api"])["careflow_events"]
            assert sum(s.value for s in api_events.samples if s.name.endswith("_total")) >= (
                BURST * 2
            )

            ready = await http.get("/ready")
            assert ready.status_code == 200, ready.text
            namespaced_temporal.stop()

            async def unready() -> bool:
                return (await http.get("/ready")).status_code == 503

            await wait_until(unready, within_seconds=30, failure=lambda: "/ready stayed 200")
            body = (await http.get("/ready")).json()
            assert body["checks"]["store"] == "ok"
            assert body["checks"]["temporal"] != "ok"
            assert set(body["problems"]) == {"temporal"}
    finally:
        for service in services:
            service.kill()

"""careflow's metrics count what really happened, at `GET /metrics`, without personal data."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from careflow.config import Settings
from careflow.observability.metrics import bounded, count_event, count_message
from careflow.store import Database
from tests.faults.harness import wait_until
from tests.observability.conftest import EMAIL, NAME, PHONE, post_complaint, running_careflow
from tests.smtp_sink import SmtpSink

COUNTED = {
    ("careflow_events_total", (("type", "customer_upserted"),)),
    ("careflow_events_total", (("type", "complaint_opened"),)),
    ("careflow_rule_firings_total", (("rule", "acknowledge-new-complaint"),)),
    ("careflow_journeys_started_total", (("journey", "complaint_escalation"),)),
    ("careflow_messages_total", (("channel", "email"), ("status", "sent"))),
    ("careflow_send_seconds_count", (("channel", "email"),)),
}


def _value(name: str, labels: tuple[tuple[str, str], ...]) -> float:
    return REGISTRY.get_sample_value(name, dict(labels)) or 0.0


async def test_a_complaint_counts_its_event_rule_journey_and_message(
    db: Database, workflow_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink
) -> None:
    before = {sample: _value(*sample) for sample in COUNTED}
    at = datetime.now(UTC)
    with workflow_env.auto_time_skipping_disabled():
        async with running_careflow(db, workflow_env.client, settings) as http:
            await post_complaint(http, smtp_sink, settings, at=at)
            # The message is on the sink a moment before the send step has recorded it.
            sent = ("careflow_messages_total", (("channel", "email"), ("status", "sent")))
            await wait_until(
                lambda: _value(*sent) > before[sent],
                within_seconds=30,
                failure=lambda: "the sent message was never counted",
            )
            # The same events again are repeats: they count nothing.
            await post_complaint(http, smtp_sink, settings, at=at)
            scraped = await http.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    # Each counted once, as served: the ack was sent once (the second post repeated it).
    assert {key: samples[key] - before[key] for key in COUNTED} == dict.fromkeys(COUNTED, 1.0)
    for personal in (NAME, EMAIL, PHONE, "Zhao"):
        assert personal not in text


def test_labels_outside_their_known_values_are_counted_as_other() -> None:
    """A caller's value never becomes a label: an unknown type or status is `other`."""
    assert bounded("complaint_opened", {"complaint_opened"}) == "complaint_opened"
    assert bounded("someone@example.com", {"complaint_opened"}) == "other"
    before = REGISTRY.get_sample_value("careflow_events_total", {"type": "other"}) or 0.0
    count_event("new-type-from-an-integration", {"complaint_opened"})
    assert REGISTRY.get_sample_value("careflow_events_total", {"type": "other"}) == before + 1
    other = {"channel": "other", "status": "other"}
    before = REGISTRY.get_sample_value("careflow_messages_total", other) or 0.0
    count_message("pigeon", "lost")
    assert REGISTRY.get_sample_value("careflow_messages_total", other) == before + 1
    assert (
        REGISTRY.get_sample_value(
            "careflow_messages_total", {"channel": "pigeon", "status": "lost"}
        )
        is None
    )

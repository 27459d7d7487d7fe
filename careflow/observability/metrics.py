"""careflow's own Prometheus metrics: every definition lives here, and only here.

Labels are bounded by construction: event types, rule ids (from the operator's rule
files), journey names (from the registry), channels and ledger statuses. A label
never carries a customer id, a name, an address or any other value a customer
supplies; a value outside its known set is counted under `other`.

The metrics are registered in prometheus-client's default registry, next to its
process and Python collectors, so `/metrics` and a worker's metrics server show
them all (and the Temporal SDK's, see `temporal_metrics`).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

from careflow.outreach.ledger import DEFERRED, FAILED, SENT, SKIPPED

# Under this label value go the counts of anything outside a label's known set.
OTHER = "other"

# The ledger statuses a send step can end a call with.
MESSAGE_STATUSES = frozenset({SENT, SKIPPED, DEFERRED, FAILED})
CHANNELS = frozenset({"email"})

EVENTS = Counter(
    "careflow_events",
    "Events recorded by the intake (API, CLI, simulation), by type; repeats of an "
    "event_id are not counted.",
    ["type"],
)
RULE_FIRINGS = Counter(
    "careflow_rule_firings",
    "Rules that fired for a customer, in event evaluation and in the daily scan.",
    ["rule"],
)
JOURNEYS_STARTED = Counter(
    "careflow_journeys_started",
    "Journeys started by the dispatcher (not those a repeated trigger found, nor those held out).",
    ["journey"],
)
MESSAGES = Counter(
    "careflow_messages",
    "Send steps decided, by channel and outcome (sent, skipped, deferred, failed); a "
    "retried step that finds its stored outcome is not counted again.",
    ["channel", "status"],
)
SEND_SECONDS = Histogram(
    "careflow_send_seconds",
    "Time of one delivery exchange (the SMTP conversation), successful or not.",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def bounded(value: str, known: Collection[str]) -> str:
    """`value` when it is one of `known`, else `other`: a label may not grow unbounded."""
    return value if value in known else OTHER


def count_event(event_type: str, known_types: Collection[str]) -> None:
    """One event recorded (not a repeat)."""
    EVENTS.labels(type=bounded(event_type, known_types)).inc()


def count_rule_firings(rule_ids: Iterable[str]) -> None:
    """Each rule id in `rule_ids` fired once (for one customer)."""
    # Counted first: a daily scan page passes the same few rules hundreds of times,
    # and each `labels()` lookup takes the metric's lock.
    for rule_id, times in collections.Counter(rule_ids).items():
        RULE_FIRINGS.labels(rule=rule_id).inc(times)


def count_journey_started(journey: str) -> None:
    """A journey (a registry name) was started."""
    JOURNEYS_STARTED.labels(journey=journey).inc()


def count_message(channel: str, status: str) -> None:
    """A send step decided or finished with `status` on `channel`."""
    MESSAGES.labels(
        channel=bounded(channel, CHANNELS), status=bounded(status, MESSAGE_STATUSES)
    ).inc()


@contextmanager
def timed_send(channel: str) -> Iterator[None]:
    """Observe how long the delivery exchange inside takes, whether or not it fails."""
    started = time.perf_counter()
    try:
        yield
    finally:
        SEND_SECONDS.labels(channel=bounded(channel, CHANNELS)).observe(
            time.perf_counter() - started
        )

"""The contracts match the activities the worker registers, and keep the wire format.

Workflows call activities by the name in a contract (`careflow.contracts`), so a
contract whose name, input or result drifted from the registered activity would
only fail at run time; these tests make it fail here. The shapes are also pinned:
a renamed field would stop every running journey from decoding its history.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.converter import DataConverter

from careflow import contracts
from careflow.activities.registry import build_activities
from careflow.config import Settings
from careflow.contracts import (
    JourneyInput,
    JourneyOutcome,
    MessageStatus,
    SendEmailResult,
)
from careflow.contracts.activity import ActivityContract
from careflow.outreach.mailer import OutboxDelivery
from careflow.rule_references import build_references
from careflow.store import Database
from careflow.workflows.registry import JOURNEYS

_MODULES = ("events", "journeys", "outreach", "scan", "tasks")


def _all_contracts() -> list[ActivityContract[Any, Any]]:
    found = []
    for name in _MODULES:
        module = __import__(f"careflow.contracts.{name}", fromlist=["_"])
        found += [value for value in vars(module).values() if isinstance(value, ActivityContract)]
    return found


async def test_every_contract_names_a_registered_activity_with_its_types(
    settings: Settings, db: Database, workflow_env: Any, tmp_path: Path
) -> None:
    bound = build_activities(
        settings,
        db=db,
        client=workflow_env.client,
        delivery=OutboxDelivery(tmp_path / "o"),
        journeys=JOURNEYS,
        references=build_references(settings),
    )
    registered = {fn.__temporal_activity_definition.name: fn for fn in bound}  # type: ignore[attr-defined]
    for contract in _all_contracts():
        assert contract.name in registered, contract.name
        hints = typing.get_type_hints(registered[contract.name])
        parameters = list(inspect.signature(registered[contract.name]).parameters)
        assert hints[parameters[0]] is contract.input, contract.name
        result = hints["return"]
        assert result is contract.result or (result is None and contract.result is type(None))


def test_every_wire_dataclass_is_keyword_only() -> None:
    for name in contracts.__all__:
        value = getattr(contracts, name)
        if dataclasses.is_dataclass(value):
            assert all(field.kw_only for field in dataclasses.fields(value)), name


def test_journey_input_keeps_its_json_shape() -> None:
    payload = DataConverter.default.payload_converter.to_payload(
        JourneyInput(customer_id="C-1", rule_id="r", as_of=datetime(2026, 1, 2, tzinfo=UTC))
    )
    assert json.loads(payload.data) == {
        "customer_id": "C-1",
        "rule_id": "r",
        "ruleset_hash": "",
        "subject": "",
        "params": {},
        "as_of": "2026-01-02T00:00:00+00:00",
    }


def test_a_message_status_round_trips_as_its_plain_string() -> None:
    converter = DataConverter.default.payload_converter
    payload = converter.to_payload(SendEmailResult(status=MessageStatus.DEFERRED))
    assert json.loads(payload.data)["status"] == "deferred"
    decoded = converter.from_payload(payload, SendEmailResult)
    assert decoded.status is MessageStatus.DEFERRED


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("skipped", "offer_skipped"), ("failed", "offer_failed"), ("deferred", "offer_deferred")],
)
def test_an_offer_not_sent_ends_as_it_always_did(status: str, outcome: str) -> None:
    assert JourneyOutcome.of_offer(MessageStatus(status)) == outcome
    assert (
        json.loads(
            DataConverter.default.payload_converter.to_payload(
                JourneyOutcome.of_offer(MessageStatus(status))
            ).data
        )
        == outcome
    )


def test_outcomes_recorded_before_the_enum_are_all_members() -> None:
    # Every outcome a shipped journey returned as a string literal before the enum.
    before = {
        "opted_out", "erased", "ended", "skipped", "completed", "sent", "failed",
        "goal_met", "goal_not_met", "call_task", "offer_skipped", "offer_failed",
        "resolved", "unresolved", "reopened", "answered", "unanswered", "not_sent",
        "low_score", "notified",
    }  # fmt: skip
    assert before <= {outcome.value for outcome in JourneyOutcome}

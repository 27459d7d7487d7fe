"""Nothing is left out of the registries: every workflow class and every activity method
defined in workflows/ and activities/ is registered, and every journey's signals exist."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

from careflow import activities, workflows
from careflow.activities.registry import build_activities
from careflow.config import Settings
from careflow.outreach.mailer import OutboxDelivery
from careflow.paths import RULES_DIR, TEMPLATES_DIR
from careflow.rule_references import build_references, missing_journey_settings
from careflow.rules.references import template_ids
from careflow.store import Database
from careflow.workflows.registry import JOURNEYS, WORKFLOWS
from careflow.workflows.simple_journey import SimpleJourney


def _modules(package: Any) -> list[Any]:
    return [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(package.__path__)
    ]


def _defined_workflows() -> set[str]:
    return {
        cls.__temporal_workflow_definition.name
        for module in _modules(workflows)
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__ and hasattr(cls, "__temporal_workflow_definition")
    }


def _defined_activities() -> set[str]:
    names = set()
    for module in _modules(activities):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            for _, method in inspect.getmembers(cls, inspect.isfunction):
                definition = getattr(method, "__temporal_activity_definition", None)
                if definition is not None:
                    names.add(definition.name)
    return names


def test_every_workflow_is_registered() -> None:
    registered = {cls.__temporal_workflow_definition.name for cls in WORKFLOWS}
    assert _defined_workflows() - registered == set()


async def test_every_activity_is_registered(
    settings: Settings, db: Database, workflow_env: Any, tmp_path: Path
) -> None:
    bound = build_activities(
        settings,
        db=db,
        client=workflow_env.client,
        delivery=OutboxDelivery(tmp_path / "outbox"),
        journeys=JOURNEYS,
        references=build_references(settings),
    )
    registered = {fn.__temporal_activity_definition.name for fn in bound}  # type: ignore[attr-defined]
    assert _defined_activities() - registered == set()
    assert len(registered) == len(bound)  # and none twice


def test_a_journeys_signals_are_the_ones_its_workflow_handles() -> None:
    for journey in JOURNEYS.values():
        handled = set(journey.workflow.__temporal_workflow_definition.signals)
        # Rules may send every signal the workflow handles but the ones staff send.
        assert set(journey.signals) == handled - {None} - set(journey.staff_signals), journey.name
        assert set(journey.staff_signals) <= handled, journey.name
        assert journey.workflow in WORKFLOWS
    # The exits every journey honours, and the goals, come from the classes' handlers.
    assert set(JOURNEYS["complaint_escalation"].signals) == {
        "complaint_resolved",
        "complaint_responded",
        "survey_answered",
        "opted_out",
        "customer_erased",
    }


def test_every_journey_finds_its_settings_and_templates(tmp_path: Path) -> None:
    shipped = RULES_DIR / "journeys.yaml"
    assert missing_journey_settings(shipped) == []
    for journey in JOURNEYS.values():
        assert set(journey.templates) <= template_ids(TEMPLATES_DIR), journey.name
        assert set(journey.label) == {"en", "zh-CN"}, journey.name
    # A journeys.yaml without a declared journey's section is reported, naming both.
    text = shipped.read_text(encoding="utf-8")
    scratch = tmp_path / "journeys.yaml"
    scratch.write_text(text[: text.index("\nsimple_journeys:")] + "\n", encoding="utf-8")
    assert missing_journey_settings(scratch) == [
        "journeys.yaml: simple_journeys.review_request: missing: the journey "
        "'review_request' reads its settings there"
    ]


def test_a_simple_journey_reads_the_section_of_its_registered_name() -> None:
    for name, journey in JOURNEYS.items():
        if issubclass(journey.workflow, SimpleJourney):
            assert journey.workflow.journey == name
            assert journey.settings == f"simple_journeys.{name}"

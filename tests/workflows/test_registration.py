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
from careflow.store import Database
from careflow.workflows.registry import JOURNEYS, WORKFLOWS


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
    )
    registered = {fn.__temporal_activity_definition.name for fn in bound}  # type: ignore[attr-defined]
    assert _defined_activities() - registered == set()
    assert len(registered) == len(bound)  # and none twice


def test_every_journey_listens_for_the_signals_it_declares() -> None:
    for journey in JOURNEYS.values():
        handled = set(journey.workflow.__temporal_workflow_definition.signals)
        assert set(journey.signals) <= handled, journey.name
        assert set(journey.staff_signals) <= handled, journey.name
        assert journey.workflow in WORKFLOWS

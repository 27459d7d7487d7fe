"""Fixtures for journey tests: settings with minimal templates, a journey configuration
whose business hours never close (so deadlines are plain hours), and a test clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from careflow.config import Settings
from careflow.paths import RULES_DIR
from tests.workflows.harness import write_templates

ConfigEdit = Callable[[dict[str, Any]], None]


def write_journey_config(path: Path, edit: ConfigEdit | None = None) -> Path:
    """The shipped `rules/journeys.yaml`, open around the clock, with `edit` applied."""
    document = YAML(typ="safe").load((RULES_DIR / "journeys.yaml").read_text(encoding="utf-8"))
    document["business_hours"] = {
        "timezone": "UTC",
        "open_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "opens": "00:00",
        "closes": "24:00",
    }
    if edit is not None:
        edit(document)
    # YAML is a superset of JSON, and JSON needs no dumper configuration.
    path.write_text(json.dumps(document, default=str), encoding="utf-8")
    return path


@pytest.fixture
def journey_config(tmp_path: Path) -> Path:
    return write_journey_config(tmp_path / "journeys.yaml")


@pytest.fixture
def journey_settings(settings: Settings, tmp_path: Path) -> Settings:
    """The test's settings with minimal templates (see harness.write_templates)."""
    return settings.model_copy(update={"templates_dir": write_templates(tmp_path / "templates")})

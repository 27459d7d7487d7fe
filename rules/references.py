"""What rule files may name outside themselves: journeys, their signals, templates, teams.

rules/ knows nothing of workflows, activities or careflow's apps: the process that
loads rules (the worker, the API, the CLI) builds `References` from the same journey
registry and settings it runs with (careflow/rule_references.py) and passes them in,
so `careflow rules check` judges a rule set against exactly what the worker runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

JOURNEY_CONFIG_FILE = "journeys.yaml"


@dataclass(frozen=True)
class References:
    """The journeys (name -> signals), template ids and teams a rule file may name."""

    journeys: Mapping[str, tuple[str, ...]]
    templates: frozenset[str]
    templates_dir: Path
    teams: frozenset[str] | None = None  # None: no team list to check against
    # Journeys about the triggering event's subject (a complaint): an `occasion` param
    # cannot name what they are about, so it would be ignored.
    subject_journeys: frozenset[str] = frozenset()
    # Endpoints of webhooks.yaml a `webhook:` action may name; None: not checked.
    webhooks: frozenset[str] | None = None


def template_ids(templates_dir: Path) -> frozenset[str]:
    """Folders under `templates_dir/email`: each is a template a rule may name."""
    email_dir = templates_dir / "email"
    if not email_dir.is_dir():
        return frozenset()
    return frozenset(
        folder.name
        for folder in email_dir.iterdir()
        if folder.is_dir() and not folder.name.startswith(("_", "."))
    )

"""Journeys in flight that an activated release concerns: started by a rule that the
release changed or removed (careflow/rule_impact.py, against the release's rules)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from careflow.releases.bundle import RULES_PREFIX, TEMPLATES_PREFIX
from careflow.releases.materialize import materialize
from careflow.releases.repository import release_files
from careflow.rule_impact import JourneyInFlight, journeys_of_changed_rules
from careflow.rule_references import folder_references
from careflow.rules import load_rulebook
from careflow.store import Database


async def journeys_in_flight_of_changes(
    db: Database, release_id: str, cache_dir: Path
) -> list[JourneyInFlight]:
    """Running journeys whose rule the release changed or removed, oldest first."""
    files = await release_files(db, release_id)
    folder = await asyncio.to_thread(materialize, files, cache_dir, release_id)
    rulebook = await asyncio.to_thread(
        load_rulebook,
        folder / RULES_PREFIX,
        references=folder_references(folder / TEMPLATES_PREFIX, folder / RULES_PREFIX),
    )
    return await journeys_of_changed_rules(db, rulebook)

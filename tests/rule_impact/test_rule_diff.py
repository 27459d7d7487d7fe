"""`careflow rules diff`: running journeys whose rule changed or disappeared since they started."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from careflow.cli import app
from careflow.rule_impact import journeys_of_changed_rules, rule_change
from careflow.rule_references import shipped_references
from careflow.rules import RuleBook, load_rulebook
from careflow.rules.rulebook import RULE_FILE_PATTERN
from careflow.store import Customer, Database, JourneyRecord, create_database

SHIPPED = Path(__file__).resolve().parents[2] / "rules"
T0 = datetime(2026, 11, 1, 8, tzinfo=UTC)


def shipped_rules(folder: Path) -> RuleBook:
    """The rules in `folder`, checked against the shipped journeys and templates."""
    return load_rulebook(folder, references=shipped_references())


def copy_rules(target: Path) -> Path:
    target.mkdir()
    for path in SHIPPED.glob(RULE_FILE_PATTERN):
        shutil.copy(path, target / path.name)
    # The windowed facts and declared events the shipped rules name live beside them.
    for name in ("derived_facts.yaml", "events.yaml"):
        shutil.copy(SHIPPED / name, target / name)
    return target


def edit_rules(folder: Path) -> None:
    """Change one threshold in retention, drop the contact rules, leave the rest."""
    retention = folder / "retention.rules.yaml"
    text = retention.read_text(encoding="utf-8")
    assert "between: [90, 365]" in text
    retention.write_text(text.replace("between: [90, 365]", "between: [100, 365]"), "utf-8")
    (folder / "contact.rules.yaml").unlink()


def hash_of(rulebook: RuleBook, rule_id: str) -> str:
    return next(
        ruleset.hash
        for ruleset in rulebook.rulesets
        if any(rule.id == rule_id for rule in ruleset.rules)
    )


# (workflow id, journey, rule id, status); all started under the rules as shipped.
JOURNEYS = [
    ("wf-dormant", "retention_offer", "dormant-win-back", "running"),
    ("wf-vip-dormant", "retention_offer", "vip-dormant-win-back", "running"),  # same file
    ("wf-contact", "contact_change_notice", "contact-change-notice", "running"),
    ("wf-birthday", "care_message", "birthday-greeting", "running"),  # unchanged file
    ("wf-ended", "retention_offer", "dormant-win-back", "ended"),  # no longer in flight
]


@pytest.fixture
def folders(tmp_path: Path) -> tuple[RuleBook, Path]:
    before = shipped_rules(copy_rules(tmp_path / "rules"))
    edit_rules(tmp_path / "rules")
    return before, tmp_path / "rules"


async def seed(db: Database, before: RuleBook) -> None:
    async with db.session() as session:
        customer = Customer(external_id="c-1", created_at=T0, updated_at=T0)
        session.add(customer)
        await session.flush()
        for offset, (workflow_id, journey, rule_id, status) in enumerate(JOURNEYS):
            session.add(
                JourneyRecord(
                    workflow_id=workflow_id,
                    journey=journey,
                    customer_id=customer.id,
                    rule_id=rule_id,
                    ruleset_hash=hash_of(before, rule_id),
                    status=status,
                    started_at=T0 + timedelta(hours=offset),
                )
            )
        # Started by a rule whose file had already changed once before this edit.
        session.add(
            JourneyRecord(
                workflow_id="wf-old-birthday",
                journey="care_message",
                customer_id=customer.id,
                rule_id="birthday-greeting",
                ruleset_hash="0" * 64,
                status="running",
                started_at=T0 - timedelta(days=30),
            )
        )


async def test_lists_journeys_of_changed_and_removed_rules(
    db: Database, folders: tuple[RuleBook, Path]
) -> None:
    before, edited = folders
    await seed(db, before)
    found = await journeys_of_changed_rules(db, shipped_rules(edited))
    assert [(item.workflow_id, item.change, item.ruleset) for item in found] == [
        ("wf-old-birthday", "changed", "occasions"),
        ("wf-dormant", "changed", "retention"),
        ("wf-vip-dormant", "changed", "retention"),  # only the file's hash is recorded
        ("wf-contact", "removed", None),
    ]
    assert {item.customer_id for item in found} == {"c-1"}
    # Against the rules they started with, nothing changed (except the older journey).
    assert [item.workflow_id for item in await journeys_of_changed_rules(db, before)] == [
        "wf-old-birthday"
    ]


def test_a_rule_moved_to_an_unchanged_file_is_unchanged(folders: tuple[RuleBook, Path]) -> None:
    before, _ = folders
    assert rule_change(before, "birthday-greeting", hash_of(before, "birthday-greeting")) is None
    assert rule_change(before, "no-such-rule", "x") == "removed"


@pytest.fixture
async def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path / "var"))
    monkeypatch.delenv("CAREFLOW_DATABASE_URL", raising=False)
    (tmp_path / "var").mkdir()
    before = shipped_rules(copy_rules(tmp_path / "rules"))
    edit_rules(tmp_path / "rules")
    db = create_database(f"sqlite+aiosqlite:///{tmp_path / 'var' / 'careflow.db'}")
    await db.migrate()
    await seed(db, before)
    await db.dispose()
    return tmp_path / "var", tmp_path / "rules"


def test_cli_table_json_and_broken_rules(home: tuple[Path, Path]) -> None:
    _, rules_dir = home
    table = CliRunner().invoke(app, ["rules", "diff", "--rules", str(rules_dir)])
    assert table.exit_code == 0, table.output
    assert "careflow journeys cancel --rule dormant-win-back" in table.output
    assert "removed" in table.output
    as_json = CliRunner().invoke(app, ["rules", "diff", "--rules", str(rules_dir), "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert [row["workflow_id"] for row in json.loads(as_json.output)] == [
        "wf-old-birthday",
        "wf-dormant",
        "wf-vip-dormant",
        "wf-contact",
    ]
    (rules_dir / "retention.rules.yaml").write_text("name: [\n", encoding="utf-8")
    broken = CliRunner().invoke(app, ["rules", "diff", "--rules", str(rules_dir)])
    assert broken.exit_code == 1
    assert "retention.rules.yaml" in broken.output

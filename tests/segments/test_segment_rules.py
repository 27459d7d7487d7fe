"""segments.yaml: every mistake at its line, and `in_segment:` in rules (check, evaluate,
explain, examples)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from careflow.facts import compute_facts, facts_for_customer
from careflow.paths import RULES_DIR
from careflow.rule_references import shipped_references
from careflow.rules.errors import RuleFileError
from careflow.rules.rulebook import load_rulebook
from careflow.segments import SegmentsFileError, load_segments
from careflow.store import Database
from tests.facts.store_rows import CONFIG, add_complaint, add_customer

AT = datetime(2026, 11, 11, 9, 0, tzinfo=UTC)

DERIVED = """\
facts:
  complaints_last_7d: {count: complaint_opened, within: 7d}
"""
SEGMENTS = """\
segments:
  vip_customers:
    description: Every VIP customer.
    when:
      tier: vip
  unhappy:
    description: Complained this week.
    when:
      complaints_last_7d: {at_least: 1}
"""
RULES = """\
name: vip-care
owner: care
description: VIPs.
mode: all_matches
rules:
  - id: unhappy-vip
    description: A VIP who complained this week.
    when:
      in_segment: vip_customers
      any:
        - in_segment: unhappy
        - open_complaints: {at_least: 1}
    then:
      - tag: unhappy-vip
    examples:
      - given: {in_segment: [vip_customers, unhappy]}
        expect: [tag unhappy-vip]
      - given: {in_segment: vip_customers, open_complaints: 0}
        expect: []
  - id: not-vip
    description: Everyone else.
    when:
      not: {in_segment: vip_customers}
    then:
      - tag: not-vip
    examples:
      - given: {tier: vip}
        expect: [tag not-vip]
      - given: {in_segment: vip_customers}
        expect: []
"""


def folder(tmp_path: Path, *, segments: str = SEGMENTS, rules: str = RULES) -> Path:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for name in ("journeys.yaml", "tiers.yaml", "outreach_policy.yaml", "holdout.yaml"):
        shutil.copy(RULES_DIR / name, rules_dir / name)
    (rules_dir / "derived_facts.yaml").write_text(DERIVED, encoding="utf-8")
    (rules_dir / "segments.yaml").write_text(segments, encoding="utf-8")
    (rules_dir / "vip.rules.yaml").write_text(rules, encoding="utf-8")
    return rules_dir


def test_the_shipped_segments_load() -> None:
    book = load_segments(RULES_DIR, references=shipped_references())
    assert {"vip_customers", "bought_last_year", "lapsing_customers"} <= set(book.names())
    assert all(book[name].description for name in book)


def test_a_missing_file_is_an_empty_book(tmp_path: Path) -> None:
    book = load_segments(tmp_path)
    assert book.names() == []
    assert len(book) == 0


def test_every_mistake_names_its_line_and_what_was_expected(tmp_path: Path) -> None:
    broken = """\
segments:
  VIP:
    description: Bad name.
    when: {tier: vip}
  gold:
    description: Unknown tier.
    when:
      tier: gold
  nameless:
    when: {tier: vip}
    colour: red
  by_event:
    description: An event fact.
    when:
      event_type: order_placed
  nested:
    description: Another segment.
    when:
      in_segment: gold
  empty:
    description: No conditions.
extra: 1
"""
    rules_dir = folder(tmp_path, segments=broken)
    with pytest.raises(SegmentsFileError) as raised:
        load_segments(rules_dir)
    path = rules_dir / "segments.yaml"
    shown = [str(error).removeprefix(f"{path}:") for error in raised.value.errors]
    assert shown[0].startswith("2:3: segment name 'VIP': lower-case letters")
    assert shown[1].startswith("8:13: tier is text: expected one of vip, regular, potential")
    assert shown[2] == "9:3: segment nameless: missing 'description' (who is in it)"
    assert shown[3].startswith("11:5: unknown segment key 'colour'")
    assert shown[4].startswith("15:7: segment by_event: event_type is about the event")
    assert shown[5].startswith("19:19: in_segment cannot be used here")
    assert shown[6] == "20:3: segment empty: missing 'when' (the conditions of its members)"
    assert shown[7].startswith("22:1: unknown key 'extra'")
    assert len(shown) == 8


def test_an_unknown_segment_in_a_rule_names_the_known_ones(tmp_path: Path) -> None:
    rules_dir = folder(tmp_path, rules=RULES.replace("in_segment: unhappy", "in_segment: unhapy"))
    with pytest.raises(RuleFileError) as raised:
        load_rulebook(rules_dir, references=shipped_references())
    assert [str(error) for error in raised.value.errors] == [
        f"{rules_dir}/vip.rules.yaml:11:23: unknown segment 'unhapy'; did you mean 'unhappy'? "
        "(segments in segments.yaml: unhappy, vip_customers)"
    ]


def test_a_broken_segments_file_fails_the_rule_check(tmp_path: Path) -> None:
    rules_dir = folder(tmp_path, segments=SEGMENTS.replace("tier: vip", "tier: gold"))
    with pytest.raises(RuleFileError) as raised:
        load_rulebook(rules_dir, references=shipped_references())
    shown = [str(error) for error in raised.value.errors]
    assert shown[0].startswith(f"{rules_dir}/segments.yaml:5:13: tier is text: expected one of")
    # The rules naming the broken segment say so too.
    assert any("unknown segment 'vip_customers'" in line for line in shown[1:])


def test_in_segment_fires_from_the_membership_facts(tmp_path: Path) -> None:
    rulebook = load_rulebook(folder(tmp_path), references=shipped_references())
    assert set(rulebook.derived.segments) == {"vip_customers", "unhappy"}
    member = {"in_segment:vip_customers": True, "in_segment:unhappy": True}
    fired = [intent.tag for intent in rulebook.evaluate(member).intents]
    assert fired == ["unhappy-vip"]
    outsider = {"in_segment:vip_customers": False, "in_segment:unhappy": True}
    assert [intent.tag for intent in rulebook.evaluate(outsider).intents] == ["not-vip"]
    explained = {outcome.rule_id: outcome for outcome in rulebook.explain(outsider)}
    assert str(explained["unhappy-vip"].failed_condition) == "in segment vip_customers"


def test_rules_check_and_the_release_gate_report_segment_mistakes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from careflow.cli import app
    from careflow.paths import TEMPLATES_DIR
    from careflow.releases.checking import check_folder

    rules_dir = folder(tmp_path, segments=SEGMENTS.replace("tier: vip", "tier: gold"))
    result = CliRunner().invoke(app, ["rules", "check", str(rules_dir)])
    assert result.exit_code == 1
    assert "segments.yaml:5:13: tier is text: expected one of" in result.output
    report = check_folder(rules_dir, TEMPLATES_DIR)
    assert any("segments.yaml:5:13: tier is text" in problem for problem in report.problems)


async def test_in_segment_fires_on_facts_computed_from_the_store(
    db: Database, tmp_path: Path
) -> None:
    rulebook = load_rulebook(folder(tmp_path), references=shipped_references())
    async with db.session() as session:
        vip = await add_customer(session, created_at=AT - timedelta(days=400), tier="vip")
        await add_complaint(session, vip, opened_at=AT - timedelta(days=2))
        other = await add_customer(session, created_at=AT - timedelta(days=400))
        computed = await compute_facts(
            session, [vip.id, other.id], AT, config=CONFIG, derived=rulebook.derived
        )
        explained = await facts_for_customer(
            session, vip.external_id, AT, config=CONFIG, derived=rulebook.derived
        )
    assert computed[vip.id]["in_segment:vip_customers"] is True
    assert computed[vip.id]["in_segment:unhappy"] is True
    assert computed[other.id]["in_segment:vip_customers"] is False
    tags = {
        pk: [
            intent.tag
            for intent in rulebook.evaluate({**facts, "event_type": "daily_scan"}).intents
        ]
        for pk, facts in computed.items()
    }
    assert tags == {vip.id: ["unhappy-vip"], other.id: ["not-vip"]}
    assert explained is not None
    outcomes = {outcome.rule_id: outcome for outcome in rulebook.explain(explained)}
    assert outcomes["unhappy-vip"].fired
    assert outcomes["unhappy-vip"].matched_facts["in_segment:vip_customers"] is True

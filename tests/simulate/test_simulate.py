"""`careflow simulate` over the CDNOW purchase history (a real public data set, 400 customers).

The replay's firings must be what `careflow rules explain` says for the same
customer at the same scan time, and a rule set compared with a copy whose one
threshold moved must differ by exactly the customers between the two thresholds.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from careflow.cli import app
from careflow.facts import compute_facts, facts_for_customer
from careflow.holdout import HoldoutConfig
from careflow.intake.event_facts import event_facts
from careflow.rule_references import shipped_references
from careflow.rules import RuleBook, load_rulebook
from careflow.rules.rulebook import RULE_FILE_PATTERN
from careflow.simulate import compare, replay, scratch_store, summarise
from careflow.simulate.scratch import SimulationDataError
from careflow.store import Customer, Database, Order

CDNOW = Path(__file__).resolve().parents[1] / "facts" / "data"
SHIPPED = Path(__file__).resolve().parents[2] / "rules"
# The derived facts and declared events the shipped rules name.
OPERATOR_FACT_FILES = (SHIPPED / "derived_facts.yaml", SHIPPED / "events.yaml")
START = date(1997, 10, 1)
SCAN = time(6)


def shipped_rules(folder: Path) -> RuleBook:
    """The rules in `folder`, checked against the shipped journeys and templates."""
    return load_rulebook(folder, references=shipped_references())


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(CDNOW / "cdnow_customers.csv", folder / "customers.csv")
    shutil.copy(CDNOW / "cdnow_orders.csv", folder / "orders.csv")
    return folder


@pytest.fixture
async def store(data: Path, tmp_path: Path) -> AsyncIterator[Database]:
    db = await scratch_store(data, tmp_path / "scratch", assume_consent=True)
    yield db
    await db.dispose()


async def customer_ids(db: Database) -> dict[int, str]:
    async with db.session() as session:
        return dict((await session.execute(select(Customer.id, Customer.external_id))).all())


async def explained(db: Database, rulebook: RuleBook, at: datetime) -> dict[str, set[str]]:
    """Rule id -> customers it fires for at the daily scan at `at`, as `rules explain` says."""
    ids = await customer_ids(db)
    async with db.session() as session:
        facts = await compute_facts(session, list(ids), at)
    fired: dict[str, set[str]] = {}
    for pk, snapshot in facts.items():
        for outcome in rulebook.explain({**snapshot, "event_type": "daily_scan"}):
            if outcome.fired:
                fired.setdefault(outcome.rule_id, set()).add(ids[pk])
    return fired


async def test_firings_are_what_explain_says_on_sample_days(store: Database) -> None:
    rulebook = shipped_rules(SHIPPED)
    everyone = sorted((await customer_ids(store)).values())
    result = await replay(store, rulebook, start=START, days=12, follow=everyone)
    for offset in (0, 5, 11):
        at = datetime.combine(START + timedelta(days=offset), SCAN, UTC)
        replayed: dict[str, set[str]] = {}
        for customer, entries in result.timelines.items():
            for when, trigger, rule_id in entries:
                if when == at and trigger == "daily_scan":
                    replayed.setdefault(rule_id, set()).add(customer)
        assert replayed == await explained(store, rulebook, at)
        assert replayed  # the sample days are not empty
    # Each order of the first day is evaluated at its time with its event facts.
    day_start = datetime.combine(START, time(), UTC)
    async with store.session() as session:
        orders = (
            await session.execute(
                select(Customer.external_id, Order.ordered_at)
                .join(Order, Order.customer_id == Customer.id)
                .where(Order.ordered_at >= day_start, Order.ordered_at < day_start + timedelta(1))
            )
        ).all()
        expected: set[tuple[str, str]] = set()
        for customer, at in orders:
            facts = await facts_for_customer(session, customer, at)
            assert facts is not None
            for outcome in rulebook.explain({**facts, **event_facts("order_placed", {})}):
                if outcome.fired:
                    expected.add((customer, outcome.rule_id))
    on_orders = {
        (customer, rule_id)
        for customer, entries in result.timelines.items()
        for when, trigger, rule_id in entries
        if trigger == "order_placed" and when.date() == START
    }
    assert orders
    assert on_orders == expected
    report = summarise(result)
    by_rule = {rule.rule_id: rule for rule in report.rules}
    assert by_rule["dormant-win-back"].customers == len(
        result.customers_by_rule["dormant-win-back"]
    )
    # One retention journey per customer and re-entry period, however often a rule fires.
    ids = [start.workflow_id for start in result.journeys]
    assert len(ids) == len(set(ids))
    assert by_rule["dormant-win-back"].firings > by_rule["dormant-win-back"].customers


async def test_same_data_and_rules_give_the_same_report(store: Database) -> None:
    rulebook = shipped_rules(SHIPPED)
    first = summarise(await replay(store, rulebook, start=START, days=5))
    second = summarise(await replay(store, rulebook, start=START, days=5))
    assert first == second


async def test_a_moved_threshold_differs_by_the_customers_between(
    store: Database, tmp_path: Path
) -> None:
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    for path in [*SHIPPED.glob(RULE_FILE_PATTERN), *OPERATOR_FACT_FILES]:
        shutil.copy(path, other_dir / path.name)
    retention = other_dir / "retention.rules.yaml"
    text = retention.read_text(encoding="utf-8")
    retention.write_text(text.replace("between: [90, 365]", "between: [120, 365]"), "utf-8")
    base = await replay(store, shipped_rules(SHIPPED), start=START, days=1)
    other = await replay(store, shipped_rules(other_dir), start=START, days=1)
    comparison = compare(base, other)

    ids = await customer_ids(store)
    async with store.session() as session:
        facts = await compute_facts(session, list(ids), datetime.combine(START, SCAN, UTC))
    between = {
        ids[pk]
        for pk, f in facts.items()
        if f["lifecycle_stage"] == "dormant"
        and f["tier"] != "vip"
        and 90 <= int(f.get("days_since_last_order", -1)) < 120  # type: ignore[call-overload]
    }
    assert between
    [rule] = [r for r in comparison.rules if r.rule_id == "dormant-win-back"]
    assert (rule.newly, rule.no_longer) == ([], sorted(between))
    [journey] = [j for j in comparison.journeys if j.journey == "retention_offer"]
    assert journey.newly == []
    assert set(journey.no_longer) <= between
    day = START.isoformat()
    assert comparison.starts_per_day_change[day] == {"retention_offer": -len(journey.no_longer)}
    assert all(j.newly == j.no_longer == [] for j in comparison.journeys if j is not journey)


async def test_holdout_customers_start_nothing(store: Database) -> None:
    holdout = HoldoutConfig(salt="s", journeys={"retention_offer": 0.5})
    result = await replay(
        store,
        shipped_rules(SHIPPED),
        start=START,
        days=1,
        holdout=holdout,
    )
    offers = [s for s in result.journeys if s.journey == "retention_offer"]
    held = [s for s in result.journeys if s.held_out]
    assert 0 < len(held) < len(offers)
    assert all(s.journey == "retention_offer" for s in held)
    assert all(holdout.holds_out(s.customer_id, "retention_offer") for s in held)
    [journey] = [j for j in summarise(result).journeys if j.journey == "retention_offer"]
    assert (journey.started, journey.held_out) == (len(offers) - len(held), len(held))


def test_cli_report_compare_and_json(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path / "var"))
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    for path in [*SHIPPED.glob(RULE_FILE_PATTERN), *OPERATOR_FACT_FILES]:
        shutil.copy(path, other_dir / path.name)
    retention = other_dir / "retention.rules.yaml"
    text = retention.read_text(encoding="utf-8")
    retention.write_text(text.replace("between: [90, 365]", "between: [120, 365]"), "utf-8")
    period = ["--data", str(data), "--from", "1997-10-01", "--days", "3", "--assume-consent"]
    period.append("--rules-only")
    out = tmp_path / "report.json"
    follow = ["--customer", "cdnow-00021", "--customer", "cdnow-00004"]
    single = CliRunner().invoke(app, ["simulate", *period, *follow, "--json", str(out)])
    assert single.exit_code == 0, single.output
    assert "dormant-win-back" in single.output
    assert "timeline of cdnow-00021" in single.output
    assert "daily_scan fired dormant-win-back" in single.output
    assert "start retention_offer" in single.output
    assert "no rule fired and no journey started" in single.output  # cdnow-00004
    report = json.loads(out.read_text(encoding="utf-8"))
    assert {"rules", "journeys", "starts_per_day", "timelines"} <= set(report)
    compared = CliRunner().invoke(app, ["simulate", *period, "--compare", str(other_dir)])
    assert compared.exit_code == 0, compared.output
    assert "rules that fire for other customers" in compared.output
    assert len(list((tmp_path / "var" / "simulate").glob("*.db"))) == 1  # imported once


def test_cli_missing_data_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREFLOW_HOME", str(tmp_path / "var"))
    result = CliRunner().invoke(
        app, ["simulate", "--data", str(tmp_path), "--from", "1997-10-01", "--days", "1"]
    )
    assert result.exit_code == 1
    assert "no customers.csv" in result.output


async def test_scratch_needs_customers(tmp_path: Path) -> None:
    with pytest.raises(SimulationDataError):
        await scratch_store(tmp_path, tmp_path / "scratch", assume_consent=False)


async def test_scratch_store_is_imported_once_per_data_and_assumption(
    store: Database, data: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "scratch"
    [kept] = cache.glob("*.db")
    modified = kept.stat().st_mtime_ns
    again = await scratch_store(data, cache, assume_consent=True)
    try:
        assert sorted(await customer_ids(again)) == sorted(await customer_ids(store))
    finally:
        await again.dispose()
    assert kept.stat().st_mtime_ns == modified  # reused, not rebuilt
    other = await scratch_store(data, cache, assume_consent=False)
    await other.dispose()
    assert len(list(cache.glob("*.db"))) == 2
    assert not list(cache.glob("*.building"))

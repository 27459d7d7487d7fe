"""rules/tiers.yaml: the shipped file is valid, and mistakes name their line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from careflow.facts import FactsConfigError, load_facts_config
from careflow.paths import RULES_DIR

VALID = """\
tiers:
  vip:
    min_spend_last_365d: 5000
  regular:
    min_order_count: 2
lifecycle:
  new_customer_days: 30
  dormant_after_days: 90
  churned_after_days: 365
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tiers.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_file_is_valid() -> None:
    config = load_facts_config(RULES_DIR / "tiers.yaml")
    assert config.lifecycle.dormant_after_days < config.lifecycle.churned_after_days
    assert set(config.occasions.holiday_names.values()) >= {"spring_festival", "mid_autumn"}


def test_defaults_fill_the_occasions(tmp_path: Path) -> None:
    config = load_facts_config(write(tmp_path, VALID))
    assert config.occasions.default_timezone == "UTC"
    assert config.tiers.vip.min_total_spent is None


def test_every_mistake_is_reported_with_its_line(tmp_path: Path) -> None:
    text = (
        VALID.replace("min_order_count: 2", "min_orders: 2").replace(
            "churned_after_days: 365", "churned_after_days: 60"
        )
        + "occasions:\n  default_timezone: Mars/Olympus\n  holiday_names:\n    X: diwali\n"
    )
    with pytest.raises(FactsConfigError) as caught:
        load_facts_config(write(tmp_path, text))
    problems = "\n".join(caught.value.problems)
    assert "tiers.yaml:5: tiers.regular.min_orders: Extra inputs are not permitted" in problems
    assert "tiers.yaml:6: lifecycle:" in problems
    assert "churned_after_days" in problems
    assert "tiers.yaml:11: occasions.default_timezone:" in problems
    assert "Mars" in problems
    assert "tiers.yaml:12: occasions.holiday_names:" in problems
    assert "diwali" in problems


def test_a_tier_needs_a_threshold(tmp_path: Path) -> None:
    with pytest.raises(FactsConfigError) as caught:
        load_facts_config(write(tmp_path, VALID.replace("    min_order_count: 2\n", "    {}\n")))
    assert caught.value.problems == [
        "tiers.yaml:4: tiers.regular: set at least one of min_spend_last_365d, "
        "min_total_spent, min_order_count"
    ]


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    assert load_facts_config(path).lifecycle.new_customer_days == 30
    path.write_text(VALID.replace("new_customer_days: 30", "new_customer_days: 14"))
    assert load_facts_config(path).lifecycle.new_customer_days == 14


def test_missing_file_and_broken_yaml(tmp_path: Path) -> None:
    with pytest.raises(FactsConfigError, match="file not found"):
        load_facts_config(tmp_path / "absent.yaml")
    with pytest.raises(FactsConfigError, match="not valid YAML"):
        load_facts_config(write(tmp_path, "tiers: [unclosed"))

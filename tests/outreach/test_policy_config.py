"""rules/outreach_policy.yaml: the shipped file loads; mistakes name file, line and field."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from careflow.outreach import OutreachPolicyError, OverBudget, Topic, load_outreach_policy
from careflow.outreach.templates import available_templates
from careflow.paths import RULES_DIR, TEMPLATES_DIR

VALID = """\
version: 1
default_timezone: Asia/Shanghai
quiet_hours:
  start: "21:00"
  end: "09:00"
contact_budget:
  window_days: 7
  marketing_max: 2
  total_max: 4
messages:
  birthday_greeting: { over_budget: skip }
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "outreach_policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_policy_loads_and_names_only_real_templates() -> None:
    policy = load_outreach_policy(RULES_DIR / "outreach_policy.yaml")
    assert policy.quiet_hours.start == time(21)
    assert policy.quiet_hours.applies_to == {Topic.CARE, Topic.MARKETING}
    assert policy.locales.fallback == ("zh-CN", "en")
    assert policy.unknown_templates(available_templates(TEMPLATES_DIR)) == []


def test_message_handling_falls_back_to_the_budget_defaults(tmp_path: Path) -> None:
    policy = load_outreach_policy(write(tmp_path, VALID))
    assert policy.handling("birthday_greeting").over_budget is OverBudget.SKIP
    other = policy.handling("retention_offer")
    assert (other.over_budget, other.max_delay) == (OverBudget.DEFER, timedelta(days=7))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  total_max: 4", "  total_max: 1", ":6: contact_budget: total_max counts"),
        ("  window_days: 7", "  window_days: 0", ":7: contact_budget.window_days: "),
        ('  start: "21:00"', "  start: 21", ":4: quiet_hours.start: write the time in quotes"),
        ('  end: "09:00"', '  end: "25:00"', ":5: quiet_hours.end: "),
        (
            "default_timezone: Asia/Shanghai",
            "default_timezone: Asia/Peking",
            ":2: default_timezone",
        ),
        ("quiet_hours:", "quiet_hour:", ":3: quiet_hour: "),
        ("{ over_budget: skip }", "{ over_budget: later }", ":11: messages.birthday_greeting.over"),
        ("  birthday_greeting:", "  Birthday-Greeting:", ":10: messages: template ids"),
    ],
)
def test_a_mistake_names_file_line_and_field(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new))
    with pytest.raises(OutreachPolicyError) as caught:
        load_outreach_policy(path)
    assert any(
        problem.startswith("outreach_policy.yaml" + expected) for problem in caught.value.problems
    ), caught.value.problems
    assert str(path) in str(caught.value)


def test_every_mistake_is_reported_at_once(tmp_path: Path) -> None:
    text = VALID.replace("  total_max: 4", "  total_max: -1").replace(
        "default_timezone: Asia/Shanghai", "default_timezone: Mars/Base"
    )
    with pytest.raises(OutreachPolicyError) as caught:
        load_outreach_policy(write(tmp_path, text))
    assert len(caught.value.problems) == 2


def test_a_missing_or_broken_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(OutreachPolicyError, match="file not found"):
        load_outreach_policy(tmp_path / "nope.yaml")
    with pytest.raises(OutreachPolicyError, match="not valid YAML"):
        load_outreach_policy(write(tmp_path, "quiet_hours: [\n"))


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    assert load_outreach_policy(path).contact_budget.marketing_max == 2
    path.write_text(VALID.replace("marketing_max: 2", "marketing_max: 1"), encoding="utf-8")
    assert load_outreach_policy(path).contact_budget.marketing_max == 1

"""Campaign files: every mistake of every file at once, each with its line, column and
what was expected; the shipped example passes `rules check`'s campaign check."""

from __future__ import annotations

from pathlib import Path

import pytest

from careflow.campaigns.checks import campaign_file_problems
from careflow.campaigns.spec import CampaignFileError, load_campaign, load_campaigns
from careflow.paths import RULES_DIR, TEMPLATES_DIR
from careflow.rule_references import shipped_references
from tests.campaigns.harness import campaign_file


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "campaigns").mkdir()
    for name, text in files.items():
        (tmp_path / "campaigns" / name).write_text(text, encoding="utf-8")
    return tmp_path


def _problems(rules: Path) -> list[str]:
    with pytest.raises(CampaignFileError) as raised:
        load_campaigns(
            rules,
            references=shipped_references(),
            segments={"vips"},
            events={"order_placed"},
        )
    return raised.value.problems


def test_the_shipped_campaign_passes_the_check() -> None:
    assert campaign_file_problems(RULES_DIR, TEMPLATES_DIR) == []
    spec = load_campaign(RULES_DIR, "member_day")
    assert (spec.segment, spec.templates, spec.holdout) == ("vip_customers", ("member_day",), 0.1)


def test_every_mistake_is_named_with_its_line(tmp_path: Path) -> None:
    rules = _folder(
        tmp_path,
        {
            "a.campaign.yaml": campaign_file(
                segment="nobody",
                template="no_such_template",
                goal="{event: order_shipped, within: 7d}",
            ),
            "b.campaign.yaml": campaign_file(
                send_window='{from: "20:00", to: "08:00"}', holdout="0.7"
            ),
            "c.campaign.yaml": campaign_file(
                template="", variants="{short: {template: member_day}}", locales="[zh-CN, fr]"
            ),
            "d.campaign.yaml": campaign_file(topic="transactional"),
            "e.campaign.yaml": campaign_file(template=""),
            "Bad-Name.campaign.yaml": campaign_file(),
        },
    )
    problems = _problems(rules)
    text = "\n".join(problems)
    assert problems[0].startswith("Bad-Name.campaign.yaml:1:1: campaign name 'Bad-Name'")
    assert "a.campaign.yaml:1:1: segment: unknown segment 'nobody'; expected one of vips" in text
    assert "a.campaign.yaml:9:8: goal.event: unknown event type 'order_shipped'" in text
    assert "a.campaign.yaml:4:1: template: unknown template 'no_such_template'" in text
    assert "b.campaign.yaml:6:1: send_window: the window must start before it ends" in text
    assert "b.campaign.yaml:7:1: holdout: Input should be less than or equal to 0.5" in text
    assert (
        "c.campaign.yaml:8:20: variants.short.template: template 'member_day' has no fr version"
        in text
    )
    assert "d.campaign.yaml:2:1: topic: Input should be 'care' or 'marketing'" in text
    assert "e.campaign.yaml:1:1: (top level): expected either `template` or `variants`" in text


def test_a_missing_campaign_names_those_there_are() -> None:
    with pytest.raises(CampaignFileError, match="no campaign 'nope': expected one of member_day"):
        load_campaign(RULES_DIR, "nope")


def test_the_campaign_goal_is_its_experiment_goal_in_the_kpis() -> None:
    from careflow.experiments.results import Goal
    from careflow.kpis.report import campaign_goals

    assert campaign_goals(RULES_DIR) == {"campaign:member_day": Goal("order_placed", 7.0)}

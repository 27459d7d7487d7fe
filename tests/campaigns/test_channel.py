"""A campaign's `channel`: `email`, `sms` or `preferred`; `channel: sms` needs each of its
templates as an SMS (templates/sms/, its code in rules/sms.yaml, every locale, within
the segment limit with the signature and opt-out text), each mistake named with its line."""

from __future__ import annotations

import shutil
from pathlib import Path

from careflow.campaigns.checks import campaign_file_problems
from careflow.campaigns.spec import load_campaign
from careflow.paths import TEMPLATES_DIR
from tests.campaigns.harness import campaign_file, rules_folder

SMS = {"channel": "sms", "template": "member_day", "locales": "[zh-CN, en]"}


def test_sms_and_preferred_campaigns_of_a_template_with_an_sms_version_pass(
    tmp_path: Path,
) -> None:
    rules = rules_folder(
        tmp_path,
        {
            "by_sms": campaign_file(**SMS),
            "preferred": campaign_file(**{**SMS, "channel": "preferred"}),
            # `preferred` needs no SMS version: it falls back along sms.yaml's order.
            "preferred_email": campaign_file(channel="preferred"),
        },
    )
    assert campaign_file_problems(rules, TEMPLATES_DIR) == []
    assert load_campaign(rules, "by_sms").send_channel == "sms"
    assert load_campaign(rules, "preferred").send_channel is None
    assert load_campaign(rules, "preferred_email").send_channel is None


def test_a_template_without_an_sms_version_is_named_with_its_line(tmp_path: Path) -> None:
    rules = rules_folder(
        tmp_path,
        {
            "a": campaign_file(channel="sms"),  # holiday_greeting: email only
            "b": campaign_file(
                channel="sms",
                template="",
                locales="[zh-CN, en]",
                variants="{ok: {template: member_day}, mail: {template: holiday_greeting}}",
            ),
            "c": campaign_file(channel="fax"),
        },
    )
    problems = campaign_file_problems(rules, TEMPLATES_DIR)
    text = "\n".join(problems)
    assert (
        "campaigns/a.campaign.yaml:4:1: template: channel: sms, but template "
        "'holiday_greeting' cannot go by SMS: there is no SMS template "
        "templates/sms/holiday_greeting/body.LOCALE.j2; expected "
        "templates/sms/holiday_greeting/body.LOCALE.j2 for every locale of the campaign "
        "and its code under templates: in rules/sms.yaml"
    ) in text
    assert (
        "campaigns/b.campaign.yaml:8:47: variants.mail.template: channel: sms, but template "
        "'holiday_greeting' cannot go by SMS"
    ) in text
    assert "variants.ok" not in text
    assert (
        "campaigns/c.campaign.yaml:3:1: channel: Input should be 'email', 'sms' or 'preferred'"
        in text
    )
    assert len(problems) == 3


def test_an_sms_template_without_its_sms_yaml_entry_is_refused(tmp_path: Path) -> None:
    rules = rules_folder(tmp_path, {"a": campaign_file(**SMS)})
    sms = (rules / "sms.yaml").read_text(encoding="utf-8")
    sms = sms.replace("  member_day:\n    code: SMS_CAREFLOW_MEMBER_DAY\n", "")
    sms = sms.replace("    params: {name: customer.name}\n", "")
    sms = sms.replace("  member_day: [email, sms]\n", "")
    (rules / "sms.yaml").write_text(sms, encoding="utf-8")
    assert campaign_file_problems(rules, TEMPLATES_DIR) == [
        "campaigns/a.campaign.yaml:4:1: template: channel: sms, but template 'member_day' "
        "cannot go by SMS: sms.yaml has no templates.member_day entry (its code); expected "
        "templates/sms/member_day/body.LOCALE.j2 for every locale of the campaign and its "
        "code under templates: in rules/sms.yaml"
    ]


def test_an_sms_too_long_or_missing_a_locale_is_refused_as_rules_check_refuses_it(
    tmp_path: Path,
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    # With 【careflow】 and the marketing opt-out text, three UCS-2 segments.
    (templates / "sms" / "member_day" / "body.en.j2").write_text(
        "Thank you for being with us on Member Day. " * 3 + "\n", encoding="utf-8"
    )
    rules = rules_folder(
        tmp_path,
        {
            "long": campaign_file(**SMS),
            "french": campaign_file(**{**SMS, "template": "retention_offer", "locales": "[fr]"}),
        },
    )
    problems = campaign_file_problems(rules, templates)
    text = "\n".join(problems)
    assert "campaigns/long.campaign.yaml:4:1: template: channel: sms, but template" in text
    assert (
        "templates/sms/member_day/body.en.j2: 145 characters (UCS-2) with the signature and "
        "opt-out text take 3 segments; sms.yaml allows 2"
    ) in text
    assert (
        "campaigns/french.campaign.yaml:4:1: template: channel: sms, but template "
        "'retention_offer' cannot go by SMS: templates/sms/retention_offer/ has no fr version"
    ) in text

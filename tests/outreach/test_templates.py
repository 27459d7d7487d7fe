"""TemplateRenderer: shipped templates, locale fallback, layouts, Babel filters, errors."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from careflow.campaigns.spec import load_campaigns
from careflow.journey_spec import Audience, template_audiences
from careflow.outreach import TemplateProblem, TemplateRenderer, available_templates
from careflow.outreach.samples import check_templates, sample_context
from careflow.outreach.templates import template_locales
from careflow.paths import RULES_DIR, TEMPLATES_DIR
from careflow.workflows.registry import JOURNEYS
from tests.outreach.template_files import simple_template

MakeTemplates = Callable[[dict[str, str]], Path]

# The templates the journeys send and who they go to, as each journey declares them,
# then those of the shipped campaigns (rules/campaigns/), which go to their topic.
AUDIENCES: dict[str, Audience] = template_audiences(JOURNEYS.values())
for _campaign in load_campaigns(RULES_DIR, references=None, segments=None).values():
    for _template in _campaign.templates:
        AUDIENCES.setdefault(_template, cast(Audience, _campaign.topic))
SHIPPED_TEMPLATES = set(AUDIENCES)
# Everything str.splitlines() treats as a line boundary.
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
HOLIDAYS = (
    "new_year",
    "spring_festival",
    "lantern_festival",
    "qingming",
    "labour_day",
    "dragon_boat",
    "mid_autumn",
    "national_day",
    "christmas",
)


def test_every_journey_and_campaign_template_is_in_both_locales(
    shipped_templates: Path,
) -> None:
    assert available_templates(shipped_templates) == SHIPPED_TEMPLATES
    for template_id in SHIPPED_TEMPLATES:
        assert template_locales(shipped_templates, template_id) == {"en", "zh-CN"}


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("template_id", sorted(SHIPPED_TEMPLATES))
def test_every_shipped_template_renders_with_sample_data(
    shipped_templates: Path, template_id: str, locale: str
) -> None:
    context = sample_context(template_id, locale, audience=AUDIENCES[template_id])
    message = TemplateRenderer(shipped_templates).render(template_id, locale, context)

    assert message.locale == locale
    assert message.template_id == template_id
    assert message.subject
    assert "\n" not in message.subject
    assert message.text.strip()
    assert message.html.strip()
    assert f'<html lang="{locale}">' in message.html
    for part in (message.subject, message.text, message.html):
        assert "None" not in part
    # The footer adapts: an unsubscribe link exactly when the message has one.
    unsubscribe_url = context["unsubscribe_url"]
    if unsubscribe_url:
        assert isinstance(unsubscribe_url, str)
        assert unsubscribe_url in message.text
        assert unsubscribe_url in message.html
    if locale == "zh-CN" and not template_id.startswith("staff_"):
        assert "您好" in message.text


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("holiday", [*HOLIDAYS, "some_new_holiday"])
def test_holiday_greeting_names_each_holiday(
    shipped_templates: Path, holiday: str, locale: str
) -> None:
    context = {**sample_context("holiday_greeting", locale, audience="care"), "holiday": holiday}
    message = TemplateRenderer(shipped_templates).render("holiday_greeting", locale, context)
    assert message.subject in message.text


def test_check_templates_finds_no_problem_in_shipped_templates(shipped_templates: Path) -> None:
    assert check_templates(shipped_templates, audiences=AUDIENCES) == []


def test_check_templates_reports_a_typo_with_file_and_line(make_templates: MakeTemplates) -> None:
    root = make_templates(simple_template(body="Hello\n{{ customer.nmae }}"))
    [problem] = check_templates(root)
    assert problem.path is not None
    assert problem.path.endswith("t/body.txt.en.j2")
    assert problem.line == 2
    assert "nmae" in problem.message


def test_missing_variable_is_reported_with_file_and_line(make_templates: MakeTemplates) -> None:
    root = make_templates(simple_template(body="Dear customer,\n\nyour case {{ case.reference }}"))
    with pytest.raises(TemplateProblem) as caught:
        TemplateRenderer(root).render("t", "en", {})
    problem = caught.value
    assert problem.path is not None
    assert problem.path.endswith("t/body.txt.en.j2")
    assert problem.line == 3
    assert "undefined" in problem.message
    assert "case" in problem.message
    assert str(problem).startswith(f"{problem.path}:3: ")


def test_syntax_error_is_reported_with_file_and_line(make_templates: MakeTemplates) -> None:
    root = make_templates(simple_template(subject="Hi\n{% if %}"))
    with pytest.raises(TemplateProblem) as caught:
        TemplateRenderer(root).render("t", "en", {})
    assert caught.value.path is not None
    assert caught.value.path.endswith("t/subject.en.j2")
    assert caught.value.line == 2
    assert "syntax error" in caught.value.message


def test_a_locale_without_all_three_parts_is_a_problem(make_templates: MakeTemplates) -> None:
    files = simple_template(locale="zh-CN")
    del files["t/body.html.zh-CN.j2"]
    root = make_templates({**files, **simple_template(locale="en")})
    with pytest.raises(TemplateProblem) as caught:
        TemplateRenderer(root).render("t", "zh-CN", {})
    assert caught.value.path is not None
    assert caught.value.path.endswith("t/body.html.zh-CN.j2")


def test_unknown_or_unsafe_template_ids_are_problems(make_templates: MakeTemplates) -> None:
    renderer = TemplateRenderer(make_templates(simple_template()))
    with pytest.raises(TemplateProblem, match="no subject"):
        renderer.render("nope", "en", {})
    with pytest.raises(TemplateProblem, match="must be lower-case"):
        renderer.render("../t", "en", {})


@pytest.mark.parametrize(
    ("requested", "fallbacks", "expected"),
    [
        ("zh-CN", ("en",), "zh-CN"),
        ("zh_cn", ("en",), "zh-CN"),
        ("zh-TW", ("en",), "zh"),
        ("zh-Hant-TW", ("en",), "zh"),
        ("fr-CA", ("en",), "fr"),
        ("de-DE", ("fr",), "fr"),
        ("de-DE", (), "en"),
        (None, ("fr",), "fr"),
        (None, (), "en"),
        ("", ("zh-CN", "en"), "zh-CN"),
    ],
)
def test_locale_fallback_order(
    make_templates: MakeTemplates,
    requested: str | None,
    fallbacks: tuple[str, ...],
    expected: str,
) -> None:
    files: dict[str, str] = {}
    for locale in ("zh-CN", "zh", "fr", "en"):
        files.update(simple_template(locale=locale, subject=f"subject {locale}"))
    renderer = TemplateRenderer(make_templates(files), fallbacks)
    message = renderer.render("t", requested, {})
    assert message.locale == expected
    assert message.subject == f"subject {expected}"


def test_layouts_follow_the_locale_of_the_message(make_templates: MakeTemplates) -> None:
    files = {
        **simple_template(locale="zh-CN", body="正文"),
        **simple_template(locale="en", body="body"),
        "_layouts/base.txt.zh.j2": "【{% block body %}{% endblock %}】",
        "_layouts/base.txt.en.j2": "[{% block body %}{% endblock %}]",
    }
    renderer = TemplateRenderer(make_templates(files))
    assert renderer.render("t", "zh-CN", {}).text == "【正文】"
    assert renderer.render("t", "en-US", {}).text == "[body]"
    # No HTML layout for either locale: the locale-neutral one is used.
    assert renderer.render("t", "zh-CN", {}).html == "<html>正文</html>"


def test_newlines_in_a_name_never_leave_the_subject_line(shipped_templates: Path) -> None:
    hostile = "Ann\r\nBcc: victim@example.com\r\n\r\n<script>alert(1)</script>\u2028X"
    context = sample_context("birthday_greeting", "en")
    context["customer"] = {**context["customer"], "name": hostile}  # type: ignore[dict-item]
    message = TemplateRenderer(shipped_templates).render("birthday_greeting", "en", context)

    assert not any(ch in message.subject for ch in "\r\n\u2028")
    assert message.subject.startswith("Happy birthday, Ann Bcc: victim@example.com")
    # The HTML part escapes markup from data; the text part is plain text.
    assert "<script>" not in message.html
    assert "&lt;script&gt;" in message.html
    assert "<script>" in message.text

    email = EmailMessage()
    email["To"] = "ann@example.com"
    email["Subject"] = message.subject
    email.set_content(message.text)
    parsed = message_from_bytes(bytes(email), policy=default_policy)
    assert parsed.get_all("Bcc") is None
    assert str(parsed["Subject"]).strip() == message.subject


def test_money_and_dates_follow_locale_and_time_zone(make_templates: MakeTemplates) -> None:
    body = (
        "{{ amount|money('CNY') }}|{{ when|date_local }}|{{ when|datetime_local }}"
        "|{{ day|date_local('short') }}"
    )
    files = {
        **simple_template(locale="zh-CN", body=body),
        **simple_template(locale="en", body=body),
    }
    renderer = TemplateRenderer(make_templates(files))
    # 20:30 UTC on the 23rd is already the 24th in Shanghai.
    context = {
        "amount": 1234.5,
        "when": datetime(2026, 11, 23, 20, 30, tzinfo=UTC),
        "day": date(2026, 2, 17),
    }

    zh = renderer.render("t", "zh-CN", context, time_zone="Asia/Shanghai").text
    assert zh == "¥1,234.50|2026年11月24日|2026年11月24日 04:30|2026/2/17"
    gb = renderer.render("t", "en-GB", context, time_zone="Europe/London").text
    assert gb == "CN¥1,234.50|23 November 2026|23 November 2026, 20:30|17/02/2026"
    us = renderer.render(
        "t", "en-US", {**context, "customer": {"timezone": "America/New_York"}}
    ).text
    assert us == "CN¥1,234.50|November 23, 2026|November 23, 2026, 3:30\u202fPM|2/17/26"
    # An unknown zone on the customer's record falls back to UTC rather than failing.
    bad_zone = {**context, "customer": {"timezone": "Mars/Olympus"}}
    assert renderer.render("t", "en-GB", bad_zone).text.endswith("20:30|17/02/2026")


def test_a_naive_time_is_a_problem_not_a_guess(make_templates: MakeTemplates) -> None:
    root = make_templates(simple_template(body="{{ when|datetime_local }}"))
    with pytest.raises(TemplateProblem, match="time zone"):
        TemplateRenderer(root).render("t", "en", {"when": datetime(2026, 1, 1, 9)})  # noqa: DTZ001


def test_none_prints_as_nothing(make_templates: MakeTemplates) -> None:
    root = make_templates(simple_template(body="[{{ customer.name }}]"))
    assert TemplateRenderer(root).render("t", "en", {"customer": {"name": None}}).text == "[]"


def test_caller_cannot_override_the_renderers_own_names(make_templates: MakeTemplates) -> None:
    root = make_templates(simple_template(body="{{ message_locale }}"))
    message = TemplateRenderer(root).render(
        "t", "en", {"layout": "../../etc/passwd", "message_locale": "xx"}
    )
    assert message.text == "en"


def test_required_variables_lists_what_the_send_step_must_provide(shipped_templates: Path) -> None:
    renderer = TemplateRenderer(shipped_templates)
    assert renderer.required_variables("complaint_ack", "en") == {
        "customer",
        "case",
        "unsubscribe_url",
    }
    assert "offer" in renderer.required_variables("retention_offer", "zh-CN")


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_optional_case_fields_may_be_missing(shipped_templates: Path, locale: str) -> None:
    context = sample_context("complaint_resolved", locale)
    case = dict(context["case"])  # type: ignore[call-overload]
    del case["resolved_at"], case["resolution"]
    context["case"] = case
    message = TemplateRenderer(shipped_templates).render("complaint_resolved", locale, context)
    assert case["reference"] in message.text


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_contact_change_without_the_old_value_shows_only_the_new(
    shipped_templates: Path, locale: str
) -> None:
    context = sample_context("staff_contact_change", locale)
    context["changes"] = [{"field": "email", "old": "", "new": "new@example.com"}]
    message = TemplateRenderer(shipped_templates).render("staff_contact_change", locale, context)
    assert "new@example.com" in message.text
    assert "->" not in message.text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("{{ 'lots'|money('CNY') }}", "expected a number"),
        ("{{ true|money('CNY') }}", "yes/no"),
        ("{{ 'soon'|date_local }}", "expected a date"),
    ],
)
def test_a_filter_given_the_wrong_kind_of_value_is_a_problem(
    make_templates: MakeTemplates, body: str, expected: str
) -> None:
    root = make_templates(simple_template(body=body))
    with pytest.raises(TemplateProblem, match=expected) as caught:
        TemplateRenderer(root).render("t", "en", {})
    assert caught.value.line == 1


def test_required_variables_reports_a_syntax_error_as_a_problem(
    make_templates: MakeTemplates,
) -> None:
    root = make_templates(simple_template(body="ok\n{{ broken }"))
    with pytest.raises(TemplateProblem) as caught:
        TemplateRenderer(root).required_variables("t")
    assert caught.value.line == 2


# Built once: hypothesis calls the test below hundreds of times.
SHIPPED = TemplateRenderer(TEMPLATES_DIR)


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=80))
def test_no_name_can_break_the_subject_line(name: str) -> None:
    renderer = SHIPPED
    context = sample_context("birthday_greeting", "en")
    context["customer"] = {**context["customer"], "name": name}  # type: ignore[dict-item]
    subject = renderer.render("birthday_greeting", "en", context).subject
    assert subject == subject.strip()
    assert not any(line_break in subject for line_break in LINE_BREAKS)
    email = EmailMessage()
    email["Subject"] = subject  # EmailMessage refuses header values with line breaks
    parsed = message_from_bytes(bytes(email), policy=default_policy)
    assert list(parsed.keys()) == ["Subject"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_edited_template_is_picked_up_within_the_recheck_interval(
    make_templates: MakeTemplates,
) -> None:
    root = make_templates(simple_template(subject="first"))
    clock = FakeClock()
    renderer = TemplateRenderer(root, recheck_seconds=1.0, clock=clock)
    assert renderer.render("t", "en", {}).subject == "first"
    subject_file = root / "email" / "t" / "subject.en.j2"
    subject_file.write_text("second", encoding="utf-8")
    # A later modification time than the first version's, whatever the file system's
    # time resolution.
    stat = subject_file.stat()
    os.utime(subject_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    clock.now += 0.5
    assert renderer.render("t", "en", {}).subject == "first", "not checked again yet"
    clock.now += 0.6
    assert renderer.render("t", "en", {}).subject == "second"


def test_a_new_locale_is_found_within_the_recheck_interval(make_templates: MakeTemplates) -> None:
    root = make_templates(simple_template(locale="en", subject="english"))
    clock = FakeClock()
    renderer = TemplateRenderer(root, recheck_seconds=1.0, clock=clock)
    assert renderer.render("t", "fr", {}).subject == "english"
    for name, content in simple_template(locale="fr", subject="français").items():
        (root / "email" / name).write_text(content, encoding="utf-8")
    assert renderer.render("t", "fr", {}).subject == "english"
    clock.now += 1.0
    assert renderer.render("t", "fr", {}).subject == "français"


def test_without_a_recheck_interval_every_render_sees_the_files(
    make_templates: MakeTemplates,
) -> None:
    root = make_templates(simple_template(locale="en", subject="english"))
    renderer = TemplateRenderer(root, recheck_seconds=0)
    assert renderer.render("t", "fr", {}).subject == "english"
    for name, content in simple_template(locale="fr", subject="français").items():
        (root / "email" / name).write_text(content, encoding="utf-8")
    assert renderer.render("t", "fr", {}).subject == "français"

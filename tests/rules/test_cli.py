"""`careflow rules check`: exit 0 when clean, 1 with every error at its line otherwise."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from careflow.cli.app import app
from careflow.paths import RULES_DIR, TEMPLATES_DIR
from tests.rules.test_rule_errors import VALID

runner = CliRunner()


def test_shipped_rules_are_clean() -> None:
    result = runner.invoke(app, ["rules", "check"])
    assert result.exit_code == 0, result.output
    assert "ok:" in result.output


def test_a_valid_file_passes(tmp_path: Path) -> None:
    path = tmp_path / "retention.rules.yaml"
    path.write_text(VALID)
    result = runner.invoke(app, ["rules", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 ruleset(s), 1 rule(s), 1 example(s) passed" in result.output


def test_malformed_files_exit_1_with_every_error(tmp_path: Path) -> None:
    (tmp_path / "a.rules.yaml").write_text(VALID.replace("tier: {is_not", "tire: {is_not"))
    (tmp_path / "b.rules.yaml").write_text(
        VALID.replace("name: retention", "name: other").replace(
            "start: retention_offer", "start: nope"
        )
    )
    result = runner.invoke(app, ["rules", "check", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path}/a.rules.yaml:11:7: unknown fact 'tire'" in result.output
    assert f"{tmp_path}/b.rules.yaml:13:16: unknown journey 'nope'" in result.output


def test_a_template_param_is_refused_at_its_line(tmp_path: Path) -> None:
    # It used to be checked and rendered here, then ignored when sending.
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "retention.rules.yaml").write_text(
        VALID.replace("{campaign: spring}", "{template: retention_offer}")
    )
    result = runner.invoke(app, ["rules", "check", str(rules)])
    assert result.exit_code == 1, result.output
    assert f"{rules}/retention.rules.yaml:14:18: param 'template' is not used" in result.output


def test_no_rule_files(tmp_path: Path) -> None:
    result = runner.invoke(app, ["rules", "check", str(tmp_path)])
    assert result.exit_code == 1


@pytest.fixture
def operator_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Copies of the shipped rules and templates, configured as the live ones."""
    rules, templates = tmp_path / "rules", tmp_path / "templates"
    shutil.copytree(RULES_DIR, rules, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    shutil.copytree(TEMPLATES_DIR, templates)
    monkeypatch.setenv("CAREFLOW_RULES_DIR", str(rules))
    monkeypatch.setenv("CAREFLOW_TEMPLATES_DIR", str(templates))
    return rules, templates


def test_an_unclosed_tag_in_a_template_no_rule_names_fails_the_check(
    operator_files: tuple[Path, Path],
) -> None:
    # The example: complaint_update is sent by the complaint journey, named
    # only in journeys.yaml; an unclosed `{{` on line 4 used to print "ok".
    rules, templates = operator_files
    body = templates / "email" / "complaint_update" / "body.txt.zh-CN.j2"
    lines = body.read_text(encoding="utf-8").splitlines()
    lines[3] = "您的案件 {{ case.reference 正在处理中。"
    body.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["rules", "check", str(rules)])
    assert result.exit_code == 1, result.output
    assert f"{body}:4: syntax error" in result.output.replace("\n", "")


def test_a_broken_layout_fails_every_template_that_uses_it(
    operator_files: tuple[Path, Path],
) -> None:
    rules, templates = operator_files
    layout = templates / "email" / "_layouts" / "base.html.en.j2"
    layout.write_text(layout.read_text(encoding="utf-8") + "\n{{ oops\n", encoding="utf-8")
    result = runner.invoke(app, ["rules", "check", str(rules)])
    assert result.exit_code == 1, result.output
    assert f"{layout}:" in result.output.replace("\n", "")


def test_a_template_the_journey_configuration_names_must_exist(
    operator_files: tuple[Path, Path],
) -> None:
    rules, _ = operator_files
    config = rules / "journeys.yaml"
    text = config.read_text(encoding="utf-8")
    line = text.splitlines().index("  update_template: complaint_update") + 1
    config.write_text(
        text.replace("update_template: complaint_update", "update_template: complaint_updaet"),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["rules", "check", str(rules)])
    assert result.exit_code == 1, result.output
    assert (
        f"journeys.yaml:{line}: complaint.update_template: template 'complaint_updaet' "
        "does not exist" in result.output.replace("\n", "")
    )


def test_an_onboarding_step_template_must_exist(operator_files: tuple[Path, Path]) -> None:
    rules, _ = operator_files
    config = rules / "journeys.yaml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "template: onboarding_tips", "template: onboarding_trips"
        ),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["rules", "check", str(rules)])
    assert result.exit_code == 1, result.output
    assert "onboarding.steps.1.template: template 'onboarding_trips'" in result.output


def test_an_unclosed_tag_in_a_file_no_locale_uses_yet_fails_the_check(
    operator_files: tuple[Path, Path],
) -> None:
    # A French body written before its subject: not sent yet, but broken already.
    rules, templates = operator_files
    body = templates / "email" / "complaint_ack" / "body.txt.fr.j2"
    body.write_text("{% extends layout %}\n{% block body %}{{ case.reference {% endblock %}\n")
    result = runner.invoke(app, ["rules", "check", str(rules)])
    assert result.exit_code == 1, result.output
    assert f"{body}:2: syntax error" in result.output.replace("\n", "")


def test_an_sms_template_longer_than_sms_yaml_allows_fails_the_check(
    operator_files: tuple[Path, Path],
) -> None:
    rules, templates = operator_files
    body = templates / "sms" / "retention_offer" / "body.zh-CN.j2"
    # 【careflow】 (10) + 130 characters + " 拒收请回复R" (7) = 147: three UCS-2 segments.
    body.write_text("好" * 130 + "\n", encoding="utf-8")
    (rules / "sms.yaml").write_text(
        (rules / "sms.yaml")
        .read_text(encoding="utf-8")
        .replace("params: {code: offer.code, value: offer.value}", "params: {code: offer.cod}"),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["rules", "check", str(rules)])
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert (
        "templates/sms/retention_offer/body.zh-CN.j2: 147 characters (UCS-2) with the signature "
        "and opt-out text take 3 segments; sms.yaml allows 2"
    ) in output
    assert (
        "sms.yaml: templates.retention_offer.params.code: 'offer.cod' names no value in the "
        "message of 'retention_offer'"
    ) in output


def test_a_mistake_in_sms_yaml_is_named_at_its_line_and_column(
    operator_files: tuple[Path, Path],
) -> None:
    rules, _ = operator_files
    text = (rules / "sms.yaml").read_text(encoding="utf-8")
    (rules / "sms.yaml").write_text(text.replace("provider: generic", "provider: twilio"))
    result = runner.invoke(app, ["rules", "check", str(rules)])
    assert result.exit_code == 1, result.output
    line = text.splitlines().index("provider: generic") + 1
    assert f"sms.yaml:{line}:1: provider: Input should be 'generic' or 'aliyun'" in " ".join(
        result.output.split()
    )
    # A slot count a worker could not use: named at its line, with the range expected.
    (rules / "sms.yaml").write_text(text.replace("in_flight: 4", "in_flight: 0"))
    result = runner.invoke(app, ["rules", "check", str(rules)])
    assert result.exit_code == 1, result.output
    line = text.splitlines().index("in_flight: 4") + 1
    assert f"sms.yaml:{line}:1: in_flight: Input should be greater than or equal to 1" in (
        " ".join(result.output.split())
    )


def test_a_mistake_in_webhooks_yaml_fails_the_check(operator_files: tuple[Path, Path]) -> None:
    rules, _ = operator_files
    (rules / "webhooks.yaml").write_text(
        "endpoints:\n  crm:\n    url: https://crm.example/hook\n    events: [task.created]\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["rules", "check", str(rules)])
    assert result.exit_code == 1, result.output
    assert (
        "webhooks.yaml:2:3: endpoints.crm: secret_env: required: the environment variable "
        "holding the signing secret"
    ) in " ".join(result.output.split())

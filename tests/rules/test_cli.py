"""`careflow rules check`: exit 0 when clean, 1 with every error at its line otherwise."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from careflow.cli.app import app
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

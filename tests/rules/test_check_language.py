"""`careflow rules check` and `rules explain` in the operator's language (CAREFLOW_LANG):
every kind of mistake has its Chinese, at the same `file:line:col`."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from typer.testing import CliRunner

from careflow.cli import app
from careflow.operator_language import (
    CHECK_MESSAGES,
    CHINESE,
    chinese_message,
    operator_language,
    say_problem,
)
from careflow.rules import RuleFileError, load_rulebook
from tests.rules.test_rule_errors import EXACT_ERRORS, REFERENCES, VALID

# More mistakes than EXACT_ERRORS has, each of another kind, in one file.
MANY_MISTAKES = """\
name: Retention
owner: marketing
description: ""
mode: best_match
colour: blue
rules:
  - id: one
    description: A rule.
    enabled: maybe
    priority: high
    reenter_after: 0
    when:
      tier: {}
      total_spent: {between: [900, 100]}
      days_since_last_order: {more_than: 3, between: [1]}
      any: vip
    then:
      - start: retention_offer
        to: retention_offer
      - signal: paused
        to: retention_offer
      - tag: At Risk
      - notify: sales
        params: {message: [a, b]}
    examples:
      - given: {tire: vip, tier: 3}
        expect: start retention_offer
  - id: two
    description: Another.
    when: [1]
    then: nothing
    examples: []
  - just text
"""


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_entry_has_the_same_fields_in_both_languages() -> None:
    for entry in CHECK_MESSAGES:
        assert placeholders(entry.english) == placeholders(entry.chinese), entry.english


@pytest.mark.parametrize("expected", [m for _, messages in EXACT_ERRORS.values() for m in messages])
def test_each_exact_error_is_said_in_chinese(expected: str) -> None:
    where, _, message = expected.partition(": ")
    chinese = chinese_message(message)
    assert chinese is not None, message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese), chinese
    assert say_problem(expected, CHINESE).startswith(where + ": ")


def test_every_mistake_of_a_badly_broken_file_has_its_chinese(tmp_path: Path) -> None:
    (tmp_path / "retention.rules.yaml").write_text(MANY_MISTAKES)
    with pytest.raises(RuleFileError) as raised:
        load_rulebook(tmp_path, references=REFERENCES)
    messages = [error.message for error in raised.value.errors]
    assert len(messages) >= 15
    untranslated = [message for message in messages if chinese_message(message) is None]
    assert untranslated == []


def test_the_language_setting() -> None:
    assert operator_language("zh-CN") == operator_language("zh_cn") == operator_language("zh")
    assert operator_language("zh") == CHINESE
    assert operator_language("en-GB") == operator_language("") == "en"


def test_rules_check_speaks_chinese_at_the_same_places(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "retention.rules.yaml").write_text(
        VALID.replace("      tier: {is_not", "      tire: {is_not")
    )
    runner = CliRunner()
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.delenv("CAREFLOW_LANG", raising=False)
    english = runner.invoke(app, ["rules", "check", str(tmp_path)])
    monkeypatch.setenv("CAREFLOW_LANG", "zh-CN")
    chinese = runner.invoke(app, ["rules", "check", str(tmp_path)])
    assert english.exit_code == chinese.exit_code == 1
    path = tmp_path / "retention.rules.yaml"
    assert f"{path}:11:7: unknown fact 'tire'; did you mean 'tier'?" in english.output
    assert (
        f"{path}:11:7: 未知的事实 'tire'；是不是指 'tier'？"
        "（事实列在 rules/README.md；分组为 all、any、not）"
    ) in chinese.output
    assert "1 个文件中有 1 处问题" in chinese.output

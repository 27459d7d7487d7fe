"""Edited rule files are picked up without a restart; broken edits change nothing."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from careflow.rules import LiveRuleBook, RuleFileError
from tests.rules.test_rule_errors import REFERENCES, VALID

SNAPSHOT = {"purchase_frequency_change": -0.6, "tier": "regular"}
# Stricter threshold, and the example moved with it (examples are checked on reload).
STRICTER = VALID.replace("at_most: -0.5", "at_most: -0.7").replace("-0.6, tier", "-0.8, tier")


def write(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    # Same-second edits must still be seen: the check compares mtimes in nanoseconds.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 1_000_000_000))


def workflows(live: LiveRuleBook) -> list[str | None]:
    return [intent.workflow for intent in live.current().evaluate(SNAPSHOT).intents]


def test_an_edit_changes_the_next_evaluation(tmp_path: Path) -> None:
    path = tmp_path / "retention.rules.yaml"
    write(path, VALID, 0)
    live = LiveRuleBook(tmp_path, references=REFERENCES, check_interval=0)
    first = live.current()
    assert workflows(live) == ["retention_offer"]
    write(path, STRICTER, 1)
    assert workflows(live) == []
    assert live.current().hash != first.hash
    assert live.last_errors == []


def test_a_broken_edit_keeps_the_last_good_rules_and_reports(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "retention.rules.yaml"
    write(path, VALID, 0)
    live = LiveRuleBook(tmp_path, references=REFERENCES, check_interval=0)
    good = live.current()
    with caplog.at_level(logging.ERROR, logger="careflow.rules.live"):
        write(path, VALID.replace("tier: {is_not", "tire: {is_not"), 1)
        assert live.current() is good
    assert [str(error) for error in live.last_errors] == [
        f"{path}:11:7: unknown fact 'tire'; did you mean 'tier'? "
        "(facts are listed in rules/README.md; groups are all, any, not)"
    ]
    assert f"{path}:11:7: unknown fact 'tire'" in caplog.text
    assert workflows(live) == ["retention_offer"]
    write(path, VALID, 2)  # fixed again
    assert live.current() is not good
    assert live.last_errors == []


def test_files_are_looked_at_no_more_than_the_interval(tmp_path: Path) -> None:
    path = tmp_path / "retention.rules.yaml"
    write(path, VALID, 0)
    live = LiveRuleBook(tmp_path, references=REFERENCES, check_interval=3600)
    first = live.current()
    write(path, STRICTER, 1)
    assert live.current() is first


def test_no_good_version_ever_raises(tmp_path: Path) -> None:
    (tmp_path / "bad.rules.yaml").write_text("name: [")
    live = LiveRuleBook(tmp_path, references=REFERENCES, check_interval=0)
    with pytest.raises(RuleFileError) as raised:
        live.current()
    assert raised.value.errors == live.last_errors

"""Operator files cannot cost more than their size: aliases, depth, size and error length.

A 1.3 KB rule file of nested aliases once made the worker's log 72 MB and the console's
Rules page 152 MB; a larger one exhausted memory in `rules check`. Each kind of operator
file (a rule file and a configuration file read through careflow/config_files.py) is
tried with a billion-laughs document, a deeply nested one and an oversized one: each
fails with `file:line` at once, and every report stays short.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from careflow.config_files import MAX_FILE_BYTES, MAX_PROBLEM_CHARS, MAX_PROBLEMS
from careflow.journey_config import JourneyConfigError, load_journey_config
from careflow.rule_references import shipped_references
from careflow.rules import RuleFileError
from careflow.rules.rulebook import load_rule_files


def billion_laughs(levels: int = 9) -> str:
    """Nine aliases of nine aliases ...: 9**levels strings from a file of about a kilobyte."""
    lines = ["name: laughs", "owner: ops", 'l0: &l0 ["lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    lines.append(f"rules: *l{levels}")
    return "\n".join(lines) + "\n"


def _rule_file_errors(path: Path) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        load_rule_files([path], references=shipped_references())
    return [str(error) for error in caught.value.errors]


def test_an_alias_in_a_rule_file_fails_at_its_line_without_expanding(tmp_path: Path) -> None:
    path = tmp_path / "laughs.rules.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    assert path.stat().st_size < 1500
    tracemalloc.start()
    try:
        errors = _rule_file_errors(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert errors == [
        f"{path}:4:10: YAML syntax: aliases (*l0) are not allowed in careflow files; "
        "write the value out where it is used"
    ]
    # Expanded, the document would be 9**9 strings; refused, it costs a few MB at most.
    assert peak < 20 * 1024 * 1024


def test_an_alias_in_a_configuration_file_fails_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "journeys.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    with pytest.raises(JourneyConfigError) as caught:
        load_journey_config(path)
    assert caught.value.problems == [
        "journeys.yaml:4: not valid YAML: aliases (*l0) are not allowed in careflow files; "
        "write the value out where it is used"
    ]


def test_nesting_past_the_limit_is_refused_with_its_line(tmp_path: Path) -> None:
    rules = tmp_path / "deep.rules.yaml"
    rules.write_text("name: deep\nrules: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    (error,) = _rule_file_errors(rules)
    assert error.startswith(f"{rules}:2:")
    assert "maximum depth" in error

    config = tmp_path / "journeys.yaml"
    config.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    with pytest.raises(JourneyConfigError) as caught:
        load_journey_config(config)
    assert caught.value.problems[0].startswith("journeys.yaml:1: not valid YAML: maximum depth")


def test_an_oversized_operator_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    rules = tmp_path / "big.rules.yaml"
    # Sparse: a 1 GB file that costs no disk, and would cost 1 GB of memory if read.
    with rules.open("wb") as file:
        file.write(b"name: big\n")
        file.truncate(1024**3)
    (error,) = _rule_file_errors(rules)
    assert error == (
        f"{rules}:1:1: the file is larger than {MAX_FILE_BYTES // 1024} KiB; operator files "
        "are hand-written and much smaller (split it, or look for a pasted blob)"
    )

    config = tmp_path / "journeys.yaml"
    with config.open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(JourneyConfigError) as caught:
        load_journey_config(config)
    assert caught.value.problems[0].startswith("journeys.yaml:1: the file is larger than")


def test_reports_stay_short_however_much_the_file_repeats(tmp_path: Path) -> None:
    # Sixty rules, each with a 2,000-character value quoted back in its errors.
    blob = "x" * 2000
    rules = "\n".join(
        f"  - id: r{index}\n    description: d\n    when: {{fact: {blob}}}\n    then: {blob}"
        for index in range(60)
    )
    path = tmp_path / "noisy.rules.yaml"
    path.write_text(f"name: noisy\nowner: ops\ndescription: d\nrules:\n{rules}\n", "utf-8")
    assert path.stat().st_size < MAX_FILE_BYTES
    with pytest.raises(RuleFileError) as caught:
        load_rule_files([path], references=shipped_references())
    errors = caught.value.errors
    assert len(errors) == MAX_PROBLEMS + 1
    assert errors[-1].message.startswith("... and ")
    assert all(len(error.message) <= MAX_PROBLEM_CHARS for error in errors)
    assert len(str(caught.value)) < (MAX_PROBLEMS + 1) * (MAX_PROBLEM_CHARS + 100)

"""The rule compiler on generated rule files: a valid ruleset or `path:line:col` errors,
never a crash.

Three sources of files, because operators make all three kinds of mistakes:
- documents built from the rule-file vocabulary (real facts, tests, actions and
  keys, mixed with wrong ones and wrong types), written as YAML;
- the shipped rule files with random edits (lines dropped, doubled, re-indented,
  characters replaced), the way a hurried edit breaks a working file;
- any text or bytes at all.
Whatever comes in, loading either gives a RuleBook or raises RuleFileError whose
every error names this file, a line inside it (or just past its end) and a column.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from careflow.paths import RULES_DIR
from careflow.rule_references import shipped_references
from careflow.rules.errors import RuleFileError
from careflow.rules.facts import FACTS
from careflow.rules.references import References
from careflow.rules.rulebook import RuleBook, load_rule_files

BOUNDED = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Any text an editor could hold, control characters included (a paste can carry them).
EDITOR_TEXT = st.characters(exclude_categories=["Cs"])
ERROR_FORMAT = re.compile(r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+): (?P<message>\S.*)$", re.S)
SHIPPED = sorted(RULES_DIR.glob("*.rules.yaml"))

FACT_NAMES = [fact.name for fact in FACTS]
TESTS = ["is", "is_not", "one_of", "at_least", "at_most", "more_than", "less_than", "exists"]
WORKFLOWS = ["complaint_escalation", "retention_offer", "care_message", "no_such_journey"]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-1000, 1000)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.text(EDITOR_TEXT, max_size=12)
    | st.sampled_from(["vip", "regular", "complaint_opened", "critical", "2024-01-01"])
)
NAMES = (
    st.sampled_from(FACT_NAMES) | st.sampled_from(["tire", "evnt_type", ""]) | st.text(max_size=8)
)


def values() -> st.SearchStrategy[Any]:
    tests = st.dictionaries(
        st.sampled_from(TESTS) | st.text(max_size=6),
        SCALARS | st.lists(SCALARS, max_size=3),
        min_size=1,
        max_size=2,
    )
    return SCALARS | tests | st.lists(SCALARS, max_size=3)


def conditions() -> st.SearchStrategy[Any]:
    plain = st.dictionaries(NAMES, values(), max_size=3)
    return st.recursive(
        plain,
        lambda inner: st.dictionaries(
            st.sampled_from(["all", "any", "not"]), st.lists(inner, max_size=2) | inner, max_size=1
        ).map(lambda group: group or {"event_type": "complaint_opened"}),
        max_leaves=4,
    )


ACTIONS = st.one_of(
    st.fixed_dictionaries({"start": st.sampled_from(WORKFLOWS)}),
    st.fixed_dictionaries(
        {
            "signal": st.sampled_from(["complaint_resolved", "nope"]),
            "to": st.sampled_from(WORKFLOWS),
        }
    ),
    st.fixed_dictionaries({"tag": st.text(min_size=1, max_size=8)}),
    st.fixed_dictionaries(
        {
            "notify": st.sampled_from(["service", "nobody"]),
            "params": st.dictionaries(st.text(max_size=5), SCALARS, max_size=2),
        }
    ),
    st.dictionaries(st.sampled_from(["start", "tag", "signal", "then"]), SCALARS, max_size=2),
)
EXAMPLES = st.lists(
    st.fixed_dictionaries(
        {
            "given": st.dictionaries(st.sampled_from(FACT_NAMES), SCALARS, max_size=3),
            "expect": st.lists(
                st.sampled_from(["start complaint_escalation", "tag x", "nothing"]), max_size=2
            ),
        }
    ),
    max_size=2,
)


def optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Dictionaries with any subset of `fields` (a missing key is a mistake to report too)."""
    return st.fixed_dictionaries({}, optional=fields)


RULES = optional(
    id=st.text(max_size=10) | st.integers(),
    description=st.text(max_size=20),
    priority=st.integers(-5, 200) | st.text(max_size=3),
    enabled=st.booleans(),
    when=conditions() | SCALARS,
    then=st.lists(ACTIONS, max_size=3) | SCALARS,
    examples=EXAMPLES | SCALARS,
    reenter_after_days=st.integers(-1, 400),
)
DOCUMENTS = optional(
    name=st.text(max_size=10),
    owner=st.text(max_size=10),
    description=st.text(max_size=20),
    mode=st.sampled_from(["all_matches", "first_match", "every"]),
    rules=st.lists(RULES, max_size=3) | SCALARS,
)


def as_yaml(document: Any) -> str:
    out = io.StringIO()
    YAML().dump(document, out)
    return out.getvalue()


@st.composite
def edited_shipped_files(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(SHIPPED)).read_text().splitlines()
    for _ in range(draw(st.integers(0, 4))):
        where = draw(st.integers(0, max(len(lines) - 1, 0)))
        edit = draw(st.sampled_from(["drop", "double", "indent", "dedent", "replace"]))
        if not lines:
            break
        if edit == "drop":
            del lines[where]
        elif edit == "double":
            lines.insert(where, lines[where])
        elif edit == "indent":
            lines[where] = "  " + lines[where]
        elif edit == "dedent":
            lines[where] = lines[where][2:]
        else:
            column = draw(st.integers(0, len(lines[where])))
            typed = draw(st.text(EDITOR_TEXT, min_size=1, max_size=3))
            lines[where] = lines[where][:column] + typed + lines[where][column + 1 :]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def references() -> References:
    return shipped_references()


def assert_loads_or_names_its_mistakes(path: Path, content: bytes, references: References) -> None:
    path.write_bytes(content)
    try:
        rulebook = load_rule_files([path], references=references)
    except RuleFileError as error:
        problems = error.errors
    else:
        assert isinstance(rulebook, RuleBook)
        return
    lines = content.count(b"\n") + 1
    assert problems, "a rejected file names at least one mistake"
    for problem in problems:
        shape = ERROR_FORMAT.match(str(problem))
        assert shape is not None, str(problem)
        assert shape["path"] == str(path)
        assert 1 <= problem.line <= lines + 1, f"{problem} is outside the file"
        assert problem.col >= 1


@BOUNDED
@given(document=DOCUMENTS)
def test_generated_documents(tmp_path: Path, references: References, document: Any) -> None:
    content = as_yaml(document).encode()
    assert_loads_or_names_its_mistakes(tmp_path / "generated.rules.yaml", content, references)


@BOUNDED
@given(text=edited_shipped_files())
def test_edited_shipped_files(tmp_path: Path, references: References, text: str) -> None:
    assert_loads_or_names_its_mistakes(tmp_path / "edited.rules.yaml", text.encode(), references)


@BOUNDED
@given(content=st.text(EDITOR_TEXT, max_size=300).map(str.encode) | st.binary(max_size=300))
def test_any_bytes(tmp_path: Path, references: References, content: bytes) -> None:
    assert_loads_or_names_its_mistakes(tmp_path / "anything.rules.yaml", content, references)


def test_a_control_character_is_named_with_its_position(
    tmp_path: Path, references: References
) -> None:
    shipped = SHIPPED[0].read_bytes()
    first_name = shipped.index(b"name:")
    line = shipped[:first_name].count(b"\n") + 1
    col = first_name - (shipped.rfind(b"\n", 0, first_name) + 1) + 1
    path = tmp_path / "control.rules.yaml"
    path.write_bytes(shipped.replace(b"name:", b"\x1fname:", 1))

    with pytest.raises(RuleFileError) as raised:
        load_rule_files([path], references=references)

    assert [str(error) for error in raised.value.errors] == [
        f"{path}:{line}:{col}: YAML syntax: control character U+001F is not allowed; "
        "delete it or write it as an escape inside double quotes"
    ]


def test_the_shipped_files_unedited_load(tmp_path: Path, references: References) -> None:
    # The edit strategy starts from working files: with no edit, each must load (with
    # the shipped derived facts and declared events they may name).
    for shipped in SHIPPED:
        target = tmp_path / shipped.name
        target.write_bytes(shipped.read_bytes())
        loaded = load_rule_files([target], references=references, folder=RULES_DIR)
        assert isinstance(loaded, RuleBook)

"""Reading a rule file's YAML with the line and column of every key and value.

ruamel.yaml (round-trip mode, YAML 1.2) keeps positions; `preserve_quotes` keeps
quoted strings distinguishable from plain ones, which is how `enabled: yes` (text
in YAML 1.2, a boolean in YAML 1.1) is caught and explained instead of silently
read as the word "yes".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarstring import ScalarString

from careflow.rules.errors import Position, RuleError

YAML11_BOOLEAN_WORDS = frozenset({"yes", "no", "on", "off", "y", "n"})


def read_yaml(path: str, text: str) -> tuple[object, list[RuleError]]:
    """The document, or the syntax error with its position (duplicate keys included)."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    try:
        return yaml.load(text), []
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = " ".join(part for part in (error.context, error.problem) if part)
        return None, [RuleError(path, line, col, f"YAML syntax: {problem}")]
    except ReaderError as error:
        # A control character (an editor or a paste let one through): the reader knows
        # only its offset in the text, so count lines up to it.
        before = text[: error.position]
        line = before.count("\n") + 1
        col = error.position - (before.rfind("\n") + 1) + 1
        character = f"U+{error.character:04X}" if isinstance(error.character, int) else "byte"
        return None, [
            RuleError(
                path,
                line,
                col,
                f"YAML syntax: control character {character} is not allowed; "
                "delete it or write it as an escape inside double quotes",
            )
        ]


def key_position(path: str, mapping: Mapping[object, object], key: object) -> Position:
    """Where a key of a mapping is written."""
    if isinstance(mapping, CommentedMap):
        line, col = mapping.lc.key(key)
        return Position(path, line + 1, col + 1)
    return Position.start_of(path)


def value_position(path: str, mapping: Mapping[object, object], key: object) -> Position:
    """Where the value of a key is written."""
    if isinstance(mapping, CommentedMap):
        line, col = mapping.lc.value(key)
        return Position(path, line + 1, col + 1)
    return Position.start_of(path)


def item_position(path: str, sequence: Sequence[object], index: int, parent: Position) -> Position:
    """Where an item of a list is written (flow lists included)."""
    if isinstance(sequence, CommentedSeq):
        line, col = sequence.lc.item(index)
        return Position(path, line + 1, col + 1)
    return parent


def is_yaml11_boolean_word(value: object) -> bool:
    """An unquoted yes/no/on/off: a boolean to YAML 1.1 readers, text to careflow."""
    return (
        type(value) is str
        and not isinstance(value, ScalarString)
        and value.lower() in YAML11_BOOLEAN_WORDS
    )


def describe(value: object) -> str:
    """A YAML value as a non-programmer would recognise it in an error message."""
    if value is None:
        return "nothing (empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {str(value)!r}"
    if isinstance(value, date):
        return f"the date {value.isoformat()} (quote it if you meant text)"
    if isinstance(value, Mapping):
        return "a mapping (key: value lines)"
    if isinstance(value, Sequence):
        return "a list"
    return type(value).__name__

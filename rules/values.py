"""Checking a value written in a rule file against the type of the fact it is for."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from careflow.rules.facts import FactDefinition
from careflow.rules.model import Scalar
from careflow.rules.yamlfile import describe, is_yaml11_boolean_word

TYPE_WORDS = {
    "integer": "a whole number",
    "number": "a number",
    "text": "text",
    "boolean": "true or false",
}


def closest(name: str, candidates: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the closest candidate, or nothing when none is close."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {matches[0]!r}?" if matches else ""


def expected_words(fact: FactDefinition) -> str:
    """What a value of this fact looks like, in plain words."""
    if fact.values:
        return "one of " + ", ".join(fact.values)
    return TYPE_WORDS[fact.type]


def fact_value(fact: FactDefinition, raw: object) -> tuple[Scalar | None, str | None]:
    """`(value, None)` when `raw` is a valid value of `fact`, else `(None, message)`."""
    wrong = f"{fact.name} is {fact.type}: expected {expected_words(fact)}, got {describe(raw)}"
    if fact.type == "boolean":
        if isinstance(raw, bool):
            return raw, None
        if is_yaml11_boolean_word(raw):
            return None, (
                f"{fact.name} is true or false, but {raw!r} is text here: careflow reads "
                f"YAML 1.2, where only true and false are booleans; write true or false"
            )
        return None, wrong
    if fact.type in ("integer", "number"):
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            if isinstance(raw, str):
                wrong += " (numbers are written without quotes)"
            return None, wrong
        if fact.type == "integer":
            if isinstance(raw, float) and not raw.is_integer():
                return None, wrong
            return int(raw), None
        return (int(raw) if isinstance(raw, int) else float(raw)), None
    # text
    if not isinstance(raw, str):
        return None, wrong + " (put quotes around it if you meant text)"
    text = str(raw)
    if fact.values and text not in fact.values:
        return None, wrong + closest(text, fact.values)
    return text, None

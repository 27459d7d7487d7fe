"""Words for people, kept as a message key and its values so any language can say them.

Condition wording, explain's failure messages and the customer timeline are read in
the terminal (English, by `careflow rules explain` and `careflow timeline`) and on
the console (English or Chinese). Each is a `Phrase`: a `str` holding the English
words, so everything that prints, compares or JSON-encodes it keeps working
unchanged, which also carries its key and values so `say` can render it from another
language's catalog. The English words of each key live next to the code that builds
the phrase, in a `Words` catalog; a language's catalog has the same keys and
`{placeholders}`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Self


@dataclass(frozen=True)
class Stored:
    """A stored value (a status, a journey name) that a catalog may name as `group.value`.

    English keeps it as stored, which is how the terminal shows it.
    """

    group: str
    value: object

    def __str__(self) -> str:
        return str(self.value)


class Phrase(str):
    """The English words of `key` filled with `values`, plus the key and values themselves.

    A value is another Phrase, a `Stored` value, or a plain value shown as written in
    rule files (`true`/`false` for booleans). A joined phrase (`Words.joined`) is a
    list whose catalog text is the separator.
    """

    key: str
    values: tuple[tuple[str, object], ...]
    items: tuple[object, ...] | None

    def __new__(
        cls,
        template: str,
        key: str,
        values: Mapping[str, object],
        items: tuple[object, ...] | None = None,
    ) -> Self:
        text = _fill(template, values, items, None)
        phrase = super().__new__(cls, text)
        phrase.key = key
        phrase.values = tuple(values.items())
        phrase.items = items
        return phrase

    # A Phrase is immutable; copying or pickling it rebuilds the same phrase.
    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        return self

    def __copy__(self) -> Self:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (str(self), self.key, self.values, self.items))


def _rebuild(
    text: str, key: str, values: tuple[tuple[str, object], ...], items: tuple[object, ...] | None
) -> Phrase:
    phrase = str.__new__(Phrase, text)
    phrase.key, phrase.values, phrase.items = key, values, items
    return phrase


class Words:
    """The English words of one area's phrases: `WORDS("condition.is", fact=..., value=...)`."""

    def __init__(self, english: Mapping[str, str]) -> None:
        self.english: Mapping[str, str] = dict(english)

    def __call__(self, key: str, /, **values: object) -> Phrase:
        return Phrase(self.english[key], key, values)

    def joined(self, key: str, items: Iterable[object]) -> Phrase:
        """The items, each said in the reader's language, separated by the text of `key`."""
        return Phrase(self.english[key], key, {}, tuple(items))


def say(phrase: str, catalog: Mapping[str, str]) -> str:
    """`phrase` in the language of `catalog` (a KeyError names a key it lacks).

    A plain `str` (words that were never a Phrase, such as a rule's own description)
    is returned as it is.
    """
    if not isinstance(phrase, Phrase):
        return phrase
    return _fill(catalog[phrase.key], dict(phrase.values), phrase.items, catalog)


def _fill(
    template: str,
    values: Mapping[str, object],
    items: tuple[object, ...] | None,
    catalog: Mapping[str, str] | None,
) -> str:
    """The template filled in; with no catalog, every value keeps its English words."""
    if items is not None:
        return template.join(_value(item, catalog) for item in items)
    return template.format(**{name: _value(value, catalog) for name, value in values.items()})


def _value(value: object, catalog: Mapping[str, str] | None) -> str:
    if isinstance(value, Phrase):
        return str(value) if catalog is None else say(value, catalog)
    if isinstance(value, Stored):
        if catalog is None:
            return str(value)
        return catalog.get(f"{value.group}.{value.value}", str(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

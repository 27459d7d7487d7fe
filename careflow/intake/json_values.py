"""JSON values Python's `json` accepts but careflow can neither store nor send back.

`json.loads` takes `NaN` and `Infinity`, turns a number too large for a float into
infinity, and keeps a lone UTF-16 surrogate (`"\\ud800"`) as a character no UTF-8
encoder accepts: the store, a JSON response, even a 422 quoting it, would fail on it.
`load_json` reads a document keeping those recognisable, and `unusable_value` says
where the first one is, so the HTTP API and JSON Lines imports refuse them by name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

Location = tuple[str | int, ...]
# What `NaN`, `Infinity` and `-Infinity` become while reading: never a number.
_NOT_A_NUMBER = object()
NOT_FINITE = "must be a finite number (not NaN, Infinity or overflowing)"
LONE_SURROGATE = "must be valid Unicode text (a lone surrogate is not)"


def load_json(text: str | bytes) -> Any:
    """`json.loads`, with the non-standard constants kept apart for `unusable_value`."""
    return json.loads(text, parse_constant=lambda _name: _NOT_A_NUMBER)


def unusable_value(document: object, where: Location = ()) -> tuple[Location, str] | None:
    """Where the first unusable key or value of `document` is and why; None if none."""
    for location, value in _walk(document, where):
        if value is _NOT_A_NUMBER or (isinstance(value, float) and not math.isfinite(value)):
            return location, NOT_FINITE
        if isinstance(value, str) and _has_lone_surrogate(value):
            return location, LONE_SURROGATE
    return None


def printable_location(location: Location) -> list[str | int]:
    """The location with each key shortened and made encodable (it is the client's text)."""
    return [
        part if isinstance(part, int) else part.encode("utf-8", "replace").decode()[:100]
        for part in location
    ]


def _walk(value: object, location: Location) -> Iterator[tuple[Location, object]]:
    """Every key and value of a JSON document, with where it is."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*location, key), key
            yield from _walk(item, (*location, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, (*location, index))
    else:
        yield location, value


def _has_lone_surrogate(text: str) -> bool:
    # `json` pairs valid surrogates into one character, so any left are unpaired.
    return any("\ud800" <= character <= "\udfff" for character in text)

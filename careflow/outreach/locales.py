"""Locale tags: normalising what customers' records hold, and the fallback chain."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

DEFAULT_LOCALE = "en"


@lru_cache(maxsize=1024)
def normalise_locale(tag: str) -> str:
    """Write a locale tag the way template files are named: `zh_cn` -> `zh-CN`.

    Language lower case, script title case (`Hant`), region upper case; `_` and `-`
    are both accepted as separators because customer records use either.
    """
    parts = [part for part in tag.strip().replace("_", "-").split("-") if part]
    if not parts:
        return ""
    written = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            written.append(part.title())
        elif len(part) in (2, 3):
            written.append(part.upper())
        else:
            written.append(part.lower())
    return "-".join(written)


def locale_candidates(locale: str | None, fallbacks: Iterable[str] = ()) -> tuple[str, ...]:
    """The locales to try, best first: exact, shorter prefixes, `fallbacks`, then `en`.

    `zh-Hant-TW` gives `zh-Hant-TW`, `zh-Hant`, `zh`, then each fallback, then `en`;
    duplicates are dropped so the chain never tries a locale twice.
    """
    return _candidates(locale, tuple(fallbacks))


# Cached: every render asks, with the few locales customers have.
@lru_cache(maxsize=1024)
def _candidates(locale: str | None, fallbacks: tuple[str, ...]) -> tuple[str, ...]:
    chain: list[str] = []
    if locale:
        parts = normalise_locale(locale).split("-")
        chain.extend("-".join(parts[:length]) for length in range(len(parts), 0, -1))
    chain.extend(normalise_locale(tag) for tag in fallbacks)
    chain.append(DEFAULT_LOCALE)
    return tuple(dict.fromkeys(tag for tag in chain if tag))


def babel_locale_name(preferred: str | None, used: str) -> str:
    """The locale to format dates and money in, as a Babel identifier (`zh_CN`).

    The customer's own locale when the template used is in the customer's language
    (an `en` template for an `en-GB` customer still writes British dates); otherwise
    the template's locale, so the formats match the language of the text around them.
    """
    if preferred and normalise_locale(preferred).split("-")[0] == used.split("-")[0]:
        return normalise_locale(preferred).replace("-", "_")
    return used.replace("-", "_")

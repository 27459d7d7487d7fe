"""The console's languages: choosing one per request, its words, and Babel formatting.

The language comes from `?lang=` (remembered in a cookie), then that cookie, then
the browser's Accept-Language, else English. Words live in `messages.py`, one
dictionary per language (phrases from `rules/` and the timeline are said through it
too, by `Translator.phrase`); a key missing from the chosen language is an error, not
a silent fallback, so a test that renders every page in both languages finds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_skeleton
from babel.numbers import format_decimal, format_percent
from fastapi import Request

from careflow.console.messages import MESSAGES
from careflow.rules.phrases import say
from careflow.team_zone import offset_label, zone_name

DEFAULT_LANGUAGE = "en"
LANGUAGES = tuple(MESSAGES)  # ("en", "zh-CN")
LANGUAGE_COOKIE = "careflow_lang"


class MissingMessage(KeyError):
    """A visible string without a translation in the chosen language."""


def choose_language(request: Request) -> str:
    """`?lang=`, then the cookie, then Accept-Language; English when none matches."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        matched = match_language(candidate)
        if matched:
            return matched
    for tag in accepted_languages(request.headers.get("accept-language", "")):
        matched = match_language(tag)
        if matched:
            return matched
    return DEFAULT_LANGUAGE


def match_language(value: str | None) -> str | None:
    """One of LANGUAGES for `zh-CN`, `zh_cn`, `zh`, `en-GB`, ...; None otherwise.

    Matched by language alone: a reader of `zh-TW` gets Chinese rather than English.
    """
    if not value:
        return None
    try:
        locale = Locale.parse(value.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None
    for code in LANGUAGES:
        if Locale.parse(code.replace("-", "_")).language == locale.language:
            return code
    return None


def accepted_languages(header: str) -> list[str]:
    """Accept-Language tags, most preferred first, as Babel spells them (`zh_CN`)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, position, tag.replace("-", "_")))
    return [tag for _, _, tag in sorted(weighted)]


@dataclass(frozen=True)
class Translator:
    """`t("rule.title", rule=rule_id)`: the language's string, with `{rule}` filled in."""

    language: str

    def __call__(self, key: str, /, **values: object) -> str:
        try:
            text = MESSAGES[self.language][key]
        except KeyError:
            raise MissingMessage(f"no {self.language} text for {key!r}") from None
        return text.format(**values) if values else text

    def phrase(self, words: str) -> str:
        """Words built outside the console (a `rules.phrases.Phrase`) in this language.

        Condition wording, explain's reasons and timeline summaries are English in
        the terminal; here they are said from this language's catalog. Plain text
        (a rule's own description, intent labels) is shown as it is.
        """
        try:
            return say(words, MESSAGES[self.language])
        except KeyError as error:
            raise MissingMessage(f"no {self.language} text for {error.args[0]!r}") from None

    def value(self, group: str, value: object) -> str:
        """A stored value (a status, a role) in words when the catalog has it, else as is."""
        return MESSAGES[self.language].get(f"{group}.{value}", str(value))

    @property
    def html_lang(self) -> str:
        return self.language


@dataclass(frozen=True)
class Formatter:
    """Numbers, shares and times the way the language writes them; times in `zone` (the
    team's, or UTC when the viewer chose it), each followed by its offset."""

    language: str
    zone: tzinfo = UTC

    @property
    def _locale(self) -> str:
        return self.language.replace("-", "_")

    def number(self, value: float | None, digits: int = 0) -> str:
        if value is None:
            return "-"
        return format_decimal(
            value, format=f"#,##0.{'0' * digits}" if digits else "#,##0", locale=self._locale
        )

    def percent(self, value: float | None) -> str:
        if value is None:
            return "-"
        return format_percent(value, format="#,##0.0%", locale=self._locale)

    def when(self, value: datetime | None) -> str:
        """`Nov 23, 2026, 7:09:02 PM UTC+8` / `2026年11月23日 19:09:02 UTC+8`, in the zone."""
        if value is None:
            return "-"
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        shown = format_datetime(moment, format="medium", tzinfo=self.zone, locale=self._locale)
        return f"{shown} {offset_label(moment, self.zone)}"

    @property
    def zone_name(self) -> str:
        """`Asia/Shanghai`, `UTC`."""
        return zone_name(self.zone)

    def date_long(self, value: date) -> str:
        """`Nov 23, 2026` / `2026年11月23日`."""
        return format_date(value, format="medium", locale=self._locale)

    def day(self, value: date) -> str:
        """`Nov 23` / `11月23日`: a short day, for chart axes."""
        return format_skeleton(
            "MMMd", datetime.combine(value, datetime.min.time()), locale=self._locale
        )

"""Locale- and time-zone-aware filters for templates (Babel).

Templates never format dates or money by hand: `{{ offer.value|money(offer.currency) }}`,
`{{ offer.expires_at|date_local }}`, `{{ case.opened_at|datetime_local }}`. The locale
and time zone come from the render in progress (see `TemplateRenderer.render`), so a
template written once shows each customer their own conventions and their own clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal, cast

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_currency, format_decimal
from jinja2 import pass_context
from jinja2.runtime import Context

from careflow.outreach.locales import DEFAULT_LOCALE

# The name under which a render passes its `Formatter` to the filters. It is not a
# valid Jinja identifier, so template code can neither read nor replace it.
FORMATTER_KEY = "careflow:formatter"


@lru_cache(maxsize=64)
def babel_locale(name: str) -> Locale:
    """Parse a Babel locale identifier, falling back to English for unknown ones.

    Cached: parsing checks Babel's locale files on disk and would be 40% of a render.
    """
    try:
        return Locale.parse(name)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE)


@dataclass(frozen=True)
class Formatter:
    """Formats values for one customer: their locale and their time zone."""

    locale: Locale
    zone: tzinfo

    def money(self, amount: object, currency: str) -> str:
        value = _decimal(amount)
        if not isinstance(currency, str):
            return format_currency(value, currency, locale=self.locale)
        return _money(str(value), currency, self.locale)

    def number(self, value: object) -> str:
        return format_decimal(_decimal(value), locale=self.locale)

    def date_local(self, value: date | datetime, format: str = "long") -> str:
        return format_date(self._local_date(value), format, locale=self.locale)

    def datetime_local(self, value: datetime, format: str = "long") -> str:
        local = self._local(value)
        # Babel's own "long"/"full" datetime formats add the zone name and seconds;
        # a customer wants the date in words and the time to the minute.
        length = cast(Literal["full", "long", "medium", "short"], format)
        pattern = str(get_datetime_format(length, locale=self.locale))
        return pattern.format(
            format_time(local, "short", locale=self.locale),
            format_date(local.date(), format, locale=self.locale),
        )

    def _local(self, value: datetime) -> datetime:
        if not isinstance(value, datetime):
            raise TypeError(f"expected a date and time, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("a time without a time zone cannot be shown in local time")
        return value.astimezone(self.zone)

    def _local_date(self, value: date | datetime) -> date:
        if isinstance(value, datetime):
            return self._local(value).date()
        if isinstance(value, date):
            return value
        raise TypeError(f"expected a date, got {type(value).__name__}")


@lru_cache(maxsize=1024)
def _money(amount: str, currency: str, locale: Locale) -> str:
    # Cached: Babel's currency formatting is about a tenth of composing an offer, and a
    # journey's amounts repeat. Keyed by the amount's text (equal amounts format alike).
    return format_currency(Decimal(amount), currency, locale=locale)


def _decimal(value: object) -> Decimal:
    # Money goes through Decimal so 0.1 + 0.2 never shows as 0.30000000000000004.
    if isinstance(value, bool):
        raise TypeError("expected a number, got a yes/no value")
    try:
        if isinstance(value, Decimal):
            return value
        if isinstance(value, int | float | str):
            return Decimal(str(value))
    except InvalidOperation as error:
        raise TypeError(f"expected a number, got {value!r}") from error
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _formatter(context: Context) -> Formatter:
    formatter = context.get(FORMATTER_KEY)
    if not isinstance(formatter, Formatter):
        raise RuntimeError("template filters used outside TemplateRenderer.render")
    return formatter


@pass_context
def money(context: Context, amount: object, currency: str) -> str:
    """`{{ 88|money("CNY") }}` -> `¥88.00` (zh-CN) / `CN¥88.00` (en)."""
    return _formatter(context).money(amount, currency)


@pass_context
def number(context: Context, value: object) -> str:
    """`{{ 12345.5|number }}` -> `12,345.5`, grouped the customer's way."""
    return _formatter(context).number(value)


@pass_context
def date_local(context: Context, value: Any, format: str = "long") -> str:
    """A date, or the customer's local date of an aware time: `2026年11月23日`."""
    return _formatter(context).date_local(value, format)


@pass_context
def datetime_local(context: Context, value: Any, format: str = "long") -> str:
    """An aware time in the customer's zone, to the minute: `November 23, 2026, 4:05 PM`."""
    return _formatter(context).datetime_local(value, format)


FILTERS = {
    "money": money,
    "number": number,
    "date_local": date_local,
    "datetime_local": datetime_local,
}

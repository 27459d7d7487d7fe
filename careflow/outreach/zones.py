"""Customers' time zones: an IANA name from their record, resolved safely."""

from __future__ import annotations

from datetime import tzinfo
from zoneinfo import ZoneInfo

from careflow.facts.occasions import zone_or_none

DEFAULT_ZONE = "UTC"


def customer_zone(name: object, default: str = DEFAULT_ZONE) -> ZoneInfo:
    """The zone named `name`, or `default` when the record has none or an unknown one.

    A customer with a missing or mistyped zone must still receive their complaint
    acknowledgement, so this never raises for bad data; `default` must be valid.
    """
    zone = zone_or_none(name.strip()) if isinstance(name, str) and name.strip() else None
    return zone or ZoneInfo(default)


def as_zone(value: object, default: str = DEFAULT_ZONE) -> tzinfo:
    """Accept a ready `tzinfo` or an IANA name (resolved like `customer_zone`)."""
    if isinstance(value, tzinfo):
        return value
    return customer_zone(value, default)

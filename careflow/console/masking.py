"""Masking customers' personal data for console roles that do not need it (viewers).

Name, email, phone and birthday are personal data, and so are staff's notes on tasks
and complaint responses (free text about the customer); ids, tiers, facts and message
statuses are not, and stay readable so a viewer can still follow what happened.
"""

from __future__ import annotations

from collections.abc import Mapping

PERSONAL_FIELDS = frozenset({"name", "email", "phone", "birthday", "note"})
MASK = "•••"


def mask_text(value: object) -> str | None:
    """`A•••` for a name, `a•••@•••` for an address: enough to tell values apart, no more."""
    if value is None:
        return None
    text = str(value)
    if not text:
        return text
    if "@" in text:
        return f"{text[0]}{MASK}@{MASK}"
    return f"{text[0]}{MASK}" if len(text) > 3 else MASK


def mask_personal(value: object) -> object:
    """A copy of event data (nested dicts and lists) with every personal field masked."""
    if isinstance(value, Mapping):
        return {
            key: mask_text(item)
            if key in PERSONAL_FIELDS and item is not None
            else mask_personal(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_personal(item) for item in value]
    return value

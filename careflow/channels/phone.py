"""Phone numbers in E.164, as every SMS provider takes them, checked with `phonenumbers`."""

from __future__ import annotations

import phonenumbers

# Numbers written without a country code are read as numbers of this region.
DEFAULT_REGION = "CN"


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number SMS can reach; the message says why."""


def to_e164(raw: str, *, region: str = DEFAULT_REGION) -> str:
    """`raw` as E.164 (`+8613800138000`); InvalidPhoneNumber naming what is wrong."""
    text = raw.strip()
    if not text:
        raise InvalidPhoneNumber("expected a phone number, got an empty value")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber(
            f"{raw!r} is not a phone number ({error._msg}); write it with its country code, "
            "e.g. +86 138 0013 8000"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(
            f"{raw!r} is not a valid number for +{number.country_code} (wrong length or "
            "prefix); write it with its country code, e.g. +86 138 0013 8000"
        )
    if phonenumbers.number_type(number) not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        raise InvalidPhoneNumber(f"{raw!r} is not a mobile number, so it cannot receive SMS")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

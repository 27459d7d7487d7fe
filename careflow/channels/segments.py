"""How long an SMS is, in the segments an operator bills.

A text of GSM-7 characters fits 160 in one segment and 153 per segment beyond (the
rest of each is the concatenation header); any other character (Chinese, emoji)
makes the whole text UCS-2: 70 in one segment, 67 per segment beyond. UCS-2 counts
UTF-16 code units, so a character outside the Basic Multilingual Plane counts two.
Chinese operators count a registered signature (【品牌】) as part of the text.
"""

from __future__ import annotations

from dataclasses import dataclass

_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# These take an escape and the character: two septets each.
_GSM7_EXTENDED = set("^{}\\[~]|€\f")

UCS2_SINGLE, UCS2_PART = 70, 67
GSM7_SINGLE, GSM7_PART = 160, 153


@dataclass(frozen=True)
class SmsLength:
    """A text's length in its encoding's units, the encoding, and the segments it takes."""

    units: int
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int


def sms_length(text: str) -> SmsLength:
    """The length and segment count of `text` as one SMS."""
    if all(char in _GSM7_BASIC or char in _GSM7_EXTENDED for char in text):
        units = sum(2 if char in _GSM7_EXTENDED else 1 for char in text)
        return SmsLength(units, "GSM-7", _segments(units, GSM7_SINGLE, GSM7_PART))
    units = len(text.encode("utf-16-le")) // 2
    return SmsLength(units, "UCS-2", _segments(units, UCS2_SINGLE, UCS2_PART))


def _segments(units: int, single: int, part: int) -> int:
    if units <= single:
        return 1 if units else 0
    return -(-units // part)

"""Phone numbers, segment counts and opt-out replies."""

from __future__ import annotations

import pytest

from careflow.channels.phone import InvalidPhoneNumber, to_e164
from careflow.channels.replies import is_opt_out
from careflow.channels.segments import sms_length


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13800138000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"),
        ("008613800138000", "+8613800138000"),
        ("+44 7911 123456", "+447911123456"),
    ],
)
def test_numbers_become_e164(raw: str, e164: str) -> None:
    assert to_e164(raw) == e164


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", "expected a phone number"),
        ("call me", "is not a phone number"),
        ("1380013800", r"is not a valid number for \+86"),
        ("010 6552 9988", "is not a mobile number"),
    ],
)
def test_invalid_numbers_are_refused_with_the_reason(raw: str, words: str) -> None:
    with pytest.raises(InvalidPhoneNumber, match=words):
        to_e164(raw)


@pytest.mark.parametrize(
    ("text", "units", "encoding", "segments"),
    [
        ("", 0, "GSM-7", 0),
        ("a" * 160, 160, "GSM-7", 1),
        ("a" * 161, 161, "GSM-7", 2),
        ("{" * 80, 160, "GSM-7", 1),  # an escape and the character: two each
        ("好" * 70, 70, "UCS-2", 1),
        ("好" * 71, 71, "UCS-2", 2),
        ("好" * 134, 134, "UCS-2", 2),
        ("好" * 135, 135, "UCS-2", 3),
        ("a" * 69 + "😀", 71, "UCS-2", 2),  # outside the BMP: two UTF-16 units
    ],
)
def test_segments(text: str, units: int, encoding: str, segments: int) -> None:
    length = sms_length(text)
    assert (length.units, length.encoding, length.segments) == (units, encoding, segments)


@pytest.mark.parametrize(
    "reply", ["T", "td", " R ", "退订", "退订。", "\uff34\uff24", "t!"]
)  # the last but one: full-width TD
def test_opt_out_replies(reply: str) -> None:
    assert is_opt_out(reply)


@pytest.mark.parametrize("reply", ["thanks", "TT", "不退订", "R2", "好的"])
def test_other_replies_are_not_opt_outs(reply: str) -> None:
    assert not is_opt_out(reply)

"""The email as it goes out: `flat_email` writes what the email library would, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtplib.email import extract_recipients, extract_sender, flatten_message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from careflow.outreach.envelope import OutgoingEmail, build_email, flat_email
from careflow.outreach.templates import RenderedMessage

BOUNDARY = "=_0123456789abcdef0123456789abcdef"
SENDER = "careflow <care@careflow.localhost>"
NOON = datetime(2031, 3, 4, 12, 0, tzinfo=UTC)
UNSUBSCRIBE = "https://care.example.com/unsubscribe/" + "eyJjIjoiYy0xIiwidCI6ImNhcmUifQ.aw93qw" * 2


def rendered(
    subject: str = "Your case k-1", text: str = "Hello\n", html: str = "<p>Hello</p>\n"
) -> RenderedMessage:
    return RenderedMessage("complaint_ack", "en", subject, text, html)


def library_bytes(message: EmailMessage) -> tuple[bytes, str, tuple[str, ...], bool]:
    """What aiosmtplib's `send_message` sends for the built message, and its envelope."""
    sender = extract_sender(message)
    recipients = tuple(extract_recipients(message))
    if not sender or not recipients:
        raise ValueError("no address")
    utf8 = not (sender + "".join(recipients)).isascii()
    return flatten_message(message, utf8=utf8, cte_type="8bit"), sender, recipients, utf8


def flat(email: OutgoingEmail) -> tuple[bytes, str, tuple[str, ...], bool]:
    return email.data, email.sender, email.recipients, email.utf8


_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300)
_header_text = st.one_of(
    st.text(st.characters(max_codepoint=127), max_size=100),
    _text,
    st.text(st.sampled_from(list('ab =?()<>"\\,;:@.\t')), max_size=90),
)
_address = st.one_of(
    st.sampled_from(
        [
            "emma@example.com",
            "Emma <emma@example.com>",
            "müller@example.de",
            "用户@例子.广告",
            '"a b"@x.example',
            "a..b@x.example",
            "x@[192.0.2.1]",
            "a@b.example, c@d.example",
            "not an address",
            "",
        ]
    ),
    st.from_regex(r"[A-Za-z0-9.+_-]{1,30}@[a-z0-9.-]{1,30}", fullmatch=True),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subject=_header_text,
    text=_text,
    html=_text,
    recipient=_address,
    unsubscribe=st.one_of(
        st.none(),
        st.from_regex(r"https://[a-z.]{1,20}/u/[A-Za-z0-9_.-]{10,200}", fullmatch=True),
        _header_text,
    ),
    locale=st.sampled_from(["en", "zh-CN", "", "=?x?="]),
    sender=st.sampled_from([SENDER, "Care, Team <care@x.example>", "Café <café@x.example>"]),
    message_id=st.sampled_from(["<b841fd59cce63262f2abd0355e8570eb@careflow.localhost>", "<x@y>"]),
    date=st.sampled_from([NOON, NOON.astimezone(timezone(timedelta(hours=8)))]),
)
def test_flat_email_is_what_the_email_library_sends(
    subject: str,
    text: str,
    html: str,
    recipient: str,
    unsubscribe: str | None,
    locale: str,
    sender: str,
    message_id: str,
    date: datetime,
) -> None:
    message = RenderedMessage("t", locale, subject, text, html)
    options = {
        "sender": sender,
        "recipient": recipient,
        "message_id": message_id,
        "unsubscribe_url": unsubscribe,
        "date": date,
        "boundary": BOUNDARY,
    }
    try:
        expected = library_bytes(build_email(message, **options))  # type: ignore[arg-type]
    except ValueError:
        # A line break in a header, an unsendable link or no address: refused alike.
        with pytest.raises(ValueError):  # noqa: PT011 - the library's messages vary
            flat_email(message, **options)  # type: ignore[arg-type]
        return
    assert flat(flat_email(message, **options)) == expected  # type: ignore[arg-type]


def parse(email: OutgoingEmail) -> EmailMessage:
    message = message_from_bytes(email.data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_the_usual_message_has_every_header_and_both_parts() -> None:
    email = flat_email(
        rendered(text="Dear Emma,\n\nopened at 1:40\u202fPM\n"),
        sender=SENDER,
        recipient="emma@example.com",
        message_id="<abc@careflow.localhost>",
        unsubscribe_url=UNSUBSCRIBE,
        date=NOON,
    )
    assert (email.sender, email.recipients, email.utf8) == (
        "care@careflow.localhost",
        ("emma@example.com",),
        False,
    )
    message = parse(email)
    assert message["Message-ID"] == "<abc@careflow.localhost>"
    assert message["Content-Language"] == "en"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    # (Decoded quoted-printable keeps the wire's CRLF line ends.)
    assert plain.get_content().replace("\r\n", "\n") == "Dear Emma,\n\nopened at 1:40\u202fPM\n"
    assert html.get_content().replace("\r\n", "\n") == "<p>Hello</p>\n"
    assert email.data.isascii(), "7-bit clean: valid with or without 8BITMIME"
    assert b"\r\n" in email.data
    assert b"\n" not in email.data.replace(b"\r\n", b"")


def test_list_unsubscribe_is_one_line_with_the_url_as_it_is() -> None:
    # The email library would fold a long one into RFC 2047 encoded words, which mail
    # clients do not decode in this header: the one-click link would be lost.
    email = flat_email(
        rendered(),
        sender=SENDER,
        recipient="emma@example.com",
        message_id="<abc@careflow.localhost>",
        unsubscribe_url=UNSUBSCRIBE,
    )
    assert f"\r\nList-Unsubscribe: <{UNSUBSCRIBE}>\r\n".encode() in email.data
    built = build_email(
        rendered(),
        sender=SENDER,
        recipient="emma@example.com",
        message_id="<abc@careflow.localhost>",
        unsubscribe_url=UNSUBSCRIBE,
    )
    assert f"\nList-Unsubscribe: <{UNSUBSCRIBE}>\n".encode() in bytes(built)


@pytest.mark.parametrize("url", ["https://x.example/a b", "https://x.example/é"])
def test_an_unsendable_unsubscribe_link_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="List-Unsubscribe"):
        flat_email(
            rendered(),
            sender=SENDER,
            recipient="e@x.example",
            message_id="<a@b>",
            unsubscribe_url=url,
        )


@pytest.mark.parametrize("field", ["subject", "recipient", "message_id", "unsubscribe_url"])
@pytest.mark.parametrize("line_break", ["\r\n", "\n", "\r", "\u2028"])
def test_a_line_break_in_any_header_value_is_refused(field: str, line_break: str) -> None:
    values = {
        "subject": "Hello",
        "recipient": "emma@example.com",
        "message_id": "<abc@careflow.localhost>",
        "unsubscribe_url": "https://x.example/u",
    }
    values[field] += f"{line_break}Bcc: victim@example.com"
    with pytest.raises(ValueError):  # noqa: PT011 - the library's own message varies
        flat_email(
            rendered(subject=values["subject"]),
            sender=SENDER,
            recipient=values["recipient"],
            message_id=values["message_id"],
            unsubscribe_url=values["unsubscribe_url"],
        )


def test_a_non_ascii_name_in_the_subject_is_encoded_for_an_ascii_exchange() -> None:
    email = flat_email(
        rendered(subject="Happy birthday, Zoë 王芳"),
        sender=SENDER,
        recipient="zoe@example.com",
        message_id="<abc@careflow.localhost>",
    )
    assert not email.utf8
    assert email.data.isascii()
    assert b"Subject: Happy birthday, =?utf-8?" in email.data
    assert parse(email)["Subject"] == "Happy birthday, Zoë 王芳"


def test_a_non_ascii_address_needs_smtputf8_and_writes_headers_in_utf8() -> None:
    email = flat_email(
        rendered(subject="您好，王芳", text="王芳您好\n"),
        sender=SENDER,
        recipient="王芳@例子.广告",
        message_id="<abc@careflow.localhost>",
    )
    assert email.utf8
    assert email.recipients == ("王芳@例子.广告",)
    assert "To: 王芳@例子.广告\r\n".encode() in email.data
    assert "Subject: 您好，王芳\r\n".encode() in email.data
    message = parse(email)
    body = message.get_body(("plain",))
    assert body is not None
    assert body["Content-Transfer-Encoding"] == "base64"
    assert body.get_content() == "王芳您好\n"

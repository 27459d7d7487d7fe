"""Turning a rendered message into the email that goes out: headers, parts, Message-ID.

Two ways to the same bytes:

- `flat_email` writes the message straight to the bytes SMTP carries (CRLF line
  ends), with its envelope: what the send step sends. It never builds an
  `EmailMessage`, whose header objects and parse trees cost more than rendering
  the template and, while several sends are in flight, outlive young garbage
  collections. Each header that is plain (printable ASCII that the email library
  would write as it stands) is written as is; any other goes through the email
  library's own header classes and folding, one header at a time.
- `build_email` builds the `EmailMessage` with the email library, for callers that
  want one (staff notifications, simulations) and as the reference: the tests check
  that `flat_email` gives exactly the bytes the library's generator writes for it.

Bodies are always 7-bit clean (7bit when ASCII with short lines, else quoted-
printable or base64, whichever the library would choose), so a message is valid
whether or not the server offers 8BITMIME and can be written before the server is
asked. Headers are UTF-8 only when an address needs SMTPUTF8 (as aiosmtplib decides
it); otherwise non-ASCII header text is RFC 2047 encoded.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy, quoprimime
from email.headerregistry import AddressHeader, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime
from functools import lru_cache

from careflow.outreach.templates import RenderedMessage


class _HeaderClasses(HeaderRegistry):
    """The standard header classes, each built once.

    The stdlib registry builds a new class every time it parses a header, about a
    third of the cost of building a message; the classes hold no state, so one per
    header name serves every message.
    """

    def __init__(self) -> None:
        super().__init__()
        self._built: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        built = self._built.get(key)
        if built is None:
            built = self._built[key] = super().__getitem__(name)
        return built


class _UrlListHeader(UnstructuredHeader, BaseHeader):
    """`List-Unsubscribe`: angle-bracketed URLs, written on one line as they are.

    The email library folds any long unstructured header, and a URL has no space
    to fold at, so it would write the link as RFC 2047 encoded words, which mail
    clients do not decode in this header (RFC 2369 makes it a list of URLs): the
    one-click unsubscribe would not be found. One line of up to 998 characters is
    what RFC 5322 allows.
    """

    max_count = 1

    def fold(self, *, policy: Policy) -> str:
        value = str(self)
        if not _URL_LIST.fullmatch(value) or len(self.name) + len(value) + 2 > _MAX_LINE:
            raise ValueError(f"{self.name} must be <URL> of printable ASCII: {value!r}")
        return f"{self.name}: {value}{policy.linesep}"


# Printable ASCII URLs in angle brackets, separated by commas (RFC 2369).
_URL_LIST = re.compile(r"<[!-;=?-~]+>(?:, ?<[!-;=?-~]+>)*")
_MAX_LINE = 998  # RFC 5322's limit for one line, without its CRLF


def _header_classes() -> HeaderRegistry:
    registry = _HeaderClasses()
    registry.map_to_type("list-unsubscribe", _UrlListHeader)
    return registry


# The default email policy (which refuses line breaks in header values) with the
# header classes built once, and bodies encoded for a 7-bit channel.
_POLICY = policy.default.clone(header_factory=_header_classes(), cte_type="7bit")
# How the bytes are written: aiosmtplib's choice for `send_message` (SMTPUTF8 when
# an address is not ASCII), with the same header classes.
_WIRE = policy.SMTP.clone(header_factory=_POLICY.header_factory)
_WIRE_UTF8 = policy.SMTPUTF8.clone(header_factory=_POLICY.header_factory)
_LINE = 78  # both policies' max_line_length


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """A message as SMTP carries it: envelope addresses and the finished bytes."""

    sender: str  # the envelope's MAIL FROM address (the From header's)
    recipients: tuple[str, ...]  # RCPT TO addresses (the To header's)
    data: bytes  # the whole message, CRLF line ends, body 7-bit clean
    utf8: bool  # an address is not ASCII: needs the server's SMTPUTF8
    message_id: str


def message_domain(mail_from: str) -> str:
    """The domain of the sender address, used on the right of every Message-ID."""
    return mail_from.rsplit("@", 1)[-1].strip("> ") or "careflow.localhost"


def message_id_for(key: str, domain: str) -> str:
    """A Message-ID derived from the idempotency key: a resend is recognisably the same mail."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def new_boundary() -> str:
    """A MIME boundary of our own: 128 random bits cannot turn up in the text by chance.

    (The generator would otherwise make one and compile a new regular expression for
    every message to check that it is unused.)
    """
    return f"=_{secrets.token_hex(16)}"


def build_email(
    rendered: RenderedMessage,
    *,
    sender: str,
    recipient: str,
    message_id: str,
    unsubscribe_url: str | None = None,
    date: datetime | None = None,
    boundary: str | None = None,
) -> EmailMessage:
    """The email for one rendered message; with `unsubscribe_url`, RFC 8058 one-click headers.

    `EmailMessage` refuses line breaks in header values, and subjects are folded to
    one line by the renderer, so no customer data can add a header. `date` is the
    sender's clock (the journey's time in a simulation); the wall clock by default.
    """
    message = EmailMessage(policy=_POLICY)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = rendered.subject
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(date or datetime.now(UTC))
    if unsubscribe_url:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    message.make_alternative(boundary=boundary or new_boundary())
    message.add_alternative(rendered.html, subtype="html")
    # After the parts exist: making the message multipart moves Content-* headers
    # into its first part.
    message["Content-Language"] = rendered.locale
    return message


def flat_email(
    rendered: RenderedMessage,
    *,
    sender: str,
    recipient: str,
    message_id: str,
    unsubscribe_url: str | None = None,
    date: datetime | None = None,
    boundary: str | None = None,
) -> OutgoingEmail:
    """`build_email`'s message as the bytes aiosmtplib's `send_message` would send.

    Raises ValueError, as `build_email` does, for a header value with a line break
    (which could otherwise add a header) and for a sender or recipient without an
    address.
    """
    envelope_from = _sender_address(sender)
    recipients = _recipient_addresses(recipient)
    utf8 = not (envelope_from + "".join(recipients)).isascii()
    boundary = boundary or new_boundary()
    head = [
        _from_line(sender, utf8=utf8),
        _header_line("To", recipient, utf8=utf8, plain=_PLAIN_ADDRESS),
        _header_line("Subject", rendered.subject, utf8=utf8),
        _header_line("Message-ID", message_id, utf8=utf8, plain=_PLAIN_MESSAGE_ID),
        _date_line(date or datetime.now(UTC)),
    ]
    if unsubscribe_url:
        head.append(
            _header_line("List-Unsubscribe", f"<{unsubscribe_url}>", utf8=utf8, plain=_URL_LIST)
        )
        head.append(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
    head.append(
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative;\r\n boundary="%s"\r\n' % boundary.encode("ascii")
    )
    head.append(_header_line("Content-Language", rendered.locale, utf8=utf8))
    delimiter = b"--%s\r\n" % boundary.encode("ascii")
    data = b"".join(
        (
            *head,
            b"\r\n",
            delimiter,
            _text_part("plain", rendered.text, b""),
            b"\r\n",
            delimiter,
            # The email library's `add_alternative` gives the new part a
            # MIME-Version of its own; written here too, byte for byte.
            _text_part("html", rendered.html, b"MIME-Version: 1.0\r\n"),
            b"\r\n--%s--\r\n" % boundary.encode("ascii"),
        )
    )
    return OutgoingEmail(envelope_from, recipients, data, utf8, message_id)


# Values the email library writes exactly as given: printable ASCII, no encoded-word
# opener, single spaces between words, no space at either end, short enough for one
# line. Anything else goes through the library's header classes.
_PLAIN_TEXT = re.compile(r"[!-~](?:[!-<>-~]|=(?!\?)| (?! ))*[!-~]|[!-~]")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
_PLAIN_ADDRESS = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@{_DOMAIN}")
_PLAIN_MESSAGE_ID = re.compile(rf"<[A-Za-z0-9]+@{_DOMAIN}>")


def _header_line(
    name: str, value: str, *, utf8: bool, plain: re.Pattern[str] = _PLAIN_TEXT
) -> bytes:
    """`name: value` folded as the email library writes it on the wire.

    `plain` matches the values the library writes exactly as given.
    """
    limit = _MAX_LINE if plain is _URL_LIST else _LINE
    if len(name) + len(value) + 2 <= limit and plain.fullmatch(value):
        return f"{name}: {value}\r\n".encode("ascii")
    return _folded(name, value, utf8=utf8)


def _folded(name: str, value: str, *, utf8: bool) -> bytes:
    # The library's own way: refuse line breaks, parse into a header, fold.
    _, header = _POLICY.header_store_parse(name, value)
    return (_WIRE_UTF8 if utf8 else _WIRE).fold_binary(name, header)


@lru_cache(maxsize=16)
def _sender_address(sender: str) -> str:
    """The envelope's MAIL FROM: the From header's address (as aiosmtplib takes it)."""
    header = _POLICY.header_store_parse("From", sender)[1]
    assert isinstance(header, AddressHeader)
    if not header.addresses:
        raise ValueError(f"no address in the sender {sender!r}")
    return str(header.addresses[0].addr_spec)


@lru_cache(maxsize=16)
def _from_line(sender: str, *, utf8: bool) -> bytes:
    # One sender for every message: folded by the library once.
    return _folded("From", sender, utf8=utf8)


def _recipient_addresses(recipient: str) -> tuple[str, ...]:
    """The envelope's RCPT TO: the To header's addresses (as aiosmtplib takes them)."""
    if _PLAIN_ADDRESS.fullmatch(recipient):
        return (recipient,)
    header = _POLICY.header_store_parse("To", recipient)[1]
    assert isinstance(header, AddressHeader)
    addresses = tuple(str(address.addr_spec) for address in header.addresses)
    if not addresses:
        raise ValueError("no recipient address")
    return addresses


def _date_line(date: datetime) -> bytes:
    # The library parses the Date value and writes `format_datetime` of the result,
    # which gives back the same text.
    return f"Date: {format_datetime(date)}\r\n".encode("ascii")


def _text_part(subtype: str, text: str, extra_headers: bytes) -> bytes:
    cte, body = _encode_text(text)
    return (
        b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: %s\r\n%s\r\n%s'
        % (
            subtype.encode("ascii"),
            cte.encode("ascii"),
            extra_headers,
            body.replace(b"\n", b"\r\n"),
        )
    )


def _encode_text(text: str) -> tuple[str, bytes]:
    """The transfer encoding and body the email library's `set_content` chooses (7-bit).

    Same heuristics as `email.contentmanager`: 7bit for ASCII with lines of at most
    78 characters; otherwise quoted-printable, or base64 when that is shorter on
    the first ten lines. Line ends are LF here; CRLF on the wire.
    """
    lines = text.encode("utf-8").splitlines()
    normal = b"\n".join(lines) + b"\n"
    if max((len(line) for line in lines), default=0) <= _LINE and normal.isascii():
        return "7bit", normal
    sniff = b"\n".join(lines[:10]) + b"\n"
    # Quoted-printable encodes each line on its own, so the first ten lines' encoding
    # is the start of the whole body's.
    quoted = [_quoted_printable_line(line) for line in lines[:10]]
    sniff_qp = "\n".join(quoted) + "\n"
    if len(sniff_qp) > len(binascii.b2a_base64(sniff)):
        chunk = _LINE // 4 * 3
        encoded = b"".join(
            binascii.b2a_base64(normal[start : start + chunk])
            for start in range(0, len(normal), chunk)
        )
        return "base64", encoded
    quoted += (_quoted_printable_line(line) for line in lines[10:])
    return "quoted-printable", ("\n".join(quoted) + "\n").encode("ascii")


# A line quoted-printable leaves as it is: characters that need no quoting (tab, and
# printable ASCII but `=`), not ending in white space, short enough not to be broken.
_QP_PLAIN_LINE = re.compile(rb"(?:[\t !-<>-~]{0,%d}[!-<>-~])?" % (_LINE - 1))


def _quoted_printable_line(line: bytes) -> str:
    """One body line (without its line end) as `quoprimime.body_encode` writes it.

    The library quotes character by character in Python, which costs more than the
    rest of the message; most lines of a message need none of it.
    """
    if _QP_PLAIN_LINE.fullmatch(line):
        return line.decode("ascii")
    return quoprimime.body_encode(line.decode("latin-1"), _LINE)

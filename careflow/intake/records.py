"""Validated shapes of the records careflow takes in, shared by events and imports.

Each model names its fields exactly as the import columns and event payloads do,
so one validation error message serves the CSV row and the HTTP body alike.
An empty value means "unknown" and becomes None.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
)

from careflow.workflows.ids import encode_key


def _empty_is_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


Text = Annotated[str | None, BeforeValidator(_empty_is_none)]


def _identifier(value: object) -> object:
    # A blank id names nothing: refused with its reason, never stored as "" or "  ".
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be blank (an id needs at least one visible character)")
    return value


def _not_a_boolean(value: object) -> object:
    # JSON `true` is not the number 1: pydantic's lax mode would take it as one.
    if isinstance(value, bool):
        raise ValueError("expected a number, not true or false")
    return value


# A business id (customer, order, complaint, event): text with something in it.
Identifier = Annotated[str, BeforeValidator(_identifier)]
# A number that a boolean cannot pass for.
NotBoolean = BeforeValidator(_not_a_boolean)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_LOCALE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
Severity = Literal["low", "medium", "high", "critical"]


class Timestamp(BaseModel):
    """An ISO 8601 time; a date alone means midnight in the customer's time zone."""

    model_config = ConfigDict(frozen=True)
    value: datetime | date

    def resolve(self, timezone: str | None) -> datetime:
        return resolve_time(self.value, timezone)


def resolve_time(value: datetime | date, timezone: str | None) -> datetime:
    """Make an aware datetime: naive times and bare dates are in the customer's zone."""
    zone = ZoneInfo(timezone or "UTC")
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    return datetime.combine(value, time.min, tzinfo=zone)


def _check_timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"unknown IANA time zone {value!r} (expected e.g. Asia/Shanghai)"
        ) from error
    return value


def check_time_range(value: datetime | date | None) -> datetime | date | None:
    """Refuse times no customer record can mean (and that overflow when converted to UTC)."""
    if value is not None and not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"expected a time between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


# Workflow ids carry customer and complaint ids escaped (workflows/ids.py); escaped,
# each fits the store's workflow id columns (300) with the rest of a journey's id.
MAX_ESCAPED_KEY = 128


def check_key_length(value: str) -> str:
    """Refuse a business id too long for a workflow id once escaped."""
    if len(encode_key(value)) > MAX_ESCAPED_KEY:
        raise ValueError(
            f"too long: at most {MAX_ESCAPED_KEY} characters, counting each character "
            "other than ASCII letters, digits and . _ : @ as 3 per UTF-8 byte"
        )
    return value


def check_customer_id(value: str) -> str:
    """Refuse customer ids that could not be read back: the API and the console take
    the id as one segment of a URL path (`/customers/<id>`), and a `/` (or a `.` or
    `..` segment, which clients resolve away) would name another path."""
    if "/" in value:
        raise ValueError("a customer id must not contain '/' (it is one segment of a URL)")
    if value in (".", ".."):
        raise ValueError("a customer id must not be '.' or '..' (URLs resolve those away)")
    return check_key_length(value)


# A customer id as intake accepts it: not blank, every one can be read back through
# the API and it fits a workflow id.
CustomerId = Annotated[str, BeforeValidator(_identifier), AfterValidator(check_customer_id)]
# A complaint id as intake accepts it: not blank, and it fits a workflow id.
ComplaintId = Annotated[str, BeforeValidator(_identifier), AfterValidator(check_key_length)]

EARLIEST_YEAR, LATEST_YEAR = 1900, 2200
MaybeTime = Annotated[
    datetime | date | None, BeforeValidator(_empty_is_none), AfterValidator(check_time_range)
]


class CustomerFields(BaseModel):
    """Customer columns; every field is optional so an update can send just what changed."""

    model_config = ConfigDict(extra="ignore")

    name: Text = None
    email: Text = None
    phone: Text = None
    locale: Text = None
    timezone: Text = None
    birthday: Annotated[date | None, BeforeValidator(_empty_is_none)] = None
    birthday_calendar: Annotated[
        Literal["solar", "lunar"] | None, BeforeValidator(_empty_is_none)
    ] = None
    tier: Annotated[
        Literal["vip", "regular", "potential"] | None, BeforeValidator(_empty_is_none)
    ] = None
    account_manager: Text = None
    created_at: MaybeTime = None
    preferred_channel: Annotated[
        Literal["email", "sms"] | None, BeforeValidator(_empty_is_none)
    ] = None

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.fullmatch(value):
            raise ValueError("expected an email address like name@example.com")
        return value

    @field_validator("locale")
    @classmethod
    def _valid_locale(cls, value: str | None) -> str | None:
        if value is not None and not _LOCALE.fullmatch(value):
            raise ValueError("expected a language tag like zh-CN or en")
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str | None) -> str | None:
        return _check_timezone(value)

    @field_validator("name")
    @classmethod
    def _single_line_name(cls, value: str | None) -> str | None:
        # A name ends up in email subjects and greetings: no line breaks, ever.
        if value is not None and any(ch in value for ch in "\r\n"):
            raise ValueError("a name must be on one line")
        return value


class OrderFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    order_id: Identifier
    amount: Annotated[Decimal, NotBoolean] = Field(ge=0, max_digits=14, decimal_places=2)
    items: Text = None
    ordered_at: MaybeTime = None


class ComplaintFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    complaint_id: ComplaintId
    severity: Annotated[Severity | None, BeforeValidator(_empty_is_none)] = None
    channel: Text = None
    subject: Text = None
    status: Annotated[Literal["open", "resolved"] | None, BeforeValidator(_empty_is_none)] = None
    opened_at: MaybeTime = None
    resolved_at: MaybeTime = None


class ComplaintRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    complaint_id: ComplaintId
    resolved_at: MaybeTime = None


class SurveyFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    score: Annotated[int, NotBoolean] = Field(ge=1, le=5)
    complaint_id: Text = None
    workflow_id: Text = None
    comment: Text = None


class ConsentFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    channel: Literal["email", "sms"] = "email"
    topic: Literal["marketing", "care", "transactional"]
    granted: StrictBool
    source: str = "event"

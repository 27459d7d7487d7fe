"""The template context for one message, built from the store inside the send activity."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.outreach.links import unsubscribe_url
from careflow.store import Complaint, Customer


class CustomerFacts(Protocol):
    """What a template may know about the customer (a store row or the send step's read)."""

    @property
    def external_id(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def locale(self) -> str | None: ...
    @property
    def timezone(self) -> str | None: ...
    @property
    def tier(self) -> str | None: ...
    @property
    def account_manager(self) -> str | None: ...


class CaseFacts(Protocol):
    """What a template may know about the complaint a message is about."""

    @property
    def external_id(self) -> str: ...
    @property
    def subject(self) -> str | None: ...
    @property
    def severity(self) -> str: ...
    @property
    def channel(self) -> str | None: ...
    @property
    def opened_at(self) -> datetime: ...
    @property
    def status(self) -> str: ...
    @property
    def resolved_at(self) -> datetime | None: ...


async def build_message_context(
    session: AsyncSession,
    customer: Customer,
    params: Mapping[str, str | int | float | bool],
    *,
    topic: str,
    base_url: str,
    secret_key: str,
) -> dict[str, object]:
    """`message_context` for a stored customer, loading the complaint named in `params`."""
    complaint_id = params.get("complaint_id")
    complaint = None
    if complaint_id is not None:
        complaint = await session.scalar(
            select(Complaint).where(
                Complaint.external_id == str(complaint_id),
                Complaint.customer_id == customer.id,
            )
        )
    return message_context(
        customer, complaint, params, topic=topic, base_url=base_url, secret_key=secret_key
    )


def message_context(
    customer: CustomerFacts,
    case: CaseFacts | None,
    params: Mapping[str, str | int | float | bool],
    *,
    topic: str,
    base_url: str,
    secret_key: str,
) -> dict[str, object]:
    """Everything a template may use: the customer, the case, the journey's params, links.

    Transactional messages carry no unsubscribe link; every other topic does.
    """
    context: dict[str, object] = {
        "customer": {
            "id": customer.external_id,
            "name": customer.name or "",
            "locale": customer.locale or "en",
            "timezone": customer.timezone or "UTC",
            "tier": customer.tier or "",
            "account_manager": customer.account_manager or "",
        },
        "params": dict(params),
        "topic": topic,
        "unsubscribe_url": None,
    }
    context.update(_template_values(params))
    if case is not None:
        context["case"] = {
            "reference": case.external_id,
            "subject": case.subject or "",
            "severity": case.severity,
            "channel": case.channel or "",
            "opened_at": case.opened_at,
            "status": case.status,
            "resolved_at": case.resolved_at,
        }
    if topic != "transactional":
        context["unsubscribe_url"] = unsubscribe_url(
            base_url, secret_key, customer.external_id, topic
        )
    return context


# Journeys pass flat, id-like parameters (`offer_value`, `offer_code`, ...); a
# template reads them grouped (`offer.value`). Only these groups are nested.
_GROUPS = ("offer",)
_RESERVED = frozenset({"customer", "case", "params", "topic", "unsubscribe_url"})


def _template_values(params: Mapping[str, str | int | float | bool]) -> dict[str, object]:
    """Journey parameters as template variables: grouped, and `*_at` times parsed."""
    values: dict[str, object] = {}
    for name, value in params.items():
        parsed = _time_or_value(name, value)
        group, _, field = name.partition("_")
        if group in _GROUPS and field:
            nested = values.setdefault(group, {})
            assert isinstance(nested, dict)
            nested[field] = parsed
        elif name not in _RESERVED:
            values[name] = parsed
    return values


def _time_or_value(name: str, value: str | int | float | bool) -> object:
    if name.endswith("_at") and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value

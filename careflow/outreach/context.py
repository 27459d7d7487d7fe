"""The template context for one message, built from the store inside the send activity."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from careflow.store import Complaint, Customer


async def build_message_context(
    session: AsyncSession,
    customer: Customer,
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
    complaint_id = params.get("complaint_id")
    if complaint_id is not None:
        complaint = await session.scalar(
            select(Complaint).where(
                Complaint.external_id == str(complaint_id),
                Complaint.customer_id == customer.id,
            )
        )
        if complaint is not None:
            context["case"] = {
                "reference": complaint.external_id,
                "subject": complaint.subject or "",
                "severity": complaint.severity,
                "channel": complaint.channel or "",
                "opened_at": complaint.opened_at,
                "status": complaint.status,
            }
    if topic != "transactional":
        from careflow.outreach.links import unsubscribe_url

        context["unsubscribe_url"] = unsubscribe_url(
            base_url, secret_key, customer.external_id, topic
        )
    return context

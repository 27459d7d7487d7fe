"""What SMS providers tell careflow: replies from customers and delivery receipts.

A reply that opts out (T, TD, R, 退订) becomes a `consent_changed` event (SMS,
marketing, withdrawn, source `sms_reply`), posted like any other: stored and on the
timeline, running journeys told `opted_out` at once, and every later marketing send
checks consent again. A receipt marks the ledger row whose message id the provider
echoes back (`message_id` of the generic gateway, Alibaba Cloud's `out_id`)
`receipt` `delivered`, or `failed: <the provider's code>`; its status stays `sent`
(the step is done, and it counted against the contact budget either way).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from careflow.channels.phone import InvalidPhoneNumber, to_e164
from careflow.store import Customer, Database, OutreachLedger

DELIVERED, FAILED = "delivered", "failed"
# Stored numbers are narrowed down by their last digits (written together even in
# "138 0013 8000"), then compared in E.164.
_SUFFIX = 4


async def customers_with_phone(db: Database, e164: str) -> list[str]:
    """External ids of the (not erased) customers whose phone is `e164`, however stored."""
    digits = "".join(char for char in e164 if char.isdigit())
    async with db.session() as session:
        rows = await session.execute(
            select(Customer.external_id, Customer.phone).where(
                Customer.phone.is_not(None),
                Customer.erased_at.is_(None),
                Customer.phone.contains(digits[-_SUFFIX:]),
            )
        )
        found = []
        for external_id, phone in rows:
            try:
                if phone is not None and to_e164(phone) == e164:
                    found.append(external_id)
            except InvalidPhoneNumber:
                continue
    return sorted(found)


async def record_receipt(
    db: Database, message_id: str, *, delivered: bool, code: str | None, at: datetime
) -> bool:
    """Mark the message's ledger row; False when no sent message has that id."""
    async with db.session() as session:
        result = await session.execute(
            update(OutreachLedger)
            .where(OutreachLedger.message_id == message_id, OutreachLedger.status == "sent")
            .values(
                receipt=DELIVERED if delivered else f"{FAILED}: {code or 'unknown'}"[:100],
                receipt_at=at,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

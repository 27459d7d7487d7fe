"""`POST /sms/replies` and `POST /sms/receipts`: what SMS providers call back with.

Both take the generic gateway's JSON (one object) or Alibaba Cloud's push format (a
list of reports), and answer as Alibaba Cloud expects (`{"code": 0, "msg": "ok"}`).
They need the API token when one is set, like the other staff endpoints.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Body, HTTPException

from careflow.api.state import State
from careflow.channels.inbound import customers_with_phone, record_receipt
from careflow.channels.phone import InvalidPhoneNumber, to_e164
from careflow.channels.replies import is_opt_out
from careflow.intake.events import EventIdConflict, EventIn, accept_event

router = APIRouter(prefix="/sms", tags=["sms"])
OK = {"code": 0, "msg": "ok"}
# Longer than any id careflow or a provider makes (the ledger column's length).
_MAX_ID = 400


def _items(body: Any) -> list[dict[str, Any]]:
    items = body if isinstance(body, list) else [body]
    if not items or not all(isinstance(item, dict) for item in items):
        raise HTTPException(422, "expected a JSON object, or a list of them")
    return items


@router.post("/replies")
async def sms_replies(state: State, body: Any = Body(...)) -> dict[str, Any]:
    """Customers' replies: `{"from", "text", "reply_id"}` or Alibaba Cloud's SmsUp list
    (`phone_number`, `content`, `sequence_id`). An opt-out withdraws SMS marketing consent."""
    opted_out = 0
    for item in _items(body):
        sender = str(item.get("from") or item.get("phone_number") or "")
        text = str(item.get("text") or item.get("content") or "")
        reply_id = str(item.get("reply_id") or item.get("sequence_id") or "")
        if not is_opt_out(text):
            continue
        try:
            phone = to_e164(sender)
        except InvalidPhoneNumber as error:
            raise HTTPException(422, f"from: {error}") from None
        for customer_id in await customers_with_phone(state.db, phone):
            # One withdrawal per reply: a provider's retry of the same reply repeats it.
            key = reply_id or f"{phone}|{text}|{item.get('send_time') or ''}"
            event = EventIn(
                type="consent_changed",
                customer_id=customer_id,
                occurred_at=datetime.now(UTC),
                data={
                    "channel": "sms",
                    "topic": "marketing",
                    "granted": False,
                    "source": "sms_reply",
                },
                event_id="sms-reply-"
                + hashlib.sha256(f"{customer_id}|{key}".encode()).hexdigest()[:32],
            )
            with contextlib.suppress(EventIdConflict):
                await accept_event(
                    state.db, state.client, state.task_queue, event, direct=state.direct
                )
            opted_out += 1
    return {**OK, "opted_out": opted_out}


@router.post("/receipts")
async def sms_receipts(state: State, body: Any = Body(...)) -> dict[str, Any]:
    """Delivery receipts: `{"message_id", "status": "delivered"|"failed", "code"}` or
    Alibaba Cloud's SmsReport list (`out_id`, `success`, `err_code`)."""
    updated = 0
    for item in _items(body):
        message_id = str(item.get("message_id") or item.get("out_id") or "")
        if not message_id or len(message_id) > _MAX_ID or "\x00" in message_id:
            raise HTTPException(422, "message_id: expected careflow's message id")
        if "success" in item:
            delivered = bool(item["success"])
        else:
            status = str(item.get("status", ""))
            if status not in ("delivered", "failed"):
                raise HTTPException(422, "status: expected 'delivered' or 'failed'")
            delivered = status == "delivered"
        code = str(item.get("code") or item.get("err_code") or "").replace("\x00", "")
        updated += await record_receipt(
            state.db,
            message_id,
            delivered=delivered,
            code=code or None,
            at=datetime.now(UTC),
        )
    return {**OK, "updated": updated}

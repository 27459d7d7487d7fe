"""One-click unsubscribe (RFC 8058): `GET` shows a confirmation page, `POST` unsubscribes.

`GET` never changes anything, because mail scanners follow links; `POST` (the
mail client's one-click request, or the page's button) records the opt-out as a
`consent_changed` event, which journeys in flight hear about at once.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime
from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from careflow.api.pages import GONE, customer_language, customer_on_file, page
from careflow.api.state import ApiState, State
from careflow.intake.apply import find_customer
from careflow.intake.events import EventIdConflict, EventIn, accept_event
from careflow.outreach.links import (
    UNSUBSCRIBE_PATH,
    InvalidLinkToken,
    verify_unsubscribe_token,
)
from careflow.store import Consent

router = APIRouter(include_in_schema=True, tags=["unsubscribe"])

_TEXT = {
    "en": {
        "title": "Unsubscribe",
        "ask": "Stop receiving {topic} emails from us?",
        "button": "Unsubscribe",
        "done": "You are unsubscribed from {topic} emails; we will not send you any more.",
        "bad": "This unsubscribe link is not valid. Please use the link from a recent email.",
    },
    "zh": {
        "title": "退订",
        "ask": "确定不再接收我们的{topic}邮件吗？",
        "button": "退订",
        "done": "您已退订{topic}邮件，今后不会再收到此类邮件。",
        "bad": "此退订链接无效，请使用最近一封邮件中的链接。",
    },
}
_TOPICS = {
    "en": {"marketing": "offers and news", "care": "greetings and care"},
    "zh": {"marketing": "优惠与资讯", "care": "问候与关怀"},
}


async def consent_granted_since(state: ApiState, customer_id: str, topic: str) -> str | None:
    """When the customer's email consent to `topic` was last recorded, if it is not
    withdrawn (`never` when nothing is recorded); None when it is withdrawn already."""
    async with state.db.session() as session:
        customer = await find_customer(session, customer_id)
        consent = (
            None
            if customer is None
            else await session.scalar(
                select(Consent).where(
                    Consent.customer_id == customer.id,
                    Consent.channel == "email",
                    Consent.topic == topic,
                )
            )
        )
    if consent is None:
        return "never"
    return None if not consent.granted else consent.recorded_at.isoformat()


@router.get(UNSUBSCRIBE_PATH + "/{token}", response_class=HTMLResponse)
async def confirm_unsubscribe(token: str, state: State) -> HTMLResponse:
    """The confirmation page behind the link in the email's footer."""
    try:
        claim = verify_unsubscribe_token(state.secret_key, token)
    except InvalidLinkToken:
        return page("en", _TEXT["en"]["title"], f"<p>{_TEXT['en']['bad']}</p>", status=400)
    if not await customer_on_file(state, claim.customer_external_id):
        return page("en", _TEXT["en"]["title"], GONE, status=410)
    language = await customer_language(state, claim.customer_external_id)
    text = _TEXT[language]
    topic = _TOPICS[language].get(claim.topic, claim.topic)
    return page(
        language,
        text["title"],
        f"<p>{escape(text['ask'].format(topic=topic))}</p>"
        f'<form method="post"><button type="submit">{text["button"]}</button></form>',
    )


@router.post(UNSUBSCRIBE_PATH + "/{token}", response_class=HTMLResponse)
async def unsubscribe(token: str, state: State) -> HTMLResponse:
    """Unsubscribe with one request; repeating it is harmless."""
    try:
        claim = verify_unsubscribe_token(state.secret_key, token)
    except InvalidLinkToken:
        return page("en", _TEXT["en"]["title"], f"<p>{_TEXT['en']['bad']}</p>", status=400)
    if not await customer_on_file(state, claim.customer_external_id):
        return page("en", _TEXT["en"]["title"], GONE, status=410)
    granted_since = await consent_granted_since(state, claim.customer_external_id, claim.topic)
    if granted_since is not None:
        event = EventIn(
            type="consent_changed",
            customer_id=claim.customer_external_id,
            occurred_at=datetime.now(UTC),
            data={
                "channel": "email",
                "topic": claim.topic,
                "granted": False,
                "source": "unsubscribe",
            },
            # The request is "withdraw the consent granted at T", not "use this link":
            # a double click or a client's retry withdraws the same grant (a duplicate),
            # and the same link after consent was granted again withdraws that grant.
            event_id="unsubscribe-"
            + hashlib.sha256(f"{token}|{granted_since}".encode()).hexdigest()[:32],
        )
        # A concurrent click may have recorded this withdrawal a moment earlier.
        with contextlib.suppress(EventIdConflict):
            await accept_event(state.db, state.client, state.task_queue, event)
    language = await customer_language(state, claim.customer_external_id)
    topic = _TOPICS[language].get(claim.topic, claim.topic)
    text = _TEXT[language]
    return page(language, text["title"], f"<p>{escape(text['done'].format(topic=topic))}</p>")

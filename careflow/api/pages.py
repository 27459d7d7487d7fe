"""The few public HTML pages (unsubscribe, survey): one small layout, in the customer's language."""

from __future__ import annotations

from fastapi.responses import HTMLResponse

from careflow.api.state import ApiState
from careflow.intake.apply import find_customer


def page(language: str, title: str, body: str, status: int = 200) -> HTMLResponse:
    """A minimal, mobile-friendly page; `body` must already be escaped."""
    html = (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><title>{title}</title></head>'
        f'<body style="font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem">'
        f"{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status)


async def customer_language(state: ApiState, customer_id: str) -> str:
    """`zh` or `en`, from the customer's locale."""
    async with state.db.session() as session:
        customer = await find_customer(session, customer_id)
    locale = (customer.locale if customer else None) or "en"
    return "zh" if locale.lower().startswith("zh") else "en"

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


async def customer_on_file(state: ApiState, customer_id: str) -> bool:
    """Whether a signed link's customer is still on file.

    An erased customer's old links must do nothing: not record an answer or an
    opt-out, and never create the customer again from the id in the link.
    """
    async with state.db.session() as session:
        customer = await find_customer(session, customer_id)
    return customer is not None and customer.erased_at is None


# Shown for a valid link whose customer is no longer on file (both languages: the
# customer's language went with their record).
GONE = (
    "<p>This link is no longer in use; we hold no data about you.</p>"
    "<p>此链接已失效，我们不再保存您的任何数据。</p>"
)


async def customer_language(state: ApiState, customer_id: str) -> str:
    """`zh` or `en`, from the customer's locale."""
    async with state.db.session() as session:
        customer = await find_customer(session, customer_id)
    locale = (customer.locale if customer else None) or "en"
    return "zh" if locale.lower().startswith("zh") else "en"

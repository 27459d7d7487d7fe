"""Security headers on every HTML page careflow serves (the console, unsubscribe, surveys).

The pages run no script at all, so the Content-Security-Policy allows none: an
injected `<script>` or event handler that slipped past escaping would not run. Styles
stay inline (the console's stylesheet is one `<style>` block, and its charts are
matplotlib SVGs with `style` attributes); with no script, inline CSS can restyle a page
but not read or send anything. Images are the page's own or inline `data:` ones. Forms
post only to careflow itself, and `frame-ancestors 'none'` (with `X-Frame-Options` for
older browsers) keeps another site from framing a page to trick a click on it.
FastAPI's interactive docs (`/docs`, `/redoc`) load their scripts from a CDN, so they
get the framing headers only.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'none'",
        "style-src 'unsafe-inline'",
        "img-src 'self' data:",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
_FRAMING = [(b"x-frame-options", b"DENY")]
_PAGE = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
_DOCS = ("/docs", "/redoc")


class SecurityHeaders:
    """ASGI middleware adding the headers above to every `text/html` response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = str(scope.get("path", "")).startswith(_DOCS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and _is_html(message):
                headers = list(message.get("headers", []))
                headers += _FRAMING if docs else _FRAMING + _PAGE
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_html(message: Message) -> bool:
    for name, value in message.get("headers", []):
        if name.lower() == b"content-type":
            return bytes(value).lower().startswith(b"text/html")
    return False

"""Security headers on every HTML page careflow serves (the console, unsubscribe, surveys).

The unsubscribe and survey pages run no script at all, so their Content-Security-Policy
allows none. Console pages run scripts from careflow's own origin only (the vendored
chart library and `console/static/charts.js`, which reads each chart's numbers from a
data attribute): no inline script, no `eval`, nothing from another site, so an
injected `<script>` or event handler that slipped past escaping would not run. Styles
stay inline (the console's stylesheet is one `<style>` block, and the chart library
sets styles on what it draws); inline CSS can restyle a page but not read or send
anything. Images are the page's own or inline `data:` ones. Forms
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
# The console's pages: the same, but scripts from careflow itself (never inline).
CONSOLE_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "script-src 'none'", "script-src 'self'"
)
_FRAMING = [(b"x-frame-options", b"DENY")]
_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
_PAGE = [(b"content-security-policy", CONTENT_SECURITY_POLICY.encode()), *_COMMON]
_CONSOLE_PAGE = [
    (b"content-security-policy", CONSOLE_CONTENT_SECURITY_POLICY.encode()),
    *_COMMON,
]
_DOCS = ("/docs", "/redoc")
_CONSOLE = "/console/"


class SecurityHeaders:
    """ASGI middleware adding the headers above to every `text/html` response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        docs = path.startswith(_DOCS)
        page = _CONSOLE_PAGE if path.startswith(_CONSOLE) else _PAGE

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and _is_html(message):
                headers = list(message.get("headers", []))
                headers += _FRAMING if docs else _FRAMING + page
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_html(message: Message) -> bool:
    for name, value in message.get("headers", []):
        if name.lower() == b"content-type":
            return bytes(value).lower().startswith(b"text/html")
    return False

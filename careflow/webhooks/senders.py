"""One HTTP attempt of one delivery, in the receiver's own protocol.

- Subscribers: Standard Webhooks. The body is signed with the endpoint's secret by
  the `standardwebhooks` package, and the request carries `webhook-id` (the
  delivery id, the same on every attempt), `webhook-timestamp` (this attempt's
  time, in seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256>`).
- WeCom group robot (企业微信群机器人): POST the JSON message to the robot's URL
  (which carries its key); the answer's `errcode` is 0 when accepted.
- DingTalk robot (钉钉自定义机器人) with signing: the URL gets `timestamp` (ms) and
  `sign` = URL-encoded base64 of HMAC-SHA256(secret, "timestamp\\nsecret"); the answer's
  `errcode` is 0 when accepted.
- Slack-compatible incoming webhook: POST `{"text": ...}`; any 2xx is accepted.

An attempt returns None when delivered, or the error in words.

The client is aiohttp's: its C-accelerated HTTP/1.1 client spent about a third of
what httpx did per delivery (docs/benchmarks.md, issue 21 item 2, eighth round), and
every event sends several. Like httpx by default it does not follow redirects (a
receiver that moved answers 3xx, an error to fix in webhooks.yaml); the proxy, from
the HTTP(S)_PROXY and NO_PROXY variables, is chosen by the caller (proxies.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import quote_plus

import aiohttp
from standardwebhooks import Webhook

USER_AGENT = "careflow-webhooks/1"


def standard_webhook_headers(
    secret: str, delivery_id: str, body: str, at: datetime
) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt at `at`."""
    signature = Webhook(secret).sign(msg_id=delivery_id, timestamp=at, data=body)
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def dingtalk_signed_url(url: str, secret: str, at: datetime) -> str:
    """The robot's URL with DingTalk's `timestamp` and `sign` query parameters."""
    timestamp = str(int(at.timestamp() * 1000))
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = quote_plus(base64.b64encode(digest).decode())
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp}&sign={sign}"


async def post(
    session: aiohttp.ClientSession,
    *,
    kind: str,
    url: str,
    proxy: str | None = None,
    body: str,
    delivery_id: str,
    at: datetime,
    secret: str | None,
) -> str | None:
    """One attempt, through `proxy` if one is given; None when the receiver
    accepted it, else what went wrong."""
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    if kind == "webhook":
        assert secret is not None
        headers.update(standard_webhook_headers(secret, delivery_id, body, at))
    elif kind == "dingtalk" and secret is not None:
        url = dingtalk_signed_url(url, secret, at)
    try:
        async with session.post(
            url, data=body.encode(), headers=headers, allow_redirects=False, proxy=proxy
        ) as response:
            status = response.status
            text = await response.text(errors="replace")
    except (aiohttp.ClientError, TimeoutError) as error:
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if not 200 <= status < 300:
        return f"HTTP {status}: {text[:200]}"
    if kind in ("wecom", "dingtalk"):
        try:
            answer = json.loads(text)
        except ValueError:
            return f"not a robot's answer: {text[:200]}"
        if not isinstance(answer, dict) or answer.get("errcode") != 0:
            errmsg = answer.get("errmsg") if isinstance(answer, dict) else answer
            code = answer.get("errcode") if isinstance(answer, dict) else None
            return f"robot refused it: errcode {code}: {errmsg}"
    return None

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
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import quote_plus

import httpx
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
    client: httpx.AsyncClient,
    *,
    kind: str,
    url: str,
    body: str,
    delivery_id: str,
    at: datetime,
    secret: str | None,
) -> str | None:
    """One attempt; None when the receiver accepted it, else what went wrong."""
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    if kind == "webhook":
        assert secret is not None
        headers.update(standard_webhook_headers(secret, delivery_id, body, at))
    elif kind == "dingtalk" and secret is not None:
        url = dingtalk_signed_url(url, secret, at)
    try:
        response = await client.post(url, content=body.encode(), headers=headers)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if not 200 <= response.status_code < 300:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    if kind in ("wecom", "dingtalk"):
        try:
            answer = json.loads(response.text)
        except ValueError:
            return f"not a robot's answer: {response.text[:200]}"
        if not isinstance(answer, dict) or answer.get("errcode") != 0:
            errmsg = answer.get("errmsg") if isinstance(answer, dict) else answer
            code = answer.get("errcode") if isinstance(answer, dict) else None
            return f"robot refused it: errcode {code}: {errmsg}"
    return None

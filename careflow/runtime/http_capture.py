"""The capture HTTP endpoint of `careflow up`: webhooks, staff robots and SMS land in files.

Like the capture SMTP server, it lets a newcomer see what careflow would send
without configuring anything: `url: capture` in `rules/webhooks.yaml` and
`rules/staff_alerts.yaml` posts to `/webhooks/<endpoint>`, and the embedded SMS
gateway (the generic adapter's API, careflow/channels/sms) to `/sms`. Each request
becomes one JSON file (written whole, then renamed into place):

- `CAREFLOW_HOME/outbox/webhooks/<time>-<endpoint>-<webhook-id>.json`: the path,
  the Standard Webhooks headers (or DingTalk's query parameters) and the body;
- `CAREFLOW_HOME/outbox/sms/<time>-<message-id>.json`: the SMS as the gateway got it.

It answers as the receivers it stands in for do: `{"errcode": 0, "errmsg": "ok"}`
(WeCom and DingTalk robots) and, for SMS, the message id the gateway assigned.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from careflow.runtime.api_service import ApiServer, api_server_config

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Headers worth keeping in a captured webhook: the signature and what it covers.
_KEPT_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "content-type")


def write_capture(folder: Path, name: str, record: dict[str, Any]) -> Path:
    """Write `record` as `<time>-<name>.json`; a partial file is never visible."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    file_name = f"{stamp}-{_UNSAFE.sub('_', name)[:150]}.json"
    target = folder / file_name
    temporary = folder / f".{file_name}.tmp"
    temporary.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(temporary, target)
    return target


def _body(raw: bytes) -> object:
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def capture_app(outbox: Path) -> FastAPI:
    """The capture endpoint's app, writing under `outbox` (CAREFLOW_HOME/outbox)."""
    app = FastAPI(title="careflow capture", docs_url=None, redoc_url=None, openapi_url=None)
    webhooks, sms = outbox / "webhooks", outbox / "sms"

    @app.post("/sms")
    async def capture_sms(request: Request) -> JSONResponse:
        raw = await request.body()
        message_id = "cap-" + hashlib.sha256(raw).hexdigest()[:24]
        write_capture(
            sms,
            message_id,
            {"message_id": message_id, "received_at": _now(), "request": _body(raw)},
        )
        return JSONResponse({"message_id": message_id, "status": "accepted"})

    @app.post("/webhooks/{endpoint}")
    async def capture_webhook(endpoint: str, request: Request) -> JSONResponse:
        raw = await request.body()
        delivery = request.headers.get("webhook-id") or hashlib.sha256(raw).hexdigest()[:24]
        write_capture(
            webhooks,
            f"{endpoint}-{delivery}",
            {
                "endpoint": endpoint,
                "received_at": _now(),
                "headers": {
                    key: request.headers[key] for key in _KEPT_HEADERS if key in request.headers
                },
                "query": dict(request.query_params),
                "body": _body(raw),
                # The exact text the signature covers, to verify it with.
                "raw_body": raw.decode("utf-8", "replace"),
            },
        )
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    return app


def _now() -> str:
    return datetime.now(UTC).isoformat()


class CaptureHttpServer:
    """The capture endpoint on loopback; `start()` returns once it listens."""

    def __init__(self, outbox: Path, port: int, host: str = "127.0.0.1") -> None:
        self.server = ApiServer(api_server_config(capture_app(outbox), host, port))
        self.host = host

    async def start(self) -> None:
        self.task = await self.server.serve_until_listening()

    @property
    def port(self) -> int:
        sockets = [sock for server in self.server.servers for sock in server.sockets]
        address = sockets[0].getsockname()
        assert sockets[0].family in (socket.AF_INET, socket.AF_INET6)
        return int(address[1])

    @property
    def url(self) -> str:
        """The base URL: `url: capture` endpoints post to `<url>/webhooks/<name>`."""
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        await self.server.stop()
        await self.task

"""Receivers on loopback that speak the protocols careflow posts to.

- `/hook`: a Standard Webhooks subscriber; records each request, answers 500 while
  `failing` is set.
- `/wecom/send?key=K`: a WeCom group robot: needs the key and a `msgtype: text` message.
- `/dingtalk/send?access_token=T&timestamp=..&sign=..`: a DingTalk robot with signing:
  recomputes the signature from the secret as DingTalk's documentation publishes it
  and refuses (errcode 310000) a wrong or stale one.
- `/slack`: a Slack-compatible incoming webhook: needs `text`, answers `ok`.

A path in `held` answers only once the test sets its event.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from careflow.runtime.api_service import ApiServer, api_server_config

WECOM_KEY = "wecom-key-1"
DINGTALK_TOKEN = "ding-token-1"
DINGTALK_SECRET = "SECdingsecret"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: str
    # time.monotonic() when it arrived.
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receivers:
    port: int = 0
    failing: bool = False
    received: list[Received] = field(default_factory=list)
    # A path held here is answered only once its event is set (a slow receiver).
    held: dict[str, asyncio.Event] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def on(self, path: str) -> list[Received]:
        return [item for item in self.received if item.path == path]


def _dingtalk_sign(timestamp: str, secret: str) -> str:
    # DingTalk's published scheme: base64(HMAC-SHA256(key=secret, "timestamp\nsecret")).
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def receivers_app(state: Receivers) -> FastAPI:
    app = FastAPI()

    async def keep(request: Request) -> Received:
        item = Received(
            request.url.path,
            dict(request.headers),
            dict(request.query_params),
            (await request.body()).decode(),
        )
        state.received.append(item)
        if request.url.path in state.held:
            await state.held[request.url.path].wait()
        return item

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        await keep(request)
        if state.failing:
            return PlainTextResponse("down for maintenance", status_code=500)
        return PlainTextResponse("", status_code=204)

    @app.post("/wecom/send")
    async def wecom(request: Request) -> JSONResponse:
        item = await keep(request)
        if item.query.get("key") != WECOM_KEY:
            return JSONResponse({"errcode": 93000, "errmsg": "invalid webhook url"})
        body = item.json
        if body.get("msgtype") != "text" or not body["text"].get("content"):
            return JSONResponse({"errcode": 40008, "errmsg": "invalid message type"})
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    @app.post("/dingtalk/send")
    async def dingtalk(request: Request) -> JSONResponse:
        item = await keep(request)
        timestamp, sign = item.query.get("timestamp", ""), item.query.get("sign", "")
        fresh = timestamp.isdigit() and abs(time.time() * 1000 - int(timestamp)) < 3600_000
        if item.query.get("access_token") != DINGTALK_TOKEN:
            return JSONResponse({"errcode": 300001, "errmsg": "token is not exist"})
        if not fresh or not hmac.compare_digest(sign, _dingtalk_sign(timestamp, DINGTALK_SECRET)):
            return JSONResponse({"errcode": 310000, "errmsg": "sign not match"})
        if item.json.get("msgtype") != "text":
            return JSONResponse({"errcode": 40035, "errmsg": "missing msgtype"})
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    @app.post("/slack")
    async def slack(request: Request) -> Response:
        item = await keep(request)
        if not item.json.get("text"):
            return PlainTextResponse("no_text", status_code=400)
        return PlainTextResponse("ok")

    return app


@asynccontextmanager
async def running_receivers() -> AsyncIterator[Receivers]:
    state = Receivers()
    server = ApiServer(api_server_config(receivers_app(state), "127.0.0.1", 0))
    task = await server.serve_until_listening()
    state.port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        await server.stop()
        await task

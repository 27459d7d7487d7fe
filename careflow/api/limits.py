"""What every request body must be before any handler sees it: bounded, and JSON that
careflow can store and echo back.

`RequestLimits` is plain ASGI middleware so it can count bytes as they arrive: a body
longer than the limit (`CAREFLOW_MAX_BODY_BYTES`) is refused with 413 as soon as the
`Content-Length` says so, or, without one (chunked), as soon as the bytes read pass the
limit; nothing of it is buffered beyond that. A JSON body is then parsed once here and
refused with 422, naming where, when it holds what Python's `json` accepts but nothing
downstream can use (`NaN`, `Infinity`, overflowing numbers, lone surrogates: see
careflow/intake/json_values.py, which JSON Lines imports use too). The body is then
handed on unchanged. `bounded_validation_error` keeps every 422 short, quoting only
the start of a refused value.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Path, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from careflow.intake.json_values import load_json, printable_location, unusable_value

# A row id in a URL path. The store's ids are 32-bit integers: a larger number names no
# row, and PostgreSQL would refuse it as a parameter (a 500) rather than find nothing.
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class BodyTooLarge(Exception):
    """The body passed the limit while it was being read."""


def body_problem(body: bytes) -> dict[str, Any] | None:
    """A 422 detail item when a JSON body holds a value careflow cannot take, else None.

    A body that is not JSON at all is left to FastAPI, which already answers 422."""
    try:
        document = load_json(body)
    except (ValueError, RecursionError):
        return None
    found = unusable_value(document, ("body",))
    if found is None:
        return None
    location, message = found
    return {"type": "value_error", "loc": printable_location(location), "msg": message}


# How much of a refused value a 422 quotes back: enough to recognise it.
MAX_QUOTED_INPUT = 200


async def bounded_validation_error(request: Request, error: Exception) -> Response:
    """FastAPI's 422, quoting at most `MAX_QUOTED_INPUT` characters of each refused value
    (a megabyte of brackets is not worth sending back)."""
    assert isinstance(error, RequestValidationError)
    detail = [_bounded_item(item) for item in error.errors()]
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(detail)})


def _bounded_item(item: Any) -> Any:
    if not isinstance(item, dict) or "input" not in item:
        return item
    quoted = item["input"]
    if not isinstance(quoted, str | int | float | bool | None):
        quoted = json.dumps(jsonable_encoder(quoted), ensure_ascii=False)
        if len(quoted) <= MAX_QUOTED_INPUT:
            return item
    if isinstance(quoted, str) and len(quoted) > MAX_QUOTED_INPUT:
        return {**item, "input": quoted[: MAX_QUOTED_INPUT - 1] + "…"}
    return item


class RequestLimits:
    """ASGI middleware: 413 past `max_body_bytes`, 422 for JSON careflow cannot use."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(send)
            return
        try:
            body = await self._read(receive)
        except BodyTooLarge:
            await self._too_large(send)
            return
        except _Disconnected:
            return  # the client went away: there is no one to answer
        if body and _is_json(scope):
            problem = body_problem(body)
            if problem is not None:
                await _send_json(send, 422, {"detail": [problem]})
                return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes:
        """The whole body, refusing as soon as it passes the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # A disconnect: let the app see it as it would have.
                raise _Disconnected(message)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, send: Send) -> None:
        await _send_json(
            send,
            413,
            {"detail": f"the request body is larger than {self.max_body_bytes} bytes"},
            close=True,
        )


class _Disconnected(Exception):
    def __init__(self, message: Message) -> None:
        self.message = message


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return bool(media == b"application/json" or media.endswith(b"+json"))
    return False


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the app the body already read, then what follows."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_json(send: Send, status: int, content: object, *, close: bool = False) -> None:
    payload = json.dumps(content).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if close:
        # The rest of the body is not read: the connection cannot carry another request.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})

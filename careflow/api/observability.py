"""What operators watch the API by: `GET /ready`, `GET /metrics`, the access log and a
trace span per request.

The access log and the span name a request by its route template
(`/customers/{customer_id}`), never by its path or query: unsubscribe and survey
links carry signed tokens, and paths carry customer ids.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from careflow.api.state import State
from careflow.observability.exposition import METRICS_CONTENT_TYPE, metrics_text
from careflow.observability.readiness import check_readiness

access_log = logging.getLogger("careflow.access")

router = APIRouter()

# The route template of a request that matched no route: its path is not logged.
UNMATCHED = "(unmatched)"


@router.get("/ready", responses={503: {"description": "the store or Temporal did not answer"}})
async def ready(state: State) -> JSONResponse:
    """200 when the store and Temporal both answer in time; 503 naming which did not.

    `GET /health` is the liveness check (the process answers); this is the
    readiness check (it can do its work). Each probe is bounded (2 s).
    """
    readiness = await check_readiness(state.db, state.client)
    body: dict[str, Any] = {
        "status": "ready" if readiness.ready else "unavailable",
        "checks": readiness.checks,
    }
    if readiness.problems:
        body["problems"] = readiness.problems
    return JSONResponse(status_code=200 if readiness.ready else 503, content=body)


# Left out of the OpenAPI document: a scrape target, not part of the JSON API.
@router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics() -> Response:
    """careflow's metrics, and the Temporal SDK's when its runtime exports them, in the
    Prometheus text format. They carry no personal data, so they need no token."""
    return Response(content=await metrics_text(), media_type=METRICS_CONTENT_TYPE)


class RequestObservability:
    """ASGI middleware: a server span per request (continuing a caller's
    `traceparent`) and one access log line (method, route template, status,
    duration, trace id)."""

    def __init__(self, app: ASGIApp, tracer_provider: trace.TracerProvider | None = None) -> None:
        self.app = app
        self.tracer = trace.get_tracer("careflow.api", tracer_provider=tracer_provider)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = str(scope["method"])
        headers = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering
        with self.tracer.start_as_current_span(
            method,
            context=propagate.extract(headers),
            kind=SpanKind.SERVER,
            record_exception=True,
            set_status_on_exception=True,
        ) as span:

            async def send_and_note_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = int(message["status"])
                await send(message)

            try:
                await self.app(scope, receive, send_and_note_status)
            finally:
                template = route_template(scope)
                span.update_name(f"{method} {template}")
                span.set_attribute("http.request.method", method)
                span.set_attribute("http.route", template)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                context = span.get_span_context()
                access_log.info(
                    "%s %s %d %.1fms",
                    method,
                    template,
                    status,
                    (time.perf_counter() - started) * 1000,
                    extra={
                        "method": method,
                        "path": template,
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                        "trace_id": format(context.trace_id, "032x") if context.is_valid else None,
                    },
                )


def route_template(scope: Scope) -> str:
    """The template of the route that served the request, e.g. `/survey/{token}`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    # Routes that FastAPI does not note in the scope (the OpenAPI document, docs).
    app = scope.get("app")
    for candidate in getattr(getattr(app, "router", None), "routes", ()):
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            return str(getattr(candidate, "path", UNMATCHED))
    return UNMATCHED

"""FastAPI application: `POST /events`, `GET /customers/{id}`, health; OpenAPI at /openapi.json."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry.trace import TracerProvider
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.service import RPCError, RPCStatusCode

from careflow import __version__
from careflow.api import kpis, observability, sms, staff, survey, tasks, unsubscribe
from careflow.api.auth import StaffOnly
from careflow.api.headers import SecurityHeaders
from careflow.api.limits import RequestLimits, bounded_validation_error
from careflow.api.state import ApiState, State
from careflow.config import load_settings
from careflow.console.mount import mount_console
from careflow.intake.apply import AlreadyAnswered, BusinessIdConflict, find_customer
from careflow.intake.events import EventDataError, EventIdConflict, EventIn, accept_event
from careflow.journeys import reconcile_customer
from careflow.timeline import customer_timeline


class EventAccepted(BaseModel):
    event_id: str
    duplicate: bool
    # The event's CustomerEventWorkflow; null when its rules ran as it was accepted.
    workflow_id: str | None
    # The journeys this event started, on the direct path.
    started: list[str] = []


class CustomerOut(BaseModel):
    customer_id: str
    name: str | None
    email: str | None
    phone: str | None
    locale: str | None
    timezone: str | None
    birthday: date | None
    birthday_calendar: str
    tier: str | None
    account_manager: str | None
    created_at: datetime
    updated_at: datetime


router = APIRouter()


@router.post(
    "/events",
    status_code=202,
    response_model=EventAccepted,
    dependencies=[StaffOnly],
    responses={409: {"description": "the event_id, or a business id in data, is taken"}},
)
async def post_event(event: EventIn, state: State) -> EventAccepted:
    """Record an event once (by `event_id`) and evaluate the rules for its customer.

    409 when the `event_id` was used for a different event, when an order or
    complaint id in `data` is another customer's, or when the survey answered was
    answered already.
    """
    try:
        accepted = await accept_event(
            state.db, state.client, state.task_queue, event, direct=state.direct
        )
    except EventDataError as error:
        raise RequestValidationError(error.errors) from error
    except EventIdConflict as error:
        raise _conflict(("body", "event_id"), error) from error
    except (BusinessIdConflict, AlreadyAnswered) as error:
        field = error.field if isinstance(error, BusinessIdConflict) else "workflow_id"
        raise _conflict(("body", "data", field), error) from error
    dispatched = accepted.dispatched
    return EventAccepted(
        event_id=accepted.event_id,
        duplicate=accepted.duplicate,
        workflow_id=accepted.workflow_id,
        started=dispatched.started if dispatched is not None else [],
    )


def _conflict(location: tuple[str, ...], error: Exception) -> HTTPException:
    """409 naming the field whose value conflicts with what is stored, and why."""
    return HTTPException(
        status_code=409, detail=[{"loc": list(location), "msg": str(error), "type": "conflict"}]
    )


@router.get("/customers/{customer_id}", response_model=CustomerOut, dependencies=[StaffOnly])
async def get_customer(customer_id: str, state: State) -> CustomerOut:
    async with state.db.session() as session:
        customer = await find_customer(session, customer_id)
        if customer is None or customer.erased_at is not None:
            raise HTTPException(status_code=404, detail=f"no customer {customer_id!r}")
        return CustomerOut(
            customer_id=customer.external_id,
            name=customer.name,
            email=customer.email,
            phone=customer.phone,
            locale=customer.locale,
            timezone=customer.timezone,
            birthday=customer.birthday,
            birthday_calendar=customer.birthday_calendar,
            tier=customer.tier,
            account_manager=customer.account_manager,
            created_at=customer.created_at,
            updated_at=customer.updated_at,
        )


class TimelineEntryOut(BaseModel):
    at: datetime
    kind: str
    summary: str
    details: dict[str, Any]


@router.get(
    "/customers/{customer_id}/timeline",
    response_model=list[TimelineEntryOut],
    dependencies=[StaffOnly],
)
async def get_timeline(customer_id: str, state: State) -> list[TimelineEntryOut]:
    """Events, rule decisions, journeys, messages (with skip/defer reasons) and tasks."""
    # Journeys closed in Temporal without telling the store are shown as they ended.
    await reconcile_customer(state.db, state.client, customer_id)
    entries = await customer_timeline(state.db, customer_id, secret_key=state.secret_key)
    if entries is None:
        raise HTTPException(status_code=404, detail=f"no customer {customer_id!r}")
    return [
        TimelineEntryOut(at=e.at, kind=e.kind, summary=e.summary, details=e.details)
        for e in entries
    ]


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers (`GET /ready` says whether it can do its work)."""
    return {"status": "ok", "version": __version__}


class RefuseNulInUrl:
    """ASGI middleware: a NUL in a path or query is never a real id; answer 422 before
    it reaches the store.

    Plain ASGI rather than `app.middleware("http")`: that wraps each request in
    Starlette's `BaseHTTPMiddleware` (a task group and a stream per request), a cost
    every event paid for a check on two strings.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope.get("root_path", "") + scope["path"]
            or b"%00" in scope.get("query_string", b"")
        ):
            response = JSONResponse(
                status_code=422,
                content={"detail": [{"loc": ["url"], "msg": "must not contain NUL characters"}]},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


# How long a client should wait before retrying when the store or Temporal is away.
RETRY_AFTER_SECONDS = 5
_UNREACHABLE_RPC = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}


def _is_unavailable(error: Exception) -> bool:
    """Is this the store or Temporal being unreachable, rather than a bug?"""
    if isinstance(error, RPCError):
        return error.status in _UNREACHABLE_RPC
    if isinstance(error, DBAPIError):
        # Connection refused, cut or timed out (a constraint violation stays a 500).
        return error.connection_invalidated or isinstance(error, OperationalError | InterfaceError)
    # Connection refused or reset by a server that went away, or a pool checkout
    # that timed out; other OS errors (a missing file, ...) are bugs and stay 500s.
    return isinstance(error, ConnectionError | TimeoutError | PoolTimeout)


async def answer_unavailable(request: Request, error: Exception) -> Response:
    """503 with Retry-After for an outage, so clients retry (a repeated `event_id` is
    accepted once); any other error stays a 500."""
    if not _is_unavailable(error):
        raise error
    return JSONResponse(
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        content={"detail": f"temporarily unavailable ({type(error).__name__}); try again"},
    )


def create_app(state: ApiState, *, tracer_provider: TracerProvider | None = None) -> FastAPI:
    """The API bound to a store and a Temporal client.

    Request spans go to `tracer_provider`, by default the process's (see
    `careflow.observability.configure_tracing`).
    """
    app = FastAPI(
        title="careflow",
        version=__version__,
        description="Customer-care automation: events in, durable journeys out.",
    )
    app.state.careflow = state
    app.add_middleware(RefuseNulInUrl)
    app.add_middleware(SecurityHeaders)
    # Added last, so it runs first: nothing reads a body before it is bounded.
    app.add_middleware(RequestLimits, max_body_bytes=load_settings().max_body_bytes)
    app.add_exception_handler(RequestValidationError, bounded_validation_error)
    for outage in (DBAPIError, PoolTimeout, RPCError, ConnectionError, TimeoutError):
        app.add_exception_handler(outage, answer_unavailable)
    # Outermost, so its span and access log line cover every other middleware too.
    app.add_middleware(observability.RequestObservability, tracer_provider=tracer_provider)
    app.include_router(router)
    app.include_router(observability.router)
    app.include_router(unsubscribe.router)
    app.include_router(survey.router)
    app.include_router(kpis.router, dependencies=[StaffOnly])
    app.include_router(tasks.router, dependencies=[StaffOnly])
    app.include_router(staff.router, dependencies=[StaffOnly])
    app.include_router(sms.router, dependencies=[StaffOnly])
    mount_console(app)
    return app

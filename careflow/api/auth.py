"""The optional API token: with CAREFLOW_API_TOKEN set, the staff API needs it.

Staff endpoints (events in; customers, timelines, tasks and KPIs out, which carry
personal data) then need `Authorization: Bearer <token>`. The customers' pages
(unsubscribe, survey) are authorised by their signed links instead, the console
by its own login, and `/health` stays open for load balancers. Unset, nothing
changes: the embedded default listens on loopback only.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

# auto_error=False: without a configured token, a request without the header is fine.
_bearer = HTTPBearer(auto_error=False, description="CAREFLOW_API_TOKEN, when it is set.")


async def require_api_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Refuse with 401 unless the configured token (if any) was presented.

    `async` though it never waits: FastAPI runs a plain `def` dependency in its
    thread pool, a thread hop on every staff request for one comparison.
    """
    expected: str | None = request.app.state.careflow.api_token
    if not expected:
        return
    given = credentials.credentials if credentials is not None else ""
    # Constant time: the comparison must not tell how much of a guess was right.
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(
            status_code=401,
            detail="this endpoint needs Authorization: Bearer <CAREFLOW_API_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )


StaffOnly = Depends(require_api_token)

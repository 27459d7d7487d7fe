"""The console's signed session cookie, CSRF tokens, and who is asking.

One cookie holds `{"uid", "name", "csrf"}`, signed with itsdangerous under a salt
of its own (so no other signed careflow value, such as an unsubscribe link, can
pass for it) and expiring after `SESSION_HOURS`. The user is looked up on every
request, so removing a user ends their sessions and a role change applies at once.
Visitors who have not logged in get the same cookie without a user, which carries
the CSRF token of the login form. Every POST must send the token back as the form
field `csrf`: a page on another site cannot read the cookie, so cannot forge it.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, replace

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from careflow.console.users import UserInfo

COOKIE_NAME = "careflow_console"
COOKIE_PATH = "/console"
SESSION_HOURS = 12
_SALT = "careflow.console.session"


@dataclass(frozen=True)
class SessionData:
    csrf: str
    user_id: int | None = None
    user_name: str | None = None

    def logged_in_as(self, user: UserInfo) -> SessionData:
        """A session for `user` with a fresh CSRF token (a token seen before login is dropped)."""
        return SessionData(secrets.token_urlsafe(24), user.id, user.name)

    def logged_out(self) -> SessionData:
        return replace(self, csrf=secrets.token_urlsafe(24), user_id=None, user_name=None)


class SessionCodec:
    """Reads and writes the session cookie with the server's secret key."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)

    def read(self, request: Request) -> SessionData | None:
        """The session the request's cookie carries, or None when absent, forged or expired."""
        raw = request.cookies.get(COOKIE_NAME)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=SESSION_HOURS * 3600)
        except BadSignature:  # also SignatureExpired, a subclass
            return None
        if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
            return None
        user_id, name = data.get("uid"), data.get("name")
        if isinstance(user_id, int) and isinstance(name, str):
            return SessionData(data["csrf"], user_id, name)
        return SessionData(data["csrf"])

    def write(self, request: Request, response: Response, session: SessionData) -> None:
        """Set the cookie: HttpOnly, SameSite=Lax, Secure when the request came over HTTPS."""
        payload: dict[str, object] = {"csrf": session.csrf}
        if session.user_id is not None:
            payload.update(uid=session.user_id, name=session.user_name)
        response.set_cookie(
            COOKIE_NAME,
            self._serializer.dumps(payload),
            max_age=SESSION_HOURS * 3600,
            path=COOKIE_PATH,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )


def new_session() -> SessionData:
    """An anonymous session with a fresh CSRF token."""
    return SessionData(secrets.token_urlsafe(24))


def csrf_matches(session: SessionData | None, submitted: object) -> bool:
    """True when the form's token is the session's (compared in constant time)."""
    if session is None or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(session.csrf.encode(), submitted.encode())

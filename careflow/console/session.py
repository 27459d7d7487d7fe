"""The console's signed session cookie, CSRF tokens, and who is asking.

One cookie holds `{"uid", "name", "sid", "csrf"}`, signed with itsdangerous under a
salt of its own (so no other signed careflow value, such as an unsubscribe link, can
pass for it) and expiring after `SESSION_HOURS`. A signature alone cannot be taken
back, so a login is also a row on the server (careflow/console/logins.py) named by
the random `sid`: the cookie works only while that row exists, and logout, a password
change or removing the user delete it. The user is looked up on every request, so a
role change applies at once. Visitors who have not logged in get the same cookie
without a user, which carries the CSRF token of the login form. Every POST must send
the token back as the form field `csrf`: a page on another site cannot read the
cookie, so cannot forge it.
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
    # The server-side login this cookie stands for (careflow/console/logins.py).
    login_token: str | None = None

    def logged_in_as(self, user: UserInfo, login_token: str) -> SessionData:
        """A session for `user` with a fresh CSRF token (a token seen before login is dropped)."""
        return SessionData(secrets.token_urlsafe(24), user.id, user.name, login_token)

    def logged_out(self) -> SessionData:
        return replace(
            self, csrf=secrets.token_urlsafe(24), user_id=None, user_name=None, login_token=None
        )


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
        user_id, name, token = data.get("uid"), data.get("name"), data.get("sid")
        if isinstance(user_id, int) and isinstance(name, str) and isinstance(token, str):
            return SessionData(data["csrf"], user_id, name, token)
        return SessionData(data["csrf"])

    def write(self, request: Request, response: Response, session: SessionData) -> None:
        """Set the cookie: HttpOnly, SameSite=Lax, Secure when the request came over HTTPS."""
        payload: dict[str, object] = {"csrf": session.csrf}
        if session.user_id is not None:
            payload.update(uid=session.user_id, name=session.user_name, sid=session.login_token)
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

"""Password hashing with scrypt from the standard library.

scrypt is memory-hard (each guess costs `128 * n * r` bytes, 16 MiB here), which
is what makes offline guessing of a leaked hash expensive. argon2-cffi would do as
well but is not a careflow dependency; the parameters are stored with each hash,
`scrypt$n$r$p$salt$hash`, so they can be raised later without breaking old hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
# n=2**14, r=8, p=1: the parameters the Python docs and RFC 7914 use for interactive
# logins; about 50 ms and 16 MiB per check on a small server.
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
MIN_PASSWORD_LENGTH = 10


class PasswordError(ValueError):
    """A password that cannot be used; the message says what is expected."""


def check_password_rules(password: str) -> None:
    """Raise PasswordError unless the password is long enough to be worth hashing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password != password.strip():
        raise PasswordError("the password must not start or end with spaces")


def hash_password(password: str) -> str:
    """A salted scrypt hash of `password`, with its parameters."""
    check_password_rules(password)
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, N, R, P)
    return "$".join((SCHEME, str(N), str(R), str(P), _b64(salt), _b64(key)))


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored hash; False for any malformed hash."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != SCHEME:
            return False
        expected = base64.b64decode(key)
        derived = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(derived, expected)


def dummy_verify(password: str) -> None:
    """Spend the time of a real check, so a login for an unknown name takes as long."""
    verify_password(password, _DUMMY_HASH)


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # maxmem above the 128*n*r bytes needed (OpenSSL's default limit is 32 MiB).
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=KEY_BYTES
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


_DUMMY_HASH = "$".join((SCHEME, str(N), str(R), str(P), _b64(b"\0" * SALT_BYTES), _b64(b"")))

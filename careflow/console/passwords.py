"""Password hashing with pwdlib: Argon2id for new hashes, older scrypt hashes upgraded.

Argon2id (pwdlib's defaults: 64 MiB, 3 passes) is what OWASP recommends for
passwords, and pwdlib keeps its parameters in each hash (a PHC string), so they can be
raised later. careflow first stored `scrypt$n$r$p$salt$hash` hashes at n=2**14; those
still verify, and `verify_and_update` hands back an Argon2id hash to store in their
place after a successful login, so old hashes disappear as their users log in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

MIN_PASSWORD_LENGTH = 10


class PasswordError(ValueError):
    """A password that cannot be used; the message says what is expected."""


class LegacyScryptHasher:
    """Verifies careflow's first hashes, `scrypt$n$r$p$salt$hash`; never makes new ones."""

    PREFIX = "scrypt$"

    @classmethod
    def identify(cls, hash: str | bytes) -> bool:
        return _text(hash).startswith(cls.PREFIX)

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        raise NotImplementedError("scrypt hashes are only verified, then replaced")

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        try:
            _scheme, n, r, p, salt, key = _text(hash).split("$")
            expected = base64.b64decode(key)
            derived = hashlib.scrypt(
                password.encode("utf-8") if isinstance(password, str) else password,
                salt=base64.b64decode(salt),
                n=int(n),
                r=int(r),
                p=int(p),
                # Above the 128*n*r bytes needed (OpenSSL's default limit is 32 MiB).
                maxmem=256 * int(n) * int(r),
                dklen=len(expected),
            )
        except ValueError:
            return False
        return hmac.compare_digest(derived, expected)

    def check_needs_rehash(self, hash: str | bytes) -> bool:
        return True


def _text(value: str | bytes) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


# The first hasher makes new hashes; the others only verify (and ask for a rehash).
_HASHING = PasswordHash((Argon2Hasher(), LegacyScryptHasher()))
_DUMMY_HASH = _HASHING.hash("not anyone's password")


def check_password_rules(password: str) -> None:
    """Raise PasswordError unless the password is long enough to be worth hashing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password != password.strip():
        raise PasswordError("the password must not start or end with spaces")


def hash_password(password: str) -> str:
    """An Argon2id hash of `password`, with its salt and parameters."""
    check_password_rules(password)
    return _HASHING.hash(password)


def verify_and_update(password: str, stored: str) -> tuple[bool, str | None]:
    """Does `password` match the stored hash, and if so, a new hash to store when the
    stored one is an older scheme or weaker parameters (else None). A malformed or
    unknown hash matches nothing."""
    try:
        return _HASHING.verify_and_update(password, stored)
    except UnknownHashError:
        return False, None


def verify_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored hash; False for any malformed hash."""
    return verify_and_update(password, stored)[0]


def dummy_verify(password: str) -> None:
    """Spend the time of a real check, so a login for an unknown name takes as long."""
    verify_password(password, _DUMMY_HASH)

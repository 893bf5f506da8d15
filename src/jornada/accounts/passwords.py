"""Passwords: hashed with Argon2id (argon2-cffi), never stored or logged in clear.

>>> stored = hash_password("correct horse battery")
>>> stored.startswith("$argon2id$") and "correct" not in stored
True
>>> verify_password(stored, "correct horse battery"), verify_password(stored, "wrong")
(True, False)
>>> len(generate_password()), generate_password() != generate_password()
(23, True)
"""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from jornada.accounts.errors import AccountError

__all__ = [
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "check_new_password",
    "generate_password",
    "hash_password",
    "needs_rehash",
    "spend_verification_time",
    "verify_password",
]

MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # hashing is deliberately slow: bound the input

# argon2-cffi's defaults follow RFC 9106's recommendation (Argon2id, 64 MiB, 3 passes).
_HASHER = PasswordHasher()
# No 0/O, 1/l/I: generated passwords are read off a terminal and typed.
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password`` (salted: the same password hashes differently)."""
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches the stored hash (in constant time)."""
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (rehash on login)."""
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def spend_verification_time(password: str) -> None:
    """Verify against a throw-away hash, so that a sign-in with an unknown e-mail takes
    as long as one with a known e-mail (no account enumeration by timing)."""
    verify_password(_dummy_hash(), password)


def generate_password() -> str:
    """A random password of four groups (about 100 bits), easy to read and type."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(4))


def check_new_password(password: str) -> str:
    """``password`` if it is acceptable as a new password, else an :class:`AccountError`.

    >>> check_new_password("short")
    Traceback (most recent call last):
    ...
    jornada.accounts.errors.AccountError: a password needs at least 8 characters
    """
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters")
    if not password.strip():
        raise AccountError("a password cannot be only spaces")
    return password

"""Argon2 password hashing."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _

_hasher = PasswordHasher()
_dummy_hash: str | None = None

MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def use_hasher(hasher: PasswordHasher) -> None:
    """Swap the Argon2 parameters (the test suite uses cheap ones; production never calls it)."""
    global _hasher, _dummy_hash
    _hasher, _dummy_hash = hasher, None


def _dummy() -> str:
    # Verified against when the e-mail is unknown, so both failures cost the same time.
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("regia-timing-equaliser")
    return _dummy_hash


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_problems(password: str) -> list[str]:
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(_("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))
    if len(password) > 1024:
        problems.append(_("Use at most %(n)d characters.", n=1024))
    return problems

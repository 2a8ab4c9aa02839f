"""Encryption at rest for secrets (channel credentials, Stripe keys).

``ENCRYPTION_KEYS`` is a comma-separated list of Fernet keys, newest first: new values are
encrypted with the first, old values still decrypt with any, and ``rotate`` re-encrypts.
"""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app


class SecretsUnreadable(RuntimeError):
    """No configured key decrypts this value (a key was removed before rotation)."""


def _fernet() -> MultiFernet:
    keys = current_app.config["REGIA"].encryption_keys
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt_json(value: dict) -> str:
    return _fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str | None) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise SecretsUnreadable("no ENCRYPTION_KEYS entry decrypts this secret") from exc


def rotate(token: str) -> str:
    """Re-encrypt ``token`` under the newest key."""
    return _fernet().rotate(token.encode()).decode()

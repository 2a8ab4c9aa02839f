"""A pytest plugin: no channel secret the suite ever stored shows up anywhere, in any test.

Secrets are learned where they are stored (``agency.crypto.encrypt_json``, the one way into
``credentials_encrypted``), for every network. Then every response of every app built by the
suite (bodies and headers: pages, API answers, errors, 422s), every e-mail handed to
``agency.mail.service.send_mail`` and every log record of the app's loggers is scanned for
all of them. A test during which a secret leaked fails at teardown, saying where.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

#: Values shorter than this are too common to be told apart from ordinary text.
MIN_SECRET_LENGTH = 8
LOGGERS = ("agency", "tenants", "billing", "rq", "flask_smorest", "werkzeug")

_secrets: set[str] = set()
_leaks: list[str] = []
_learning = [True]


def learn(value: object) -> None:
    """Remember the string values inside a secrets mapping (nested values too)."""
    if not _learning[0]:
        return
    if isinstance(value, dict):
        for item in value.values():
            learn(item)
    elif isinstance(value, list | tuple):
        for item in value:
            learn(item)
    elif isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH and len(set(value)) > 2:
        _secrets.add(value)


@contextmanager
def not_learning() -> Iterator[None]:
    """Stored values are not secrets here (hostile junk that tests also send as plain text)."""
    _learning[0] = False
    try:
        yield
    finally:
        _learning[0] = True


def known_secrets() -> frozenset[str]:
    return frozenset(_secrets)


def scan(where: str, text: str) -> list[str]:
    """Record (and return) the known secrets found in ``text``."""
    found = [secret for secret in _secrets if secret in text]
    for secret in found:
        _leaks.append(f"{where} contains the stored secret {secret[:40]!r}")
    return found


def watch(app) -> None:  # noqa: ANN001 - flask.Flask
    """Scan every response of ``app`` (registered by ``make_app`` in conftest)."""

    @app.after_request
    def _scan_response(response):  # noqa: ANN001, ANN202
        from flask import request

        where = f"{request.method} {request.full_path.rstrip('?')} -> {response.status_code}"
        scan(f"{where} headers", str(response.headers))
        if response.mimetype == "application/pdf" and not response.is_streamed:
            scan(f"{where} PDF text", _pdf_text(response.get_data()))  # compressed streams
        elif not response.direct_passthrough and not response.is_streamed:
            scan(f"{where} body", response.get_data(as_text=True))
        return response


def _pdf_text(document: bytes) -> str:
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(document))
    info = " ".join(str(v) for v in (reader.metadata or {}).values())
    return info + "\n" + "\n".join(page.extract_text() for page in reader.pages)


class _LogScanner(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is not our concern here
            text = str(record.msg)
        scan(f"log record {record.name}:{record.levelname}", f"{text} {record.args!r}")


@pytest.fixture(scope="session", autouse=True)
def _learn_secrets_and_watch_mail_and_logs() -> Iterator[None]:
    from agency import crypto
    from agency.mail import service as mail

    encrypt, send_mail = crypto.encrypt_json, mail.send_mail

    def encrypt_json(value: dict) -> str:
        learn(value)
        return encrypt(value)

    def watched_send_mail(to: str, subject: str, text: str, html: str | None = None, **kw):  # noqa: ANN003, ANN202
        scan(f"e-mail to {to}", "\n".join([subject, text, html or ""]))
        return send_mail(to, subject, text, html, **kw)

    crypto.encrypt_json, mail.send_mail = encrypt_json, watched_send_mail
    handler = _LogScanner(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    yield
    logging.getLogger().removeHandler(handler)
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)
    crypto.encrypt_json, mail.send_mail = encrypt, send_mail


@pytest.fixture(autouse=True)
def _no_secret_leaked() -> Iterator[None]:
    _leaks.clear()
    yield
    leaks, _leaks[:] = list(dict.fromkeys(_leaks)), []
    if leaks:
        pytest.fail("a stored channel secret leaked:\n" + "\n".join(leaks[:20]), pytrace=False)

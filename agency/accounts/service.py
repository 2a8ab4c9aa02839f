"""Account recovery and verification: password reset by e-mail, e-mail address verification.

Reset links are random, single-use and expiring; only their sha256 is stored. Asking for a
reset answers the same whether or not the address has an account. Verification links are
signed (itsdangerous) over the user id and the address, so they die with an address change.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select, update

from agency.db import db, utcnow
from agency.errors import DomainError, ValidationFailed
from tenants import service as accounts
from tenants import throttle
from tenants.models import PasswordReset, User
from tenants.passwords import password_problems

VERIFY_SALT = "regia-verify-email"
VERIFY_MAX_AGE = 7 * 24 * 3600  # seconds


class LinkUnusable(DomainError):
    """Unknown, used or expired link: one answer (410) for all."""

    http_status = 410


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _base_url() -> str:
    return current_app.config["REGIA"].base_url


def mail_locale(user: User) -> str:
    """The user's saved language, else the language of the page they asked from."""
    if user.locale:
        return user.locale
    locale = get_locale()
    return str(locale) if locale else "en"


def request_password_reset(email: str) -> None:
    """E-mail a reset link if ``email`` belongs to an active account; silent otherwise."""
    user = accounts.find_user_by_email(email)
    if user is None or not user.active:
        return
    token = secrets.token_urlsafe(32)
    ttl = timedelta(minutes=current_app.config["REGIA"].reset_ttl_minutes)
    reset = PasswordReset(user_id=user.id, token_hash=_hash(token), expires_at=utcnow() + ttl)
    db.session.add(reset)
    db.session.commit()
    _send(
        user,
        "accounts/email/password_reset",
        link=f"{_base_url()}/password/reset/{token}",
        expires_at=reset.expires_at,
        timezone=_zone_of(user),
    )


def _zone_of(user: User) -> str:
    """The time zone to tell ``user`` a time in: their (first) agency's, else UTC."""
    from tenants.service import agencies_of

    agencies = agencies_of(user)
    return agencies[0].timezone if agencies else "UTC"


def find_reset(token: str, *, lock: bool = False) -> PasswordReset:
    reset = None
    if token and len(token) <= 200:
        stmt = select(PasswordReset).where(PasswordReset.token_hash == _hash(token))
        if lock:
            stmt = stmt.with_for_update()
        reset = db.session.scalar(stmt)
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        raise LinkUnusable(_("This password-reset link is not valid any more. Ask for a new one."))
    return reset


def reset_password(token: str, new_password: str, *, revoke_tokens: bool = False) -> User:
    """Set the password through a reset link; ends every session (and, if asked, API token)."""
    reset = find_reset(token, lock=True)
    user = db.session.get(User, reset.user_id)
    if user is None or not user.active:
        db.session.rollback()
        raise LinkUnusable(_("This password-reset link is not valid any more. Ask for a new one."))
    problems = password_problems(new_password or "")
    if problems:
        db.session.rollback()
        raise ValidationFailed({"new_password": problems})
    now = utcnow()
    # Every pending link of this user dies with this one.
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    accounts.set_password(user, new_password)
    if revoke_tokens:
        accounts.revoke_all_tokens(user)
    if user.email_verified_at is None:
        user.email_verified_at = now  # the link reached them
    db.session.commit()
    return user


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=VERIFY_SALT)


def send_verification(user: User) -> None:
    """E-mail ``user`` a link that verifies their address."""
    token = _serializer().dumps({"u": str(user.id), "e": user.email})
    _send(user, "accounts/email/verify", link=f"{_base_url()}/verify-email/{token}")


def resend_verification(user: User) -> None:
    if user.email_verified_at is not None:
        return
    throttle.hit("verification_resend_rate_limit", "verify-resend", str(user.id))
    send_verification(user)


def verify_email(token: str) -> User:
    """Mark the address in ``token`` verified; ``LinkUnusable`` for a bad or stale link."""
    try:
        data = _serializer().loads(token, max_age=VERIFY_MAX_AGE)
        user_id = uuid.UUID(str(data["u"]))
    except (BadSignature, KeyError, TypeError, ValueError) as exc:
        raise LinkUnusable(_("This verification link is not valid any more.")) from exc
    user = db.session.get(User, user_id)
    if user is None or user.email != data.get("e"):
        raise LinkUnusable(_("This verification link is not valid any more."))
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        db.session.commit()
    return user


def _send(user: User, template: str, **context) -> None:  # noqa: ANN003
    from agency.mail.service import in_language, render_mail, send_mail

    locale = mail_locale(user)
    if "link" in context:
        context["link"] = in_language(context["link"], locale)
    mail = render_mail(template, locale, name=user.name, **context)
    send_mail(user.email, mail.subject, mail.text, mail.html)

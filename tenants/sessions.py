"""Server-side sessions: every signed-in browser is a ``user_sessions`` row its cookie names.

Logout revokes the row, so a copied cookie stops working; "sign out of all other sessions",
a password change and a password reset revoke the others (or all).
"""

from __future__ import annotations

import uuid

from flask import g, has_request_context, request, session
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select, update

from agency.db import db, utcnow
from tenants.models import User, UserSession


def fresh_session() -> None:
    """Start a new cookie session, keeping only the language picked with the footer switch."""
    from agency.app import SUPPORTED_LOCALES

    locale = session.get("locale")
    session.clear()
    if locale in SUPPORTED_LOCALES:
        session["locale"] = locale


def sign_in(user: User, *, remember: bool = False) -> UserSession:
    """Open a server-side session for ``user`` and log them in on this browser; commits."""
    agent = request.headers.get("User-Agent", "")[:200] if has_request_context() else None
    row = UserSession(user_id=user.id, user_agent=agent or None)
    db.session.add(row)
    db.session.commit()
    user.session_id = row.id  # type: ignore[attr-defined] - read by User.get_id
    login_user(user, remember=remember)
    return row


def current_session_id() -> uuid.UUID | None:
    if not current_user.is_authenticated:
        return None
    return getattr(current_user, "session_id", None)


def sign_out() -> None:
    """End this browser's session on the server too, then forget it here."""
    session_id = current_session_id()
    if session_id is not None:
        db.session.execute(
            update(UserSession)
            .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        db.session.commit()
    logout_user()


def revoke_sessions(user: User, *, keep: uuid.UUID | None = None) -> int:
    """Revoke every live session of ``user`` except ``keep``; returns how many. No commit."""
    stmt = update(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
    )
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep)
    result = db.session.execute(stmt.values(revoked_at=utcnow()))
    return result.rowcount or 0


def live_session_count(user: User) -> int:
    from sqlalchemy import func

    return db.session.scalar(
        select(func.count())
        .select_from(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    )


def load_session_user(session_id: str, agency_slug: str | None = None) -> User | None:
    """The user a cookie's id names, if its server-side session is live (one query).

    With ``agency_slug`` the same query also resolves the user's access to that agency and
    sets the RLS setting; ``g.session_access`` keeps ``(user id, slug, access or None)``.
    """
    from tenants.identity import refuse_identity, resolve_session_identity

    user_id, _, rest = session_id.partition(":")
    sid, _, fingerprint = rest.partition(":")
    try:
        uid, sid_uuid = uuid.UUID(user_id), uuid.UUID(sid)
    except ValueError:
        return None
    found = resolve_session_identity(uid, sid_uuid, agency_slug)
    if found is None:
        return None
    user, access, agencies = found
    user.session_id = sid_uuid  # type: ignore[attr-defined]
    if not fingerprint or user.get_id() != session_id:  # the password changed since
        if access is not None:
            refuse_identity()
        return None
    if has_request_context() and agency_slug is not None:
        g.session_access = (user.id, agency_slug, access)  # read by tenants.web
        g.user_agencies = agencies  # the agency switcher (agency/web/context.py)
    return user

"""Accounts, agencies, memberships and API tokens: the business rules of identity."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
import uuid
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from agency.db import db, utcnow
from agency.errors import ValidationFailed
from tenants.context import tenant_context
from tenants.models import Agency, ApiToken, Membership, Role, StaffAssignment, User
from tenants.names import InvalidName, clean_name
from tenants.passwords import hash_password, password_problems, verify_password
from tenants.permissions import Access

TOKEN_PREFIX = "rg_"  # noqa: S105 - a prefix, not a secret


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def email_problem(email: str) -> str | None:
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return _("Enter a valid e-mail address.")
    return None


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:60] or "agency"


def _unique_slug(name: str) -> str:
    base = slugify(name)
    taken = set(db.session.scalars(select(Agency.slug).where(Agency.slug.like(f"{base}%"))).all())
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def validate_new_account(name: str, email: str, password: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    name_problem = person_name_problem(name)
    if name_problem:
        errors["name"] = [name_problem]
    email = normalize_email(email)
    problem = email_problem(email)
    if problem:
        errors["email"] = [problem]
    elif find_user_by_email(email) is not None:
        errors["email"] = [_("An account with this e-mail already exists.")]
    problems = password_problems(password or "")
    if problems:
        errors["password"] = problems
    return errors


def person_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a person's name (the shared rule of ``tenants.names``), or None."""
    try:
        clean_name(name, 200)
    except InvalidName as exc:
        return str(exc)
    return None


def create_user(
    name: str, email: str, password: str, locale: str | None = None, *, verified: bool = True
) -> User:
    user = User(
        name=clean_name(name, 200) or "",
        email=normalize_email(email),
        password_hash=hash_password(password),
        locale=locale,
        email_verified_at=utcnow() if verified else None,
    )
    db.session.add(user)
    return user


def signup(
    agency_name: str, name: str, email: str, password: str, *, verified: bool = False
) -> tuple[Agency, User, str]:
    """Create an agency, its owner and a first API token; commits. Raises ValidationFailed.

    The owner's address is unverified (unless ``verified``): the caller sends the mail.
    """
    errors = validate_new_account(name, email, password)
    try:
        clean_name(agency_name, 200)
    except InvalidName as exc:
        errors["agency_name"] = [str(exc)]
    if errors:
        raise ValidationFailed(errors)
    agency, user = create_agency_with_owner(agency_name, name, email, password, verified=verified)
    token = issue_token(user, agency, name="signup")
    db.session.commit()
    return agency, user, token


def create_agency_with_owner(
    agency_name: str, name: str, email: str, password: str, *, verified: bool = True
) -> tuple[Agency, User]:
    agency = Agency(name=clean_name(agency_name, 200) or "", slug=_unique_slug(agency_name))
    user = find_user_by_email(email) or create_user(name, email, password, verified=verified)
    db.session.add(agency)
    db.session.flush()
    add_membership(user, agency, Role.OWNER)
    return agency, user


def add_membership(
    user: User, agency: Agency, role: Role, client_id: uuid.UUID | None = None
) -> Membership:
    membership = Membership(user=user, agency=agency, role=role.value, client_id=client_id)
    db.session.add(membership)
    db.session.flush()
    return membership


def assign_staff(membership: Membership, client_id: uuid.UUID) -> None:
    with tenant_context(membership.agency_id):
        db.session.add(StaffAssignment(membership_id=membership.id, client_id=client_id))
        db.session.flush()


def authenticate(email: str, password: str) -> User | None:
    """The user for these credentials, or None; unknown e-mail and wrong password look alike."""
    user = find_user_by_email(email)
    ok = verify_password(user.password_hash if user else None, password or "")
    if user is None or not ok or not user.active:
        return None
    return user


def change_password(user: User, current: str, new: str, *, keep_session=None) -> None:  # noqa: ANN001
    """Set a new password; every session but ``keep_session`` (this browser's) ends."""
    errors: dict[str, list[str]] = {}
    if not verify_password(user.password_hash, current or ""):
        errors["current_password"] = [_("The current password is not right.")]
    problems = password_problems(new or "")
    if problems:
        errors["new_password"] = problems
    if errors:
        raise ValidationFailed(errors)
    set_password(user, new, keep_session=keep_session)
    db.session.commit()


def set_password(user: User, new: str, *, keep_session=None) -> None:  # noqa: ANN001
    """Store a new hash and end the user's other sessions (no commit)."""
    from tenants.sessions import revoke_sessions

    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    revoke_sessions(user, keep=keep_session)


def _hash_token(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def issue_token(
    user: User, agency: Agency, name: str = "API token", expires_at: datetime | None = None
) -> str:
    """Create a token and return its only plain copy (shown once, stored hashed)."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(
            user_id=user.id,
            agency_id=agency.id,
            name=name,
            token_hash=_hash_token(plain),
            prefix=plain[:10],
            expires_at=expires_at,
        )
    )
    db.session.flush()
    return plain


def tokens_of(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .options(selectinload(ApiToken.agency))
            .order_by(ApiToken.created_at.desc())
        )
    )


MAX_TOKEN_DAYS = 3650


def token_expiry_problem(expires_at: datetime | None) -> str | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        return _("Give the expiry with a time zone (e.g. 2027-01-31T00:00:00Z).")
    if expires_at <= utcnow():
        return _("The expiry must be in the future.")
    if expires_at > utcnow() + timedelta(days=MAX_TOKEN_DAYS):
        return _("The expiry must be within %(n)d days.", n=MAX_TOKEN_DAYS)
    return None


def create_personal_token(
    user: User, agency_slug: str, name: str, expires_at: datetime | None = None
) -> str:
    """A new token for one of the user's agencies; returns the plain value (shown once)."""
    errors: dict[str, list[str]] = {}
    problem = token_expiry_problem(expires_at)
    if problem:
        errors["expires_at"] = [problem]
    agency = find_agency_by_slug(agency_slug or "")
    if agency is None or load_access(user, agency) is None:
        errors["agency"] = [_("Choose one of your agencies.")]
    try:
        name = clean_name(name, 100) or ""
    except InvalidName as exc:
        errors["name"] = [str(exc)]
    if errors:
        raise ValidationFailed(errors)
    plain = issue_token(user, agency, name=name, expires_at=expires_at)
    db.session.commit()
    return plain


def revoke_token(user: User, token_id: uuid.UUID) -> bool:
    """Revoke one of the user's own tokens; False when there is no such live token."""
    token = db.session.scalar(
        select(ApiToken).where(
            ApiToken.id == token_id, ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)
        )
    )
    if token is None:
        return False
    token.revoked_at = utcnow()
    db.session.commit()
    return True


def resolve_token(plain: str) -> ApiToken | None:
    """The live token for this plain value, or None (revoked, unknown, user inactive)."""
    if not plain or not plain.startswith(TOKEN_PREFIX) or len(plain) > 200:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(plain)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    if token.expires_at is not None and token.expires_at <= utcnow():
        return None
    return token


def resolve_api_identity(plain: str) -> tuple[ApiToken, Access] | None:
    """A live token and what it lets its member do, in one statement; else None.

    None for an unknown, revoked or expired token, an inactive user or membership.
    """
    from tenants.identity import resolve_api_identity as resolve

    if not plain or not plain.startswith(TOKEN_PREFIX) or len(plain) > 200:
        return None
    return resolve(_hash_token(plain))


def revoke_all_tokens(user: User) -> int:
    """Revoke every live API token of ``user`` (no commit); returns how many."""
    from sqlalchemy import update

    result = db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount or 0


def agencies_of(user: User) -> list[Agency]:
    return list(
        db.session.scalars(
            select(Agency)
            .join(Membership, Membership.agency_id == Agency.id)
            .where(Membership.user_id == user.id, Membership.active.is_(True))
            .distinct()
            .order_by(Agency.name)
        )
    )


def find_agency_by_slug(slug: str) -> Agency | None:
    return db.session.scalar(select(Agency).where(Agency.slug == slug))


def load_access(user: User, agency: Agency) -> Access | None:
    """What ``user`` may do in ``agency``; None when they have no live membership there."""
    if not user.active:
        return None
    rows = db.session.scalars(
        select(Membership).where(
            Membership.user_id == user.id,
            Membership.agency_id == agency.id,
            Membership.active.is_(True),
        )
    ).all()
    if not rows:
        return None
    access = Access(user=user, agency=agency)
    staff_membership = None
    for m in rows:
        role = Role(m.role)
        if m.client_id is not None:
            access.client_roles[m.client_id] = role
        else:
            access.agency_role = role
            if role == Role.STAFF:
                staff_membership = m
    if staff_membership is not None:
        with tenant_context(agency.id):
            access.assigned_client_ids = set(
                db.session.scalars(
                    select(StaffAssignment.client_id).where(
                        StaffAssignment.membership_id == staff_membership.id
                    )
                )
            )
    return access

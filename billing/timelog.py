"""Time entries: agency people log minutes for the clients they work on (DESIGN.md §4)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import column, select, table

from agency import audit
from agency.db import db
from agency.errors import NotFound, PermissionDenied, ValidationFailed
from billing.models import TimeEntry
from billing.rates import client_today
from tenants.models import ClientCompany
from tenants.permissions import Access, Permission

MAX_MINUTES = 24 * 60
# billing never imports the content package: the post is checked on its table by name.
_posts = table("posts", column("id"), column("client_id"), column("agency_id"))


def _uuid(value: object) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def loggable_clients(access: Access) -> list[ClientCompany]:
    stmt = select(ClientCompany).order_by(ClientCompany.name)
    visible = access.visible_client_ids()
    if visible is not None:
        stmt = stmt.where(ClientCompany.id.in_(visible))
    return [c for c in db.session.scalars(stmt) if access.can(Permission.LOG_TIME, c.id)]


def log_time(access: Access, data: Mapping[str, object], *, via: str = "web") -> TimeEntry:
    """Validate and store one entry; every field error at once; nothing stored on error."""
    if not access.can(Permission.LOG_TIME):
        raise PermissionDenied(_("Your role does not allow this."))
    errors: dict[str, list[str]] = {}
    client_id = _uuid(data.get("client_id"))
    client = None
    if client_id is not None:
        client = db.session.scalar(select(ClientCompany).where(ClientCompany.id == client_id))
    if client is None or not access.can_see_client(client.id):
        if data.get("client_id") in (None, ""):
            errors["client_id"] = [_("This field is required.")]
        else:
            raise NotFound(_("No such client."))
    elif not access.can(Permission.LOG_TIME, client.id):
        raise PermissionDenied(_("You are not assigned to this client."))
    minutes = data.get("minutes")
    if isinstance(minutes, str) and minutes.strip().isdigit():
        minutes = int(minutes.strip())
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_MINUTES:
        errors["minutes"] = [_("Enter whole minutes between 1 and 1440.")]
    description = str(data.get("description") or "").strip()
    if not description:
        errors["description"] = [_("This field is required.")]
    elif len(description) > 500:
        errors["description"] = [_("At most 500 characters.")]
    work_date = data.get("date")
    if isinstance(work_date, str):
        try:
            work_date = date.fromisoformat(work_date)
        except ValueError:
            work_date = None
    if not isinstance(work_date, date):
        errors["date"] = [_("Enter a date as YYYY-MM-DD.")]
    elif client is not None and work_date > client_today(client) + timedelta(days=1):
        errors["date"] = [_("Time cannot be logged in the future.")]
    elif work_date.year < 2000:
        errors["date"] = [_("Enter a date between 2000 and today.")]
    post_id = None
    if data.get("post_id") not in (None, ""):
        post_id = _uuid(data.get("post_id"))
        found = (
            client is not None
            and post_id is not None
            and db.session.scalar(
                select(_posts.c.id).where(
                    _posts.c.id == post_id,
                    _posts.c.client_id == client.id,
                    _posts.c.agency_id == access.agency.id,
                )
            )
        )
        if not found:
            errors["post_id"] = [_("No such post of this client.")]
    if errors:
        raise ValidationFailed(errors)
    assert client is not None and isinstance(work_date, date) and isinstance(minutes, int)
    entry = TimeEntry(
        client_id=client.id,
        post_id=post_id,
        user_id=access.user.id,
        minutes=minutes,
        description=description,
        work_date=work_date,
        period=work_date.strftime("%Y-%m"),
    )
    db.session.add(entry)
    db.session.flush()
    audit.record_by(
        access,
        "time.logged",
        subject_type="time_entry",
        subject_id=entry.id,
        client_id=client.id,
        via=via,
        minutes=minutes,
    )
    db.session.commit()
    return entry


def recent_entries(access: Access, limit: int = 50) -> list[TimeEntry]:
    """Owners, managers, finance: everyone's. Staff: their own, on the clients they are
    assigned to now (an entry on a client since unassigned is that client's data, not theirs)."""
    stmt = select(TimeEntry).order_by(TimeEntry.work_date.desc(), TimeEntry.created_at.desc())
    visible = access.visible_client_ids()
    if not access.can(Permission.BILLING) and visible is not None:
        stmt = stmt.where(TimeEntry.user_id == access.user.id, TimeEntry.client_id.in_(visible))
    return list(db.session.scalars(stmt.limit(limit)))

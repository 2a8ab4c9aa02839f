"""The agency shell: per-role dashboard under /a/<agency_slug>/ (client users: their portal)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from flask import Blueprint, g, render_template
from flask_babel import format_date
from flask_login import login_required
from sqlalchemy import select

from agency.content import dashboard as dashboard_cards
from agency.content import portal
from agency.content.forms import STATUS_LABELS as POST_STATUS_LABELS
from agency.db import db, utcnow
from tenants.models import ClientCompany, Role

bp = Blueprint("shell", __name__, url_prefix="/a/<agency_slug>")


@bp.get("/")
@login_required
def dashboard(agency_slug: str):  # noqa: ANN201
    access = g.access
    if portal.is_portal_user(access):
        return _portal(access)
    stmt = select(ClientCompany).order_by(ClientCompany.name)
    visible = access.visible_client_ids()
    if visible is not None:
        stmt = stmt.where(ClientCompany.id.in_(visible))
    clients = db.session.scalars(stmt).all()
    now = utcnow()
    return render_template(
        "dashboard.html",
        clients=clients,
        access=access,
        finance=_finance_summary(access, now),
        client_names={c.id: c.name for c in clients},
        overdue=dashboard_cards.overdue_approvals(access, now),
        week=dashboard_cards.week_schedule(
            access, _local_today(g.agency.timezone), g.agency.timezone
        ),
        week_timezone=g.agency.timezone,
        status_labels=POST_STATUS_LABELS,
    )


def _finance_summary(access, now):  # noqa: ANN001, ANN202
    """Finance's card: drafts to finalize, open and overdue invoices, this month's total."""
    if access.agency_role != Role.FINANCE.value:
        return None
    from billing.summary import finance_summary

    return finance_summary(access, now, g.agency.timezone)


def _local_today(timezone: str) -> date:
    return utcnow().astimezone(ZoneInfo(timezone)).date()


def _portal(access):  # noqa: ANN001, ANN202
    home = portal.portal_home(access, _local_today)

    def format_day(day: date) -> str:
        return format_date(day, "full")

    return render_template(
        "portal.html",
        home=home,
        format_day=format_day,
        client_status=lambda status: portal.CLIENT_STATUS_LABELS.get(status, status),
    )

"""The agency shell: per-role dashboard under /a/<agency_slug>/."""

from __future__ import annotations

from flask import Blueprint, g, render_template
from flask_login import login_required
from sqlalchemy import select

from agency.db import db
from tenants.models import ClientCompany

bp = Blueprint("shell", __name__, url_prefix="/a/<agency_slug>")


@bp.get("/")
@login_required
def dashboard(agency_slug: str):  # noqa: ANN201
    access = g.access
    stmt = select(ClientCompany).order_by(ClientCompany.name)
    visible = access.visible_client_ids()
    if visible is not None:
        stmt = stmt.where(ClientCompany.id.in_(visible))
    clients = db.session.scalars(stmt).all()
    return render_template("dashboard.html", clients=clients, access=access)

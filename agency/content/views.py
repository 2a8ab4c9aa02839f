"""Post pages under /a/<agency_slug>/posts: list, calendar, queue with bulk approve, and a
client's approval record and review links (the post page: ``post_views``; the editor:
``editor_views``)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import select

from agency.channels.models import Channel, ChannelStatus
from agency.clients.service import get_client
from agency.content import calendar as cal
from agency.content import decisions, portal, queries, record
from agency.db import db, utcnow
from agency.errors import PermissionDenied, ValidationFailed
from agency.web.context import add_nav_item
from tenants.models import Role
from tenants.permissions import Permission

bp = Blueprint(
    "content", __name__, url_prefix="/a/<agency_slug>/posts", template_folder="templates"
)


def queue_title(access) -> str:  # noqa: ANN001 - tenants.permissions.Access
    """What the queue holds for this reader: posts to approve, or only their own posts sent
    back with changes requested (staff, who approve nothing)."""
    if access.can(Permission.INTERNAL_REVIEW) or access.can(Permission.CLIENT_APPROVAL):
        return _("To approve")
    return _("Sent back to you")


def init_app(app: Flask) -> None:
    from agency.content import editor_views, post_views  # noqa: F401 - routes join this blueprint

    app.register_blueprint(bp)
    add_nav_item(app, "content.index", _l("Posts"), Permission.SEE_CONTENT)
    add_nav_item(app, "content.calendar", _l("Calendar"), Permission.SEE_CONTENT)
    add_nav_item(
        app,
        "content.queue",
        queue_title,
        (Permission.INTERNAL_REVIEW, Permission.CLIENT_APPROVAL, Permission.DRAFT_CONTENT),
    )
    app.context_processor(
        lambda: {"waiting_on_me": _waiting_on_me, "approval_turnaround": _turnaround}
    )
    app.jinja_env.globals["marks_zones"] = cal.marks_zones  # macros/times.html


def _turnaround() -> list[dict]:
    """For managers' dashboards: bars of the median client approval time per client."""
    from agency.content import stats

    access = g.get("access")
    if access is None or access.agency_role not in (Role.OWNER, Role.MANAGER):
        return []
    return stats.bar_chart_rows(stats.turnaround_by_client())


def _waiting_on_me() -> list[dict] | None:
    """For the dashboard: up to 5 posts awaiting this member, or None if they see no content."""
    access = g.get("access")
    if access is None or not access.can(Permission.SEE_CONTENT):
        return None
    return queries.waiting_on(access, limit=5, brief=True)


@bp.get("/")
@login_required
def index(agency_slug: str):  # noqa: ANN201
    try:
        client_id = uuid.UUID(request.args["client_id"]) if request.args.get("client_id") else None
        posts, next_cursor = queries.list_posts(
            g.access,
            client_id=client_id,
            status=request.args.get("status") or None,
            cursor=request.args.get("cursor") or None,
        )
    except (ValueError, ValidationFailed):
        return redirect(url_for("content.index"))
    except PermissionDenied:
        abort(403)
    clients = cal.client_choices(g.access)
    names = portal.status_names(g.access)
    return render_template(
        "content/list.html",
        posts=posts,
        next_cursor=next_cursor,
        clients={c.id: c for c in clients},
        client_id=client_id,
        status=request.args.get("status") or None,
        statuses=portal.status_choices(g.access, names),
        status_names=names,
        draftable=[c for c in clients if g.access.can(Permission.DRAFT_CONTENT, c.id)],
        can_manage=client_id is not None and g.access.can(Permission.MANAGE_CLIENTS, client_id),
    )


@bp.get("/calendar")
@login_required
def calendar(agency_slug: str):  # noqa: ANN201
    view = "month" if request.args.get("view") == "month" else "week"
    try:
        anchor = date.fromisoformat(request.args.get("date") or utcnow().date().isoformat())
        if not 1900 <= anchor.year <= 9000:  # far dates overflow the period arithmetic
            raise ValueError(anchor)
        client_id = uuid.UUID(request.args["client_id"]) if request.args.get("client_id") else None
        channel_id = (
            uuid.UUID(request.args["channel_id"]) if request.args.get("channel_id") else None
        )
    except ValueError:
        return redirect(url_for("content.calendar"))
    clients = cal.client_choices(g.access)
    client = next((c for c in clients if c.id == client_id), None)
    timezone = client.timezone if client else g.agency.timezone
    start, end = cal.period(view, anchor)
    days = cal.calendar_days(
        g.access, start, end, timezone, client_id=client_id,
        status=request.args.get("status") or None, channel_id=channel_id, brief=True,
    )  # fmt: skip
    step = timedelta(days=7) if view == "week" else timedelta(days=31)
    names = portal.status_names(g.access)
    return render_template(
        "content/calendar.html", days=days, view=view, start=start, end=end,
        last=end - timedelta(days=1),
        previous=(start - step).isoformat(), following=(start + step).isoformat(),
        clients=clients, client=client, timezone=timezone,
        statuses=portal.status_choices(g.access, names), status_names=names,
        status=request.args.get("status") or None,
        channels=usable_channels(client.id) if client else [], channel_id=channel_id,
    )  # fmt: skip


@bp.get("/queue")
@login_required
def queue(agency_slug: str):  # noqa: ANN201
    """What waits on me: internal review for reviewers, approval for client managers."""
    return render_template(
        "content/queue.html",
        title=queue_title(g.access),
        posts=queries.waiting_on(g.access, brief=True),
        statuses=portal.status_names(g.access),
    )


@bp.post("/queue/approve")
@login_required
def bulk_approve(agency_slug: str):  # noqa: ANN201
    form = FlaskForm()  # the bulk form carries no comment: only its CSRF token can fail
    if not form.validate_on_submit():
        flash(_("The form expired; try again."), "danger")
        return redirect(url_for("content.queue")), 303
    choices = []
    for value in request.form.getlist("post")[:100]:
        post_id, _sep, revision = value.partition(":")
        try:
            choices.append((uuid.UUID(post_id), int(revision)))
        except ValueError:
            continue
    if not choices:
        flash(_("Tick the posts to approve."), "warning")
        return redirect(url_for("content.queue")), 303
    done, problems = decisions.approve_many(g.access, choices, via="web")
    flash(
        ngettext("%(num)d post approved.", "%(num)d posts approved.", done),
        "success" if not problems else "warning",
    )
    for problem in problems:
        flash(problem, "danger")
    if request.form.get("back") == "home":  # the client portal's home
        return redirect(url_for("shell.dashboard"))
    return redirect(url_for("content.queue"))


def usable_channels(client_id: uuid.UUID) -> list[Channel]:
    """The client's channels a post can target: every one but the disabled."""
    return list(
        db.session.scalars(
            select(Channel)
            .where(Channel.client_id == client_id, Channel.status != ChannelStatus.DISABLED.value)
            .order_by(Channel.name, Channel.id)
        )
    )


@bp.get("/approval-record/<uuid:client_id>.csv")
@login_required
def approval_record(agency_slug: str, client_id: uuid.UUID):  # noqa: ANN201
    # Built whole, not streamed: a client's decisions are thousands of rows at most, and a
    # streamed body keeps the request context alive until the client reads it to the end.
    body = "".join(record.approval_record_csv(g.access, client_id, via="web"))
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="approval-record-{client_id}.csv"'},
    )


@bp.get("/approval-record/<uuid:client_id>.pdf")
@login_required
def approval_record_pdf(agency_slug: str, client_id: uuid.UUID):  # noqa: ANN201
    document = record.approval_record_pdf(g.access, client_id, via="web")
    return Response(
        document,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="approval-record-{client_id}.pdf"'},
    )


@bp.post("/review-links/<uuid:client_id>/revoke")
@login_required
def revoke_links(agency_slug: str, client_id: uuid.UUID):  # noqa: ANN201
    from agency.content.links import revoke_client_links

    client = get_client(g.access, client_id)
    count = revoke_client_links(g.access, client, via="web")
    flash(
        ngettext("%(num)d review link revoked.", "%(num)d review links revoked.", count), "success"
    )
    return redirect(url_for("content.index", client_id=client.id))

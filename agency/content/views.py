"""Post pages under /a/<agency_slug>/posts: list, calendar, queue, detail with review, comments,
history (the editor: ``editor_views``)."""

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
from agency.content import access as seen
from agency.content import (
    approval,
    changes,
    decisions,
    discussion,
    portal,
    queries,
    record,
    review_resend,
    service,
)
from agency.content import calendar as cal
from agency.content.forms import (
    ACTION_DONE,
    ACTION_LABELS,
    ACTIVITY_LABELS,
    STATUS_LABELS,
    CommentForm,
    DecisionForm,
    approve_done,
    submit_done,
)
from agency.content.models import Decision, PostStatus, aware
from agency.content.policy import effective_policy
from agency.content.states import ACTIONS
from agency.db import db, utcnow
from agency.errors import (
    IllegalTransition,
    PermissionDenied,
    ValidationFailed,
    describe,
    error_messages,
)
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
    from agency.content import editor_views  # noqa: F401 - its routes join this blueprint

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


@bp.get("/<uuid:post_id>")
@login_required
def detail(agency_slug: str, post_id: uuid.UUID):  # noqa: ANN201
    return _detail_page(post_id)


def _detail_page(post_id: uuid.UUID, decision_form: DecisionForm | None = None) -> str:
    """The post's page; ``decision_form``: a refused decision, its comment and the reason
    kept on the field."""
    post = queries.post_view(g.access, post_id)
    client = get_client(g.access, post["client_id"])
    agency_side = seen.agency_view(g.access, client.id)
    comment_form = CommentForm()
    revisions = discussion.list_revisions(g.access, post_id)
    if not agency_side:  # a client reads what changed as words, not as a unified diff
        revisions = changes.with_word_changes(revisions)
        comment_form.visibility.choices = [("shared", _("Shared with the agency"))]
    return render_template(
        "content/detail.html",
        post=post,
        client=client,
        agency_side=agency_side,
        # A client reads the states in their own words (no internal steps).
        status_labels=STATUS_LABELS if agency_side else portal.CLIENT_STATUS_LABELS,
        activity_labels=ACTIVITY_LABELS,
        actions=_actions(post, agency_side),
        action_labels=ACTION_LABELS,
        decision_form=decision_form or DecisionForm(),
        comment_form=comment_form,
        can_comment=g.access.can(Permission.COMMENT, client.id),
        can_edit=agency_side
        and g.access.can(Permission.DRAFT_CONTENT, client.id)
        and PostStatus(post["status"]) in ACTIONS["edit"],
        can_resend=agency_side
        and g.access.can(Permission.DRAFT_CONTENT, client.id)
        and post["status"] == PostStatus.AWAITING_CLIENT.value,
        # Sent to the client before their approval was switched off: it still waits for them.
        sent_before_policy=agency_side
        and post["status"] == PostStatus.AWAITING_CLIENT.value
        and not effective_policy(client, post["kind"]).needs_client,
        comments=discussion.list_comments(g.access, post_id),
        revisions=revisions,
        activity=discussion.activity(g.access, post_id),
        image_url=lambda pid, ref: url_for("content.image", post_id=pid, ref=ref),
    )


def _actions(post: dict, agency_side: bool) -> list[str]:
    """The review buttons this user may press on this post now."""
    status, client_id = PostStatus(post["status"]), post["client_id"]
    can = g.access.can
    drafter = agency_side and can(Permission.DRAFT_CONTENT, client_id)
    out = ["submit"] if drafter and status in ACTIONS["submit"] else []
    internal = status == PostStatus.IN_REVIEW and agency_side
    if (internal and can(Permission.INTERNAL_REVIEW, client_id)) or (
        status == PostStatus.AWAITING_CLIENT
        and not agency_side
        and can(Permission.CLIENT_APPROVAL, client_id)
    ):
        out += ["approve", "request-changes", "reject"]
    if drafter and status in ACTIONS["archive"]:
        out.append("archive")
    return out


def _transition(post_id: uuid.UUID, action: str):  # noqa: ANN202
    service.get_post(g.access, post_id)  # 404 before anything else for an invisible post
    form = DecisionForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            flash(_("The form expired; try again."), "danger")
            return redirect(url_for("content.detail", post_id=post_id)), 303
        return _detail_page(post_id, form), 422  # the comment's own problem, the text kept
    done = str(ACTION_DONE[action])
    try:
        if action == "submit":
            post = service.submit(g.access, post_id, via="web")
            # What the client's policy did with it: in review, to the client, or approved.
            zone = get_client(g.access, post.client_id).timezone
            done = submit_done(post.status, aware(post.scheduled_at), zone)
        elif action == "archive":
            service.archive(g.access, post_id, via="web")
        else:
            decision = Decision(action.replace("-", "_"))
            post = decisions.decide(
                g.access, post_id, decision, comment=form.comment.data,
                revision=form.revision.data, via="web",
            )  # fmt: skip
            if decision == Decision.APPROVE:
                done = approve_done(approval.approval_outcome(post))
    except IllegalTransition as exc:
        flash(_flat(exc), "danger")
        return redirect(url_for("content.detail", post_id=post_id)), 303
    except ValidationFailed as exc:
        if "comment" in exc.errors and action not in ("submit", "archive"):
            form.comment.errors = error_messages(exc.errors["comment"])
            return _detail_page(post_id, form), 422
        flash(_flat(exc), "danger")
        return redirect(url_for("content.detail", post_id=post_id)), 303
    flash(done, "success")
    return redirect(url_for("content.detail", post_id=post_id))


def _transition_view(action: str):  # noqa: ANN202
    def view(agency_slug: str, post_id: uuid.UUID):  # noqa: ANN202
        return _transition(post_id, action)

    view.__name__ = action.replace("-", "_")
    return login_required(view)


# One route per action (content.submit, content.approve, ...): plain URLs, one endpoint each.
for _action in ACTION_LABELS:
    bp.add_url_rule(
        f"/<uuid:post_id>/{_action}",
        endpoint=_action.replace("-", "_"),
        view_func=_transition_view(_action),
        methods=["POST"],
    )


def _flat(exc: IllegalTransition | ValidationFailed) -> str:
    return exc.message if isinstance(exc, IllegalTransition) else describe(exc)


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


@bp.post("/<uuid:post_id>/resend-link")
@login_required
def resend_link(agency_slug: str, post_id: uuid.UUID):  # noqa: ANN201
    """A post awaiting the client: e-mail its approvers a new review link."""
    service.get_post(g.access, post_id)  # 404 before anything else for an invisible post
    if not FlaskForm().validate_on_submit():
        flash(_("The form expired; try again."), "danger")
        return redirect(url_for("content.detail", post_id=post_id)), 303
    try:
        count = review_resend.resend_review_link(g.access, post_id, via="web")
    except IllegalTransition as exc:
        flash(exc.message, "danger")
        return redirect(url_for("content.detail", post_id=post_id)), 303
    except PermissionDenied:
        abort(403)
    flash(
        ngettext(
            "A new review link was e-mailed to %(num)d client approver.",
            "A new review link was e-mailed to %(num)d client approvers.",
            count,
        ),
        "success",
    )
    return redirect(url_for("content.detail", post_id=post_id))


@bp.post("/<uuid:post_id>/comments")
@login_required
def comment(agency_slug: str, post_id: uuid.UUID):  # noqa: ANN201
    service.get_post(g.access, post_id)  # 404 before anything else for an invisible post
    form = CommentForm()
    form.visibility.choices = [("internal", "internal"), ("shared", "shared")]
    if not form.validate_on_submit():
        flash(_("Write a comment."), "danger")
        return redirect(url_for("content.detail", post_id=post_id)), 303
    try:
        discussion.add_comment(
            g.access, post_id, {"body": form.body.data, "visibility": form.visibility.data},
            via="web",
        )  # fmt: skip
    except ValidationFailed as exc:
        flash(_flat(exc), "danger")
        return redirect(url_for("content.detail", post_id=post_id)), 303
    except PermissionDenied:
        abort(403)
    flash(_("Comment added."), "success")
    return redirect(url_for("content.detail", post_id=post_id, _anchor="comments"))

"""The post page under /a/<agency_slug>/posts/<post_id>: the post with its review, comments
and history, and the actions pressed on it (submit, decide, archive, resend the review link,
comment).

Routes of the ``content`` blueprint (``views.bp``), registered by ``views.init_app``.
"""

from __future__ import annotations

import uuid

from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required
from flask_wtf import FlaskForm

from agency.clients.service import get_client
from agency.content import access as seen
from agency.content import (
    approval,
    changes,
    decisions,
    discussion,
    portal,
    queries,
    review_resend,
    service,
)
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
from agency.content.views import bp
from agency.errors import (
    IllegalTransition,
    PermissionDenied,
    ValidationFailed,
    describe,
    error_messages,
)
from tenants.permissions import Permission


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

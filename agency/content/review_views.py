"""Magic-link review pages: /review/<token>, no password (DESIGN.md §6).

The token sets the tenant and stands for one client manager of one client; every action is
the service's, recorded ``via link``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Blueprint, Flask, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _

from agency.content import changes, discussion, links, media, queries, service
from agency.content.forms import STATUS_LABELS, DecisionForm
from agency.content.models import Decision
from agency.db import db, utcnow
from agency.errors import IllegalTransition, ValidationFailed, describe
from tenants.context import tenant_context

bp = Blueprint("review", __name__, url_prefix="/review", template_folder="templates")
ACTIONS = {"approve": Decision.APPROVE, "request-changes": Decision.REQUEST_CHANGES}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@contextmanager
def _reviewer(token: str) -> Iterator[links.Reviewer]:
    with tenant_context(links.agency_of_token(token)):
        reviewer = links.resolve(token)
        yield reviewer


@bp.get("/<token>")
def page(token: str):  # noqa: ANN201
    with _reviewer(token) as reviewer:
        posts = []
        for post in links.waiting_posts(reviewer):
            shown = queries.present_post(reviewer.access, post)
            # Newest first, only the versions sent to the client: [1] is the one they saw last.
            revisions = changes.with_word_changes(
                discussion.list_revisions(reviewer.access, post.id)
            )
            shown["changes"] = revisions[0].get("changes")
            shown["comments"] = discussion.list_comments(reviewer.access, post.id)
            posts.append(shown)
        html = render_template(
            "content/review.html",
            reviewer=reviewer,
            posts=posts,
            form=DecisionForm(),
            token=token,
            status_labels=STATUS_LABELS,
            image_url=lambda pid, ref: url_for("review.image", token=token, post_id=pid, ref=ref),
        )
        reviewer.link.last_used_at = utcnow()
        db.session.commit()
    return html


@bp.get("/<token>/<uuid:post_id>/media/<ref>")
def image(token: str, post_id: uuid.UUID, ref: str):  # noqa: ANN201
    with _reviewer(token) as reviewer:
        post = links.reviewer_post(reviewer, post_id)
        path, mimetype = media.image_file(reviewer.access, post.id, ref)
    return send_file(path, mimetype=mimetype, max_age=3600)


def _act(token: str, post_id: uuid.UUID, action: str):  # noqa: ANN202
    with _reviewer(token) as reviewer:
        post = links.reviewer_post(reviewer, post_id)
        form = DecisionForm()
        if not form.validate_on_submit():
            flash(_("The form expired; try again."), "danger")
            return redirect(url_for("review.page", token=token)), 303
        try:
            if action == "comment":
                discussion.add_comment(
                    reviewer.access, post.id, {"body": form.comment.data, "visibility": "shared"},
                    via="link",
                )  # fmt: skip
            else:
                service.decide(
                    reviewer.access, post.id, ACTIONS[action], comment=form.comment.data,
                    revision=form.revision.data, via="link",
                )  # fmt: skip
        except (IllegalTransition, ValidationFailed) as exc:
            flash(exc.message if isinstance(exc, IllegalTransition) else _flat(exc), "danger")
            return redirect(url_for("review.page", token=token)), 303
    flash(_("Thank you: your answer is recorded."), "success")
    return redirect(url_for("review.page", token=token))


def _act_view(action: str):  # noqa: ANN202
    def view(token: str, post_id: uuid.UUID):  # noqa: ANN202
        return _act(token, post_id, action)

    view.__name__ = action.replace("-", "_")
    return view


# review.approve, review.request_changes, review.comment: one endpoint per action.
for _action in ("approve", "request-changes", "comment"):
    bp.add_url_rule(
        f"/<token>/<uuid:post_id>/{_action}",
        endpoint=_action.replace("-", "_"),
        view_func=_act_view(_action),
        methods=["POST"],
    )


def _flat(exc: ValidationFailed) -> str:
    return describe(exc)

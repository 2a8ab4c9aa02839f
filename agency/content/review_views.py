"""Magic-link review pages: /review/<token>, no password (DESIGN.md §6).

The token sets the tenant and stands for one client manager of one client; every action is
the service's, recorded ``via link``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from flask import (
    Blueprint,
    Flask,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _

from agency.content import approval, changes, decisions, discussion, links, media, queries
from agency.content.forms import COMMENT_MAX, STATUS_LABELS, DecisionForm, approve_done
from agency.content.models import Decision
from agency.db import db, utcnow
from agency.errors import IllegalTransition, ValidationFailed, error_messages
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
        html = _page(reviewer, token)
        reviewer.link.last_used_at = utcnow()
        db.session.commit()
    return html


def _page(
    reviewer: links.Reviewer,
    token: str,
    refused: tuple[uuid.UUID, list[str], str | None] | None = None,
) -> str:
    """The page of posts awaiting this reviewer; ``refused``: the post whose comment was
    refused, the reasons (shown next to its comment field) and the text, kept."""
    posts = []
    for post in links.waiting_posts(reviewer):
        shown = queries.present_post(reviewer.access, post)
        # Newest first, only the versions sent to the client: [1] is the one they saw last.
        revisions = changes.with_word_changes(discussion.list_revisions(reviewer.access, post.id))
        shown["changes"] = revisions[0].get("changes")
        shown["comments"] = discussion.list_comments(reviewer.access, post.id)
        if refused is not None and refused[0] == post.id:
            shown["comment_errors"], shown["comment_kept"] = refused[1], refused[2]
        posts.append(shown)
    return render_template(
        "content/review.html",
        reviewer=reviewer,
        posts=posts,
        form=DecisionForm(),
        token=token,
        status_labels=STATUS_LABELS,
        comment_max=COMMENT_MAX,
        lang=_lang(),
        image_url=lambda pid, ref: url_for("review.image", token=token, post_id=pid, ref=ref),
    )


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
            if form.csrf_token.errors:
                flash(_("The form expired; try again."), "danger")
                return redirect(url_for("review.page", token=token, lang=_lang())), 303
            # A field's own problem (a comment too long): said next to it, the text kept.
            reasons = [str(m) for m in form.comment.errors] or [_("Check the comment.")]
            return _page(reviewer, token, (post.id, reasons, form.comment.data)), 422
        done = _("Thank you: your answer is recorded.")
        try:
            if action == "comment":
                discussion.add_comment(
                    reviewer.access, post.id, {"body": form.comment.data, "visibility": "shared"},
                    via="link",
                )  # fmt: skip
            else:
                decided = decisions.decide(
                    reviewer.access, post.id, ACTIONS[action], comment=form.comment.data,
                    revision=form.revision.data, via="link",
                )  # fmt: skip
                if action == "approve" and approval.approval_outcome(decided):
                    done = approve_done(approval.approval_outcome(decided))
        except IllegalTransition as exc:
            flash(exc.message, "danger")
            return redirect(url_for("review.page", token=token, lang=_lang())), 303
        except ValidationFailed as exc:
            reasons = error_messages(exc.errors)
            return _page(reviewer, token, (post.id, reasons, form.comment.data)), 422
    flash(done, "success")
    return redirect(url_for("review.page", token=token, lang=_lang()))


def _lang() -> str | None:
    """The e-mail's language (``?lang=``), kept on the page's forms and redirects: the
    reviewer, who is not signed in, reads every step in the language the link opened in."""
    from agency.app import SUPPORTED_LOCALES

    lang = request.args.get("lang")
    return lang if lang in SUPPORTED_LOCALES else None


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

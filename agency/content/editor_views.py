"""The post editor under /a/<agency_slug>/posts: new, edit, and the post's images.

Routes of the ``content`` blueprint (``views.bp``), registered by ``views.init_app``.
"""

from __future__ import annotations

import uuid

from flask import abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required

from agency.clients.service import get_client
from agency.content import media, queries, service
from agency.content.forms import PostForm, to_local
from agency.content.views import bp, usable_channels
from agency.errors import ValidationFailed, error_messages
from tenants.permissions import Permission


def _editor(client, post: dict | None):  # noqa: ANN001, ANN202
    form = PostForm()
    channels = usable_channels(client.id)
    form.channel_ids.choices = [(str(c.id), f"{c.name} ({c.network})") for c in channels]
    if request.method == "GET" and post is not None:
        form.body.data = post["body"]
        form.channel_ids.data = [str(t["channel_id"]) for t in post["targets"]]
        form.scheduled_at.data = to_local(post["scheduled_at"], client.timezone)
        form.media.data = "\n".join(post["media"])
    saved_id = _save_from_editor(form, client, post) if form.is_submitted() else None
    if saved_id is not None:
        flash(_("Post saved."), "success")
        return redirect(url_for("content.detail", post_id=saved_id))
    variants = dict(post["variants"]) if post and request.method == "GET" else {
        k.removeprefix("variant-"): v for k, v in request.form.items() if k.startswith("variant-")
    }  # fmt: skip
    status = 422 if form.errors else 200
    return render_template(
        "content/editor.html", form=form, client=client, post=post, channels=channels,
        variants=variants,
    ), status  # fmt: skip


def _save_from_editor(form: PostForm, client, post: dict | None) -> uuid.UUID | None:  # noqa: ANN001
    """Save the submitted editor (the post's id), or leave every field's error on the form at
    once (the form's own checks, the image's and the service's) and write nothing."""
    form.validate()  # CSRF and the fields' shapes; their errors stay on the fields
    if form.csrf_token.errors:
        return None
    values = form.values(request.form, client.timezone)
    upload = form.upload.data.read() if form.upload.data else None
    if upload is not None:
        try:
            media.image_kind(upload)  # checked, not stored: a refused form stores nothing
        except ValidationFailed as exc:
            form.upload.errors = [*form.upload.errors, *error_messages(exc.errors)]
    post_id = post["id"] if post else None
    try:
        if form.errors or upload is not None:  # nothing is stored before all is known good
            service.check_content(g.access, client, values, post_id=post_id)
        if not form.errors:
            if upload is not None:
                values["media"].append(media.save_image(g.access, client, upload))
                form.media.data = "\n".join(values["media"])  # kept if the post is refused
                upload = None
            if post is None:
                saved = service.create_post(g.access, {**values, "client_id": client.id}, via="web")
            else:
                saved = service.update_post(g.access, post_id, values, via="web")
            return saved.id
    except ValidationFailed as exc:
        form.show_errors(exc.errors, keep_own=True)
    if upload is not None:  # a browser cannot put a chosen file back into the form
        form.upload.errors = [
            *form.upload.errors,
            _("Choose the image again: a file cannot be kept when the form is refused."),
        ]
    return None


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create(agency_slug: str):  # noqa: ANN201
    try:
        client_id = uuid.UUID(request.values.get("client_id", ""))
    except ValueError:
        return redirect(url_for("content.index"))  # the list page asks for the client
    client = get_client(g.access, client_id)
    if not g.access.can(Permission.DRAFT_CONTENT, client.id):
        abort(403)
    return _editor(client, None)


@bp.route("/<uuid:post_id>/edit", methods=["GET", "POST"])
@login_required
def edit(agency_slug: str, post_id: uuid.UUID):  # noqa: ANN201
    post = queries.post_view(g.access, post_id)
    if not g.access.can(Permission.DRAFT_CONTENT, post["client_id"]):
        abort(403)
    return _editor(get_client(g.access, post["client_id"]), post)


@bp.get("/<uuid:post_id>/media/<ref>")
@login_required
def image(agency_slug: str, post_id: uuid.UUID, ref: str):  # noqa: ANN201
    path, mimetype = media.image_file(g.access, post_id, ref)
    return send_file(path, mimetype=mimetype, max_age=3600)

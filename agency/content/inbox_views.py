"""The inbox page, /a/<agency_slug>/inbox: items per channel, manual entry, replies."""

from __future__ import annotations

import uuid

from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from agency.channels.models import Channel, ChannelStatus
from agency.content import inbox
from agency.content.forms import submit_done
from agency.content.models import aware
from agency.db import db
from agency.errors import IllegalTransition, ValidationFailed, error_messages
from agency.http_links import is_web_link
from agency.web.context import add_nav_item
from tenants.models import ClientCompany
from tenants.permissions import Permission

bp = Blueprint("inbox", __name__, url_prefix="/a/<agency_slug>/inbox", template_folder="templates")


class ItemForm(FlaskForm):
    channel_id = SelectField(_l("Channel"), choices=[])
    author = StringField(_l("From"), validators=[Length(max=300)])
    body = TextAreaField(_l("Message"), validators=[Length(max=10_000)])
    url = StringField(_l("Link"), validators=[Optional(), Length(max=2000)])


class ReplyForm(FlaskForm):
    body = TextAreaField(_l("Reply"), validators=[Length(max=10_000)])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.tests["web_link"] = is_web_link  # an item's stored link: a link only if safe
    add_nav_item(app, "inbox.index", _l("Inbox"), Permission.DRAFT_CONTENT)


def _channels() -> list[Channel]:
    from agency.content.access import scope

    agency_ids, _client_ids = scope(g.access)
    stmt = select(Channel).where(Channel.status != ChannelStatus.DISABLED.value)
    if agency_ids is not None:
        stmt = stmt.where(Channel.client_id.in_(agency_ids))
    return list(db.session.scalars(stmt.order_by(Channel.name, Channel.id)))


def _item_form(channels: list[Channel], **kwargs) -> ItemForm:  # noqa: ANN003
    form = ItemForm(**kwargs)
    form.channel_id.choices = [(str(c.id), f"{c.name} ({c.network})") for c in channels]
    return form


@bp.route("/", methods=["GET", "POST"])
@login_required
def index(agency_slug: str):  # noqa: ANN201
    channels = _channels()
    form = _item_form(channels)
    if form.validate_on_submit():
        try:
            inbox.create_item(
                g.access,
                {k: form.data[k] for k in ("channel_id", "author", "body", "url")},
                via="web",
            )
        except ValidationFailed as exc:
            for name, messages in exc.errors.items():
                field = form._fields.get(name, form.body)
                field.errors = [*field.errors, *messages]
        else:
            flash(_("Added to the inbox."), "success")
            return redirect(url_for("inbox.index"))
    return _page(form, channels)


def _page_args() -> dict[str, str]:
    """Which page of the inbox this request is about (its cursor and filter): the reply forms
    carry them, so a refused reply comes back on the page it was typed on."""
    return {k: request.args[k] for k in ("cursor", "status") if request.args.get(k)}


def _page(form: ItemForm, channels: list[Channel], reply: dict | None = None):  # noqa: ANN202
    """The inbox page; ``reply`` is a refused reply (item id, text, errors) to show again."""
    page_args = _page_args()
    items, next_cursor = inbox.list_items(
        g.access, status=page_args.get("status"), cursor=page_args.get("cursor")
    )
    if reply and all(i["id"] != reply["item_id"] for i in items):
        for message in reply["errors"]:  # the item is on a later page: say it here at least
            flash(message, "danger")
    names = {c.id: c.name for c in channels}
    return render_template(
        "content/inbox.html", items=items, next_cursor=next_cursor, form=form,
        reply_form=ReplyForm(), channel_names=names, refused_reply=reply, page_args=page_args,
    ), 422 if form.errors or reply else 200  # fmt: skip


@bp.post("/<uuid:item_id>/reply")
@login_required
def reply(agency_slug: str, item_id: uuid.UUID):  # noqa: ANN201
    form = ReplyForm()
    back = url_for("inbox.index", **_page_args(), _anchor=f"item-{item_id}")
    if not form.validate_on_submit():
        flash(_("The form expired; try again."), "danger")
        return redirect(back), 303
    try:
        post = inbox.reply(g.access, item_id, {"body": form.body.data or ""}, via="web")
    except IllegalTransition as exc:
        flash(exc.message, "danger")
        return redirect(back), 303
    except ValidationFailed as exc:
        # Shown under the item's reply box, with the text as typed (the limits name the channel),
        # on the page the reply was typed on (its form posts the page's cursor and filter).
        refused = {
            "item_id": item_id, "body": form.body.data or "", "errors": error_messages(exc.errors),
        }  # fmt: skip
        channels = _channels()
        return _page(_item_form(channels, formdata=None), channels, refused)
    # What the reply policy did with it: in review, to the client, or approved and on its way.
    zone = db.session.scalar(
        select(ClientCompany.timezone).where(ClientCompany.id == post.client_id)
    )
    flash(
        _("Reply drafted.") + " " + submit_done(post.status, aware(post.scheduled_at), zone),
        "success",
    )
    return redirect(url_for("content.detail", post_id=post.id))

"""marshmallow schemas of the posts and inbox API (field names fixed by DESIGN.md §10)."""

from __future__ import annotations

import uuid

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from agency.content.editing import MAX_BODY, MAX_MEDIA
from agency.content.models import InboxStatus, PostKind, PostStatus, Visibility
from agency.pagination import Cursor
from tenants.fields import moment_field


def _body(**kwargs: object) -> fields.String:
    return fields.String(validate=validate.Length(max=MAX_BODY), **kwargs)


def _when(**kwargs: object) -> fields.AwareDateTime:
    return moment_field(**kwargs)


CURSOR_KINDS = (str, uuid.UUID)  # (a time, an id): a list's sort key


class _Content(Schema):
    body = _body()
    channel_ids = fields.List(fields.UUID(), validate=validate.Length(min=1, max=50))
    variants = fields.Dict(
        keys=fields.String(validate=validate.Length(max=40)),
        values=_body(),
        metadata={"description": "Text per channel id, replacing `body` on that channel."},
    )
    media = fields.List(
        fields.String(validate=validate.Length(min=1, max=500)),
        validate=validate.Length(max=MAX_MEDIA),
        metadata={"description": "Image references from `POST /clients/{id}/media`, in order."},
    )
    scheduled_at = _when(allow_none=True)


class PostCreateIn(_Content):
    client_id = fields.UUID(required=True)
    body = _body(required=True)
    channel_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=50))


class PostPatchIn(_Content):
    """A content change: a new revision; after approval the post goes back for approval."""


class DecisionIn(Schema):
    comment = fields.String(validate=validate.Length(max=10_000), allow_none=True)
    revision = fields.Integer(
        strict=True,
        validate=validate.Range(min=1),
        metadata={"description": "The revision you reviewed; 409 if the post changed since."},
    )


class ArchiveIn(Schema):
    comment = fields.String(validate=validate.Length(max=10_000), allow_none=True)


class CharactersOut(Schema):
    used = fields.Integer()
    limit = fields.Integer()


class TargetOut(Schema):
    channel_id = fields.UUID()
    channel_name = fields.String()
    network = fields.String()
    status = fields.String()
    external_id = fields.String(allow_none=True)
    external_url = fields.String(allow_none=True)
    last_error = fields.String(allow_none=True)
    characters = fields.Nested(CharactersOut)


class PostOut(Schema):
    id = fields.UUID()
    client_id = fields.UUID()
    kind = fields.String(validate=validate.OneOf(list(PostKind)))
    status = fields.String(validate=validate.OneOf(list(PostStatus)))
    body = fields.String()
    variants = fields.Dict(keys=fields.String(), values=fields.String())
    media = fields.List(fields.String())
    scheduled_at = fields.DateTime(allow_none=True)
    revision = fields.Integer()
    content_hash = fields.String()
    approved_revision = fields.Integer(allow_none=True)
    approval_deadline = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    targets = fields.List(fields.Nested(TargetOut))


class PostListArgs(Schema):
    client_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(list(PostStatus)))
    kind = fields.String(validate=validate.OneOf(list(PostKind)))
    cursor = Cursor(CURSOR_KINDS)
    limit = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))


class PostListOut(Schema):
    items = fields.List(fields.Nested(PostOut))
    next_cursor = fields.String(allow_none=True)


class RevisionOut(Schema):
    number = fields.Integer()
    body = fields.String()
    variants = fields.Dict(keys=fields.String(), values=fields.String())
    media = fields.List(fields.String())
    channel_ids = fields.List(fields.String())
    scheduled_at = fields.DateTime(allow_none=True)
    author_id = fields.UUID(allow_none=True)
    content_hash = fields.String()
    created_at = fields.DateTime()
    diff = fields.String(
        metadata={"description": "Unified diff of `body` against the revision before."}
    )


class RevisionListOut(Schema):
    items = fields.List(fields.Nested(RevisionOut))


class ActivityOut(Schema):
    action = fields.String()
    actor_id = fields.UUID(allow_none=True)
    actor_name = fields.String(allow_none=True)
    via = fields.String()
    created_at = fields.DateTime()
    data = fields.Dict()


class ActivityListOut(Schema):
    items = fields.List(fields.Nested(ActivityOut))


class CommentIn(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=10_000))
    visibility = fields.String(validate=validate.OneOf(list(Visibility)))
    mentions = fields.List(fields.UUID(), validate=validate.Length(max=20))


class CommentOut(Schema):
    id = fields.UUID()
    body = fields.String()
    visibility = fields.String()
    author_id = fields.UUID(allow_none=True)
    author_name = fields.String(allow_none=True)
    mentions = fields.List(fields.String())
    revision = fields.Integer()
    created_at = fields.DateTime()


class CommentListOut(Schema):
    items = fields.List(fields.Nested(CommentOut))


class InboxItemIn(Schema):
    channel_id = fields.UUID(required=True)
    external_id = fields.String(validate=validate.Length(min=1, max=300))
    author = fields.String(required=True, validate=validate.Length(min=1, max=300))
    body = fields.String(required=True, validate=validate.Length(min=1, max=MAX_BODY))
    # Only web links: the inbox renders it as one (no javascript: or data: URLs).
    url = fields.String(
        validate=[validate.Length(max=2000), validate.Regexp(r"^https?://[^\s]+$")],
        allow_none=True,
    )
    received_at = _when()


class InboxItemOut(Schema):
    id = fields.UUID()
    client_id = fields.UUID()
    channel_id = fields.UUID()
    external_id = fields.String()
    author = fields.String()
    body = fields.String()
    url = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf(list(InboxStatus)))
    received_at = fields.DateTime()
    reply_post_id = fields.UUID(allow_none=True)
    replied_at = fields.DateTime(allow_none=True)
    response_seconds = fields.Integer(allow_none=True)


class InboxListArgs(Schema):
    client_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(list(InboxStatus)))
    cursor = Cursor(CURSOR_KINDS)
    limit = fields.Integer(load_default=25, validate=validate.Range(min=1, max=100))


class InboxListOut(Schema):
    items = fields.List(fields.Nested(InboxItemOut))
    next_cursor = fields.String(allow_none=True)


class ReplyIn(Schema):
    body = _body(required=True)
    scheduled_at = _when(allow_none=True)


class MediaIn(Schema):
    # Checked by the view after the client lookup (another agency's client is a 404 first).
    file = Upload(metadata={"description": "JPEG, PNG, GIF or WebP, at most 8 MB (required)"})


class MediaOut(Schema):
    ref = fields.String(metadata={"description": "Put it in a post's `media`."})

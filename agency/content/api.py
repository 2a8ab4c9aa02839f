"""Posts and inbox API (DESIGN.md §9): thin resources that parse, call a service, return."""

from __future__ import annotations

import uuid

from flask import g
from flask.views import MethodView
from flask_smorest import Api, Blueprint
from marshmallow import RAISE

from agency.clients.service import get_client
from agency.content import decisions, discussion, inbox, media, queries, service
from agency.content.models import Decision
from agency.content.post_json import list_posts_json
from agency.content.schemas import (
    ActivityListOut,
    ArchiveIn,
    CommentIn,
    CommentListOut,
    CommentOut,
    DecisionIn,
    InboxItemIn,
    InboxItemOut,
    InboxListArgs,
    InboxListOut,
    MediaIn,
    MediaOut,
    PostCreateIn,
    PostListArgs,
    PostListOut,
    PostOut,
    PostPatchIn,
    ReplyIn,
    RevisionListOut,
)
from agency.extensions import csrf
from agency.web.json_out import json_response

blp = Blueprint("api-content", __name__, url_prefix="/api/v1", description="Posts and inbox")

CONFLICT = "Illegal state transition: nothing was changed."
INVALID = "Field errors in `errors.json`; nothing was changed."


@blp.route("/posts")
class Posts(MethodView):
    @blp.arguments(PostListArgs, location="query", unknown=RAISE)
    @blp.response(200, PostListOut)
    def get(self, args: dict):
        """Visible posts, newest first; pass `next_cursor` back as `cursor` for the next page."""
        items, next_cursor = list_posts_json(g.access, **args)
        return json_response({"items": items, "next_cursor": next_cursor})

    @blp.arguments(PostCreateIn)
    @blp.response(201, PostOut)
    @blp.alt_response(404, description="No such client (or another agency's).")
    @blp.alt_response(422, description=INVALID)
    def post(self, data: dict):
        """Draft a post for a client's channels (owner, manager, assigned staff)."""
        post = service.create_post(g.access, data, via="api")
        return queries.present_post(g.access, post)


@blp.route("/posts/<uuid:post_id>")
class PostResource(MethodView):
    @blp.response(200, PostOut)
    def get(self, post_id: uuid.UUID):
        """One post, at the revision this user may see."""
        return queries.post_view(g.access, post_id)

    @blp.arguments(PostPatchIn)
    @blp.response(200, PostOut)
    @blp.alt_response(409, description=CONFLICT)
    @blp.alt_response(422, description=INVALID)
    def patch(self, data: dict, post_id: uuid.UUID):
        """Change the content: a new revision; an approved post goes back for approval."""
        post = service.update_post(g.access, post_id, data, via="api")
        return queries.present_post(g.access, post)


def _transition(name: str, doc: str, call):  # noqa: ANN001, ANN202
    schema = ArchiveIn if name == "archive" else DecisionIn

    class Transition(MethodView):
        @blp.arguments(schema)
        @blp.response(200, PostOut)
        @blp.alt_response(409, description=CONFLICT)
        @blp.alt_response(422, description=INVALID)
        def post(self, data: dict, post_id: uuid.UUID):
            post = call(g.access, post_id, data)
            return queries.present_post(g.access, post)

    Transition.post.__doc__ = doc
    Transition.__name__ = Transition.__qualname__ = f"Post{name.title().replace('-', '')}"
    blp.route(f"/posts/<uuid:post_id>/{name}")(Transition)


def _decide(decision: Decision):  # noqa: ANN202
    def call(access, post_id, data):  # noqa: ANN001, ANN202
        return decisions.decide(access, post_id, decision, via="api", **data)

    return call


_transition(
    "submit",
    "Send a draft on under the client's approval policy (the networks' limits are checked: 422 "
    "names the channel). `status` says where it went: `in_review`, `awaiting_client`, or, when "
    "the policy asks for no approval, `approved` (no publishing time yet, or held: its time has "
    "passed) or `scheduled`.",
    lambda access, post_id, data: service.submit(access, post_id, via="api"),
)
_transition("approve", "Approve the current revision at its step.", _decide(Decision.APPROVE))
_transition(
    "request-changes",
    "Send the post back with a `comment` saying what to change.",
    _decide(Decision.REQUEST_CHANGES),
)
_transition("reject", "Reject the post, with a `comment`.", _decide(Decision.REJECT))
_transition(
    "archive",
    "Archive the post.",
    lambda access, post_id, data: service.archive(access, post_id, via="api", **data),
)


@blp.route("/posts/<uuid:post_id>/revisions")
class PostRevisions(MethodView):
    @blp.response(200, RevisionListOut)
    def get(self, post_id: uuid.UUID):
        """Revisions newest first, each with a diff against the one before."""
        return {"items": discussion.list_revisions(g.access, post_id)}


@blp.route("/posts/<uuid:post_id>/activity")
class PostActivity(MethodView):
    @blp.response(200, ActivityListOut)
    def get(self, post_id: uuid.UUID):
        """What happened to the post, oldest first (who, when, which revision, how)."""
        return {"items": discussion.activity(g.access, post_id)}


@blp.route("/posts/<uuid:post_id>/comments")
class PostComments(MethodView):
    @blp.response(200, CommentListOut)
    def get(self, post_id: uuid.UUID):
        """Comments, oldest first (client users: shared ones only)."""
        return {"items": discussion.list_comments(g.access, post_id)}

    @blp.arguments(CommentIn)
    @blp.response(201, CommentOut)
    @blp.alt_response(422, description=INVALID)
    def post(self, data: dict, post_id: uuid.UUID):
        """Comment: `internal` (agency only) or `shared` (the client sees it)."""
        return discussion.add_comment(g.access, post_id, data, via="api")


@blp.route("/inbox")
class Inbox(MethodView):
    @blp.arguments(InboxListArgs, location="query", unknown=RAISE)
    @blp.response(200, InboxListOut)
    def get(self, args: dict):
        """Inbound comments, mentions and messages, newest first (agency members)."""
        items, next_cursor = inbox.list_items(g.access, **args)
        return {"items": items, "next_cursor": next_cursor}

    @blp.arguments(InboxItemIn)
    @blp.response(201, InboxItemOut)
    @blp.alt_response(404, description="No such channel (or not one of yours).")
    @blp.alt_response(422, description=INVALID)
    def post(self, data: dict):
        """Enter an item by hand (forums, networks without an API)."""
        return inbox.create_item(g.access, data, via="api")


@blp.route("/inbox/<uuid:item_id>/reply")
class InboxReply(MethodView):
    @blp.arguments(ReplyIn)
    @blp.response(201, PostOut)
    @blp.alt_response(409, description=CONFLICT)
    @blp.alt_response(422, description=INVALID)
    def post(self, data: dict, item_id: uuid.UUID):
        """Reply: a `reply` post on the item's channel, submitted under the reply policy."""
        post = inbox.reply(g.access, item_id, data, via="api")
        return queries.present_post(g.access, post)


@blp.route("/clients/<uuid:client_id>/media")
class ClientMedia(MethodView):
    @blp.arguments(MediaIn, location="files")
    @blp.response(201, MediaOut)
    @blp.alt_response(422, description=INVALID)
    def post(self, files: dict, client_id: uuid.UUID):
        """Upload an image for this client's posts (multipart field `file`)."""
        client = get_client(g.access, client_id)
        upload = files.get("file")
        content = upload.read(media.MAX_BYTES + 1) if upload is not None else b""
        return {"ref": media.save_image(g.access, client, content)}


def register(api: Api) -> None:
    csrf.exempt(blp)
    api.register_blueprint(blp)

"""Publishing actions on a post's targets (DESIGN.md §9): retry a failed channel, record a
publication by hand. Thin resources: the services decide permissions and states."""

from __future__ import annotations

import uuid

from flask import g
from flask.views import MethodView
from flask_smorest import Api, Blueprint

from agency.channels import manual
from agency.content import queries
from agency.content.schemas import PostOut
from agency.extensions import csrf
from agency.publishing import service
from agency.publishing.schemas import ManualPublicationIn

blp = Blueprint(
    "api-publishing", __name__, url_prefix="/api/v1", description="Publishing a post's channels"
)

NO_TARGET = "No such post or channel, or the post does not target that channel."


@blp.route("/posts/<uuid:post_id>/targets/<uuid:channel_id>/retry")
class PostTargetRetry(MethodView):
    @blp.response(200, PostOut)
    @blp.alt_response(403, description="Only owners and managers retry publishing.")
    @blp.alt_response(404, description=NO_TARGET)
    @blp.alt_response(
        409,
        description="The target has not failed, the post's text changed since its approval, "
        "or the channel needs reconnecting or is disabled (the message says which).",
    )
    def post(self, post_id: uuid.UUID, channel_id: uuid.UUID):
        """Retry a failed channel of the post (owners, managers).

        The target is scheduled again (same approved text, attempts reset) and goes out within
        seconds; the post's other targets are left as they are.
        """
        post = service.retry_channel(g.access, post_id, channel_id, via="api")
        return queries.present_post(g.access, post)


@blp.route("/posts/<uuid:post_id>/targets/<uuid:channel_id>/published")
class PostTargetPublished(MethodView):
    @blp.arguments(ManualPublicationIn)
    @blp.response(200, PostOut)
    @blp.alt_response(403, description="Only owners, managers and the client's staff record it.")
    @blp.alt_response(404, description=NO_TARGET)
    @blp.alt_response(
        409,
        description="The channel is not a manual one, or the post is not approved for publishing.",
    )
    @blp.alt_response(422, description="`url` missing or not a web link; nothing was changed.")
    def post(self, data: dict, post_id: uuid.UUID, channel_id: uuid.UUID):
        """Record a manual channel's publication by hand, at `url` (owners, managers, staff).

        Once no channel of the post is left to go out, the post ends `published` (or
        `partially_published` when another channel failed). Sent again, it corrects the link.
        """
        post = manual.mark_target_published(g.access, post_id, channel_id, data["url"], via="api")
        return queries.present_post(g.access, post)


def register(api: Api) -> None:
    csrf.exempt(blp)
    api.register_blueprint(blp)

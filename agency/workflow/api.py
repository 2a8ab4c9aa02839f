"""Approval-policy API: ``GET, PUT /api/v1/clients/{id}/approval-policy``."""

from __future__ import annotations

import uuid

from flask import g
from flask.views import MethodView
from flask_smorest import Api, Blueprint, abort

from agency.clients.service import get_client, get_manageable_client
from agency.extensions import csrf
from agency.workflow import service
from agency.workflow.schemas import PolicyIn, PolicyOut

blp = Blueprint(
    "api-workflow", __name__, url_prefix="/api/v1", description="Approval policies of clients"
)


@blp.route("/clients/<uuid:client_id>/approval-policy")
class ApprovalPolicyResource(MethodView):
    @blp.response(200, PolicyOut)
    def get(self, client_id: uuid.UUID):
        """The client's approval policy (404 until one is saved)."""
        client = get_client(g.access, client_id)
        policy = service.find_policy(client)
        if policy is None:
            abort(404, message="No approval policy saved for this client yet.")
        return policy

    @blp.arguments(PolicyIn)
    @blp.response(200, PolicyOut)
    @blp.alt_response(422, description="Field errors in `errors.json`.")
    def put(self, data: dict, client_id: uuid.UUID):
        """Replace the client's approval policy.

        The whole policy: `internal_review`, `client_approval`, `reply_policy`,
        `lead_time_hours` and `late_rule` are required (an empty body is a 422, never a silent
        reset); `approver_ids` and `reminder_hours` default to empty lists (all of the client's
        managers approve; no reminders)."""
        client = get_manageable_client(g.access, client_id)
        return service.save_policy(g.access, client, data, via="api")


def register(api: Api) -> None:
    csrf.exempt(blp)
    api.register_blueprint(blp)

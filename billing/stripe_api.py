"""``GET, PUT /api/v1/stripe-connection``: the agency's Stripe key and webhook secret (owner
and finance). Secrets go in, never out: the answer says only whether Stripe is connected."""

from __future__ import annotations

from flask import g, url_for
from flask.views import MethodView
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields, validate

from billing import stripe_sync
from tenants.permissions import Permission
from tenants.web import require

blp = Blueprint(
    "billing-stripe-api", __name__, url_prefix="/api/v1", description="Stripe collection"
)


class StripeConnectionIn(Schema):
    api_key = fields.String(
        required=True,
        allow_none=True,
        load_only=True,
        validate=validate.Regexp(r"^((rk|sk)_(test|live)_[A-Za-z0-9]{10,200})?$"),
        metadata={"description": "A restricted key (rk_live_…); null or blank disconnects."},
    )
    webhook_secret = fields.String(
        required=True,
        allow_none=True,
        load_only=True,
        validate=validate.Regexp(r"^(whsec_[A-Za-z0-9+/=]{10,200})?$"),
        metadata={
            "description": "The signing secret (whsec_…) of the webhook endpoint; given "
            "together with the key (both blank: disconnect)."
        },
    )


class StripeConnectionOut(Schema):
    connected = fields.Boolean()
    livemode = fields.Boolean(allow_none=True)
    webhook_url = fields.String(
        metadata={"description": "Add this endpoint in the Stripe dashboard."}
    )


def connection_out(agency) -> dict:  # noqa: ANN001
    connection = stripe_sync.connection_for(agency)
    return {
        "connected": connection is not None,
        "livemode": connection.livemode if connection else None,
        "webhook_url": url_for("stripe_webhooks.receive", agency=str(agency.id), _external=True),
    }


@blp.route("/stripe-connection")
class StripeConnection(MethodView):
    @blp.response(200, StripeConnectionOut)
    def get(self):
        """Whether the agency collects through Stripe, and its webhook endpoint."""
        access = require(Permission.BILLING)
        return connection_out(access.agency)

    @blp.arguments(StripeConnectionIn)
    @blp.response(200, StripeConnectionOut)
    @blp.alt_response(422, description="Field errors in `errors`.")
    def put(self, data: dict):
        """Connect (or, with both values blank, disconnect) the agency's Stripe account."""
        require(Permission.BILLING)
        agency = stripe_sync.connect(
            g.access, data.get("api_key"), data.get("webhook_secret"), via="api"
        )
        return connection_out(agency)


def register(api: Api) -> None:
    from agency.extensions import csrf

    csrf.exempt(blp)
    api.register_blueprint(blp)

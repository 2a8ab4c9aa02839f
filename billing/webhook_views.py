"""``POST /webhooks/stripe``: Stripe's signed events (the only CSRF-exempt form of POST
outside the bearer-token API: the signature is the proof of origin)."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, request

from agency.extensions import csrf
from billing import webhooks

bp = Blueprint("stripe_webhooks", __name__, url_prefix="/webhooks")
MAX_PAYLOAD_BYTES = 512 * 1024


@bp.post("/stripe")
def receive():  # noqa: ANN201
    payload = request.get_data(cache=False)[: MAX_PAYLOAD_BYTES + 1]
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise webhooks.WebhookRejected("The payload is too large.")
    outcome = webhooks.receive(
        request.args.get("agency"), payload, request.headers.get("Stripe-Signature")
    )
    return jsonify(received=True, outcome=outcome)


def init_app(app: Flask) -> None:
    csrf.exempt(bp)
    app.register_blueprint(bp)

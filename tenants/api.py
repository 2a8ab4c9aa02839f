"""Accounts API: sign-up, tokens, me (DESIGN.md §9)."""

from __future__ import annotations

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Api, Blueprint, abort

from agency.errors import ValidationFailed
from agency.extensions import csrf, limiter
from tenants import service, throttle
from tenants.schemas import MeOut, SignupIn, SignupOut, TokenIn, TokenOut
from tenants.web import public_endpoint

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Sign-up, tokens, me")


def _failed(response) -> bool:  # noqa: ANN001
    return response.status_code == 401


@blp.route("/signup")
@public_endpoint
class Signup(MethodView):
    decorators = [
        limiter.limit(
            throttle.setting("signup_rate_limit"),
            key_func=throttle.client_address,
            deduct_when=lambda response: response.status_code < 400,
        )
    ]

    @blp.arguments(SignupIn)
    @blp.response(201, SignupOut)
    @blp.alt_response(422, description="Field errors in `errors`.")
    def post(self, data: dict):
        """Create an agency and its owner; returns a first API token."""
        if not current_app.config["REGIA"].signup_enabled:
            abort(404, message="Sign-up is disabled on this installation.")
        try:
            agency, user, token = service.signup(**data)
        except ValidationFailed as exc:
            abort(422, message=exc.message, errors={"json": exc.errors})
        from agency.accounts.service import send_verification

        send_verification(user)
        return {"agency": agency, "user": user, "token": token}


@blp.route("/tokens")
@public_endpoint
class Tokens(MethodView):
    # Same keys as the sign-in page: (account, address), and the slower per-account limit.
    decorators = [
        limiter.limit(
            throttle.setting("login_rate_limit"),
            key_func=throttle.account_and_address,
            deduct_when=_failed,
        ),
        limiter.limit(
            throttle.setting("login_account_rate_limit"),
            key_func=throttle.submitted_email,
            deduct_when=_failed,
        ),
    ]

    @blp.arguments(TokenIn)
    @blp.response(201, TokenOut)
    @blp.alt_response(401, description="Wrong credentials, or no membership in that agency.")
    def post(self, data: dict):
        """Exchange e-mail, password and agency slug for a personal API token."""
        user = service.authenticate(data["email"], data["password"])
        agency = service.find_agency_by_slug(data["agency"]) if user else None
        if user is None or agency is None or service.load_access(user, agency) is None:
            abort(401, message="Wrong e-mail, password or agency.")
        problem = service.token_expiry_problem(data["expires_at"])
        if problem:
            abort(422, message=problem, errors={"json": {"expires_at": [problem]}})
        token = service.issue_token(user, agency, name=data["name"], expires_at=data["expires_at"])
        from agency.db import db

        db.session.commit()
        return {"token": token, "expires_at": data["expires_at"]}


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeOut)
    def get(self):
        """The token's user, agency and roles."""
        access = g.access
        return {
            "user": access.user,
            "agency": access.agency,
            "roles": sorted(role.value for role in access.roles),
            "client_roles": [
                {"client_id": cid, "role": role.value} for cid, role in access.client_roles.items()
            ],
        }


def register(api: Api) -> None:
    csrf.exempt(blp)
    api.register_blueprint(blp)

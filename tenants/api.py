"""Accounts API: sign-up, tokens, me (DESIGN.md §9)."""

from __future__ import annotations

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Api, Blueprint, abort

from agency.errors import ValidationFailed
from agency.extensions import csrf, limiter
from tenants import service
from tenants.schemas import MeOut, SignupIn, SignupOut, TokenIn, TokenOut
from tenants.web import public_endpoint

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Sign-up, tokens, me")


def _login_limit() -> str:
    return current_app.config["REGIA"].login_rate_limit


@blp.route("/signup")
@public_endpoint
class Signup(MethodView):
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
        return {"agency": agency, "user": user, "token": token}


@blp.route("/tokens")
@public_endpoint
class Tokens(MethodView):
    decorators = [
        limiter.limit(_login_limit, deduct_when=lambda response: response.status_code == 401)
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
        token = service.issue_token(user, agency, name=data["name"])
        from agency.db import db

        db.session.commit()
        return {"token": token}


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

"""Team API: invitations (create, list, resend, revoke, accept), members, agency settings."""

from __future__ import annotations

import uuid

from flask import g, request
from flask.views import MethodView
from flask_smorest import Api, Blueprint, abort

from agency.errors import NotFound
from agency.extensions import limiter
from agency.team import acceptance, agency_settings, invitations, service
from agency.team.schemas import (
    AcceptIn,
    AcceptOut,
    AgencySettingsSchema,
    InvitationIn,
    InvitationListOut,
    InvitationOut,
    InvitationSentOut,
    MemberListOut,
    MemberOut,
    MemberPatchIn,
)
from tenants import service as accounts
from tenants import throttle
from tenants.web import public_endpoint

blp = Blueprint("team-api", __name__, url_prefix="/api/v1", description="Members and invitations")


def _invitation_out(invitation, token: str | None = None) -> dict:  # noqa: ANN001
    out = {
        "id": invitation.id,
        "email": invitation.email,
        "role": invitation.role,
        "client_id": invitation.client_id,
        "assigned_client_ids": invitation.assigned_client_ids,
        "expires_at": invitation.expires_at,
        "send_count": invitation.send_count,
        "status": invitations.status_of(invitation),
    }
    if token is not None:
        out.update(token=token, accept_url=invitations.accept_url(token))
    return out


@blp.route("/invitations")
class Invitations(MethodView):
    @blp.response(200, InvitationListOut)
    def get(self):
        """Pending (not accepted, not revoked) invitations of the agency."""
        items = invitations.pending_invitations(g.access)
        return {"items": [_invitation_out(i) for i in items], "next_cursor": None}

    @blp.arguments(InvitationIn)
    @blp.response(201, InvitationSentOut)
    @blp.alt_response(403, description="Your role may not grant that role.")
    @blp.alt_response(422, description="Field errors in `errors`.")
    def post(self, data: dict):
        """Invite someone by e-mail; the link is e-mailed and returned once."""
        invitation, token = invitations.create_invitation(
            g.access,
            data["email"],
            data["role"],
            client_id=data["client_id"],
            assigned_client_ids=data["assigned_client_ids"],
            via="api",
        )
        return _invitation_out(invitation, token)


@blp.route("/invitations/<uuid:invitation_id>/resend")
class InvitationResend(MethodView):
    @blp.response(200, InvitationSentOut)
    def post(self, invitation_id: uuid.UUID):
        """A fresh link (the old one stops working), e-mailed again."""
        invitation, token = invitations.resend_invitation(g.access, invitation_id, via="api")
        return _invitation_out(invitation, token)


@blp.route("/invitations/<uuid:invitation_id>/revoke")
class InvitationRevoke(MethodView):
    @blp.response(200, InvitationOut)
    def post(self, invitation_id: uuid.UUID):
        """Withdraw a pending invitation."""
        invitations.revoke_invitation(g.access, invitation_id, via="api")
        return _invitation_out(invitations.get_invitation(g.access, invitation_id))


def _accept_token_key() -> str:
    body = request.get_json(silent=True)
    token = body.get("token") if isinstance(body, dict) else None
    return "token:" + invitations.hash_token(token if isinstance(token, str) else "")


def _bearer_user():  # noqa: ANN202
    """The user of the request's own bearer token, None without one; 401 for a bad one."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    token = accounts.resolve_token(value.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        abort(401, message="The token is invalid, revoked or expired.")
    return token.user


@blp.route("/invitations/accept")
@public_endpoint
class InvitationAccept(MethodView):
    decorators = [
        limiter.limit(throttle.setting("accept_rate_limit"), key_func=throttle.client_address),
        limiter.limit(throttle.setting("accept_rate_limit"), key_func=_accept_token_key),
    ]

    @blp.arguments(AcceptIn)
    @blp.response(201, AcceptOut)
    @blp.alt_response(401, description="The address has an account: send its bearer token.")
    @blp.alt_response(403, description="The bearer token's account is not the invitee.")
    @blp.alt_response(410, description="Unknown, expired, used or revoked invitation.")
    @blp.alt_response(422, description="Field errors in `errors`.")
    @blp.alt_response(429, description="Too many attempts from this address or for this link.")
    def post(self, data: dict):
        """Accept an invitation: a new account sets name and password; an existing account
        sends its own `Authorization: Bearer` token (never a password)."""
        user, agency, _membership = acceptance.accept_invitation(
            data["token"], data["name"], data["password"], signed_in=_bearer_user(), via="api"
        )
        token = accounts.issue_token(user, agency, name="invitation")
        from agency.db import db

        db.session.commit()
        return {"user": user, "token": token}


def _member_out(row: service.MemberRow) -> dict:
    m = row.membership
    return {
        "id": m.id,
        "user": row.user,
        "role": m.role,
        "client_id": m.client_id,
        "active": m.active,
        "assigned_client_ids": [c.id for c in row.assigned],
    }


@blp.route("/members")
class Members(MethodView):
    @blp.response(200, MemberListOut)
    def get(self):
        """Every membership of the agency (agency team and client users)."""
        return {
            "items": [_member_out(r) for r in service.list_members(g.access)],
            "next_cursor": None,
        }


@blp.route("/members/<uuid:membership_id>")
class Member(MethodView):
    @blp.arguments(MemberPatchIn)
    @blp.response(200, MemberOut)
    @blp.alt_response(409, description="The agency would lose its last owner.")
    def patch(self, data: dict, membership_id: uuid.UUID):
        """Change role, assigned clients (staff) or active state."""
        service.ensure_manage_members(g.access)
        service.update_member(g.access, membership_id, data, via="api")
        return _one_member(membership_id)


@blp.route("/members/<uuid:membership_id>/transfer-ownership")
class MemberTransfer(MethodView):
    @blp.response(200, MemberOut)
    def post(self, membership_id: uuid.UUID):
        """Make this member the owner; you become a manager."""
        service.transfer_ownership(g.access, membership_id, via="api")
        return _one_member(membership_id)


def _one_member(membership_id: uuid.UUID) -> dict:
    rows = service.list_members(g.access)
    found = [_member_out(r) for r in rows if r.membership.id == membership_id]
    if not found:
        raise NotFound("No such member.")
    return found[0]


@blp.route("/agency")
class AgencySettings(MethodView):
    @blp.response(200, AgencySettingsSchema)
    def get(self):
        """The agency's settings (owners and managers)."""
        agency_settings.ensure_manage_agency(g.access)
        return g.access.agency

    @blp.arguments(AgencySettingsSchema)
    @blp.response(200, AgencySettingsSchema)
    @blp.alt_response(422, description="Field errors in `errors`.")
    def patch(self, data: dict):
        """Change some settings; VAT id and fiscal code are checked for the country."""
        return agency_settings.update_settings(g.access, data, via="api")


def register(api: Api) -> None:
    from agency.extensions import csrf

    csrf.exempt(blp)
    api.register_blueprint(blp)

"""Team pages: members, invitations (list, invite, resend, revoke) and the public accept page."""

from __future__ import annotations

import uuid

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from agency.errors import DomainError, ValidationFailed
from agency.extensions import limiter
from agency.team import acceptance, invitations, service
from agency.team.forms import AcceptExistingForm, AcceptNewForm, InviteForm
from agency.web.context import add_nav_item
from tenants.models import Role
from tenants.permissions import Permission
from tenants.sessions import fresh_session, sign_in
from tenants.throttle import client_address, setting
from tenants.web import require

bp = Blueprint("team", __name__, url_prefix="/a/<agency_slug>", template_folder="templates")
public = Blueprint("invitations", __name__, template_folder="templates")


def init_app(app: Flask) -> None:
    from agency.team import settings_views

    app.register_blueprint(bp)
    app.register_blueprint(public)
    app.register_blueprint(settings_views.bp)
    add_nav_item(app, "team.members", _l("Members"), Permission.MANAGE_MEMBERS)
    add_nav_item(app, "agency_settings.edit", _l("Settings"), Permission.MANAGE_AGENCY)


def _invite_form(access) -> InviteForm:  # noqa: ANN001
    form = InviteForm(prefix="invite")
    clients = service.all_clients(access)
    form.client_id.choices = [("", "—")] + [(str(c.id), c.name) for c in clients]
    form.assigned_client_ids.choices = [(str(c.id), c.name) for c in clients]
    return form


def _render_members(access, form: InviteForm | None = None, status: int = 200):  # noqa: ANN001
    rows = service.list_members(access)
    return (
        render_template(
            "team/members.html",
            rows=rows,
            pending=invitations.pending_invitations(access),
            status_of=invitations.status_of,
            clients=service.all_clients(access),
            form=form or _invite_form(access),
            access=access,
            grantable=[r.value for r in Role if access.may_grant(r)],
        ),
        status,
    )


@bp.get("/members")
@login_required
def members(agency_slug: str):  # noqa: ANN201
    return _render_members(require(Permission.MANAGE_MEMBERS))


@bp.post("/members/invite")
@login_required
def invite(agency_slug: str):  # noqa: ANN201
    access = require(Permission.MANAGE_MEMBERS)
    form = _invite_form(access)
    if not form.validate_on_submit():
        return _render_members(access, form, 422)
    try:
        invitations.create_invitation(
            access,
            form.email.data,
            form.role.data,
            client_id=form.client_id.data or None,
            assigned_client_ids=form.assigned_client_ids.data or [],
        )
    except ValidationFailed as exc:
        for field, messages in exc.errors.items():
            getattr(form, field).errors = list(messages)
        return _render_members(access, form, 422)
    except DomainError as exc:
        if exc.http_status == 404:
            raise
        flash(exc.message, "danger")  # unverified address (403) or too many invitations (429)
        return _render_members(access, form, exc.http_status)
    flash(_("Invitation sent to %(email)s.", email=form.email.data.strip().lower()), "success")
    return redirect(url_for("team.members"))


def _member_action(action, success: str):  # noqa: ANN001, ANN202
    """Run a member/invitation action; a refusal re-renders the page with its message."""
    access = require(Permission.MANAGE_MEMBERS)
    try:
        action(access)
    except ValidationFailed as exc:
        messages = [m for msgs in exc.errors.values() for m in msgs] or [exc.message]
        flash(" ".join(messages), "danger")
        return _render_members(access, status=422)
    except DomainError as exc:
        if exc.http_status == 404:
            raise
        flash(exc.message, "danger")
        return _render_members(access, status=exc.http_status)
    flash(success, "success")
    return redirect(url_for("team.members"))


@bp.post("/members/<uuid:membership_id>/role")
@login_required
def change_role(agency_slug: str, membership_id: uuid.UUID):  # noqa: ANN201
    role = request.form.get("role", "")
    return _member_action(
        lambda access: service.change_role(access, membership_id, role), _("Role changed.")
    )


@bp.post("/members/<uuid:membership_id>/assignments")
@login_required
def assignments(agency_slug: str, membership_id: uuid.UUID):  # noqa: ANN201
    ids = request.form.getlist("client_ids")
    return _member_action(
        lambda access: service.set_assignments(access, membership_id, ids),
        _("Assigned clients saved."),
    )


@bp.post("/members/<uuid:membership_id>/deactivate")
@login_required
def deactivate(agency_slug: str, membership_id: uuid.UUID):  # noqa: ANN201
    return _member_action(
        lambda access: service.set_active(access, membership_id, False),
        _("Member deactivated. Their sessions and API tokens no longer work here."),
    )


@bp.post("/members/<uuid:membership_id>/reactivate")
@login_required
def reactivate(agency_slug: str, membership_id: uuid.UUID):  # noqa: ANN201
    return _member_action(
        lambda access: service.set_active(access, membership_id, True), _("Member reactivated.")
    )


@bp.post("/members/<uuid:membership_id>/transfer-ownership")
@login_required
def transfer(agency_slug: str, membership_id: uuid.UUID):  # noqa: ANN201
    return _member_action(
        lambda access: service.transfer_ownership(access, membership_id),
        _("Ownership transferred. You are now a manager."),
    )


@bp.post("/invitations/<uuid:invitation_id>/resend")
@login_required
def resend(agency_slug: str, invitation_id: uuid.UUID):  # noqa: ANN201
    return _member_action(
        lambda access: invitations.resend_invitation(access, invitation_id),
        _("Invitation sent again with a new link; the old link no longer works."),
    )


@bp.post("/invitations/<uuid:invitation_id>/revoke")
@login_required
def revoke(agency_slug: str, invitation_id: uuid.UUID):  # noqa: ANN201
    return _member_action(
        lambda access: invitations.revoke_invitation(access, invitation_id),
        _("Invitation revoked."),
    )


def _accept_token_key() -> str:
    return "token:" + invitations.hash_token((request.view_args or {}).get("token") or "")


@public.route("/invitations/<token>", methods=["GET", "POST"])
@limiter.limit(setting("accept_rate_limit"), key_func=client_address, methods=["POST"])
@limiter.limit(setting("accept_rate_limit"), key_func=_accept_token_key, methods=["POST"])
def accept(token: str):  # noqa: ANN201
    """New address: set name and password. Existing account: sign in as it, then accept."""
    invitation = acceptance.find_usable(token)  # 410 page when unusable
    existing = acceptance.existing_account(invitation)
    signed_in = current_user._get_current_object() if current_user.is_authenticated else None
    wrong_account = existing is not None and signed_in is not None and signed_in.id != existing.id
    form = AcceptExistingForm() if existing else AcceptNewForm()
    context = {
        "invitation": invitation,
        "existing": existing,
        "form": form,
        "client_name": _client_name(invitation),
        "wrong_account": wrong_account,
        "login_url": url_for("auth.login", next=request.path),
    }
    if existing is not None and (signed_in is None or wrong_account):
        # Nothing to submit here: the account's owner signs in (as that account) first.
        status = 403 if request.method == "POST" else 200
        return render_template("team/accept.html", signed_in=current_user, **context), status
    if form.validate_on_submit():
        try:
            new = existing is None
            user, agency, _membership = acceptance.accept_invitation(
                token,
                form.name.data if new else "",
                form.password.data if new else "",
                signed_in=None if new else signed_in,
            )
        except ValidationFailed as exc:
            for field, messages in exc.errors.items():
                target = getattr(form, field, None) or form.csrf_token
                target.errors = list(messages)
        else:
            if existing is None:
                fresh_session()  # whoever was signed in here, the invitee is now
                sign_in(user)
            flash(_("Welcome to %(agency)s!", agency=agency.name), "success")
            return redirect(url_for("shell.dashboard", agency_slug=agency.slug))
    status = 422 if form.errors else 200
    return render_template("team/accept.html", signed_in=current_user, **context), status


def _client_name(invitation) -> str | None:  # noqa: ANN001
    if invitation.client_id is None:
        return None
    from sqlalchemy import select

    from agency.db import db
    from tenants.context import tenant_context
    from tenants.models import ClientCompany

    with tenant_context(invitation.agency_id):
        return db.session.scalar(
            select(ClientCompany.name).where(ClientCompany.id == invitation.client_id)
        )

"""Who may do what, for every route: an expected-roles table checked through HTTP.

``TABLE`` has one line per ``(endpoint, METHOD)`` of ``app.url_map``: the roles allowed.
Each role in the world (``tests/world.py``) then sends the route's valid request
(``tests/bodies.py``): an allowed role must see the action really happen (a page answers
200; a write changes the database, or the session for sign-in/out), a refused role gets
403/404 (anonymous: the login redirect, or 401 from the API) and the database is unchanged.
A route missing from the table fails ``test_every_route_has_a_line_in_the_roles_table``
with the line to add.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from werkzeug.datastructures import MultiDict

from tests.billing_helpers import use_draft_invoice
from tests.bodies import valid_body
from tests.helpers import bearer
from tests.world import (
    ANONYMOUS,
    ROLES,
    World,
    WriteWatch,
    build_world,
    changed_tables,
    close_admin_connections,
    csrf_token,
    describe,
    reset_world,
    route_methods,
    send,
    sign_in_as,
    snapshot,
    world_url,
)

# Saving a channel would ask its network, which the suite cannot reach.
pytestmark = pytest.mark.usefixtures("networks_not_checked")


EVERYONE = frozenset((*ROLES, ANONYMOUS))
MEMBERS = frozenset(ROLES)
MANAGERS = frozenset({"owner", "manager"})
SEES_ACME = frozenset({"owner", "manager", "staff", "finance", "client_manager", "client_viewer"})
NOBODY: frozenset[str] = frozenset()
SEES_CONTENT = frozenset(
    {"owner", "manager", "staff", "staff_other", "client_manager", "client_viewer"}
)
SEES_ACME_POST = frozenset({"owner", "manager", "staff", "client_manager", "client_viewer"})
DRAFTS_ACME = frozenset({"owner", "manager", "staff"})
COMMENTS_ACME = frozenset({"owner", "manager", "staff", "client_manager"})
AGENCY_DRAFTERS = frozenset({"owner", "manager", "staff", "staff_other"})
BILLERS = frozenset({"owner", "finance"})
READS_ACME_INVOICES = frozenset({"owner", "finance", "client_manager"})
FINANCE = frozenset({"owner", "finance"})  # rate cards, invoices, exports, Stripe (DESIGN §4)


@dataclass(frozen=True)
class Allow:
    """The roles that may use a route, and how to tell that the action happened."""

    roles: frozenset[str]
    #: ``page``: a GET answering ``status``; ``write``: the database changes;
    #: ``session``: sign-in state or language changes (checked by a follow-up request).
    effect: str = "page"
    status: int = 200
    #: What a refused signed-in role gets, when one answer is the only right one.
    refused: frozenset[int] = field(default=frozenset({403, 404}))
    anonymous_refused: int | None = None  # default: login redirect (web) or 401 (API)
    member_status: int | None = None  # a page that signed-in users get with another status
    #: Puts the world in the state the action needs (e.g. a deactivated member to reactivate).
    prepare: Callable[[World], None] | None = None


def page(roles: frozenset[str], status: int = 200, **kw) -> Allow:  # noqa: ANN003
    return Allow(frozenset(roles), "page", status, **kw)


def write(roles: frozenset[str], **kw) -> Allow:  # noqa: ANN003
    return Allow(frozenset(roles), "write", **kw)


# fmt: off
TABLE: dict[tuple[str, str], Allow] = {
    # public
    ("static", "GET"): page(EVERYONE),
    ("bootstrap.static", "GET"): page(EVERYONE),
    ("apidocs.index", "GET"): page(EVERYONE),
    ("apidocs.asset", "GET"): page(EVERYONE),
    ("api-docs.openapi_json", "GET"): page(EVERYONE),
    ("health.healthz", "GET"): page(EVERYONE),
    ("health.readyz", "GET"): page(EVERYONE),
    # Stripe's webhook: no role, the signature is the credential. The sweep's requests carry
    # none, so all are refused (400) and nothing is written; signed deliveries, replays and
    # forgeries are tested in tests/test_billing_webhooks.py.
    ("billing_stripe.stripe", "GET"): page(FINANCE),
    ("billing_stripe.stripe", "POST"): write(FINANCE),
    ("billing-stripe-api.StripeConnection", "GET"): page(FINANCE),
    ("billing-stripe-api.StripeConnection", "PUT"): write(FINANCE),
    ("stripe_webhooks.receive", "POST"): page(
        NOBODY, refused=frozenset({400}), anonymous_refused=400
    ),
    # The demo-only outbox: absent (404) unless REGIA_DEMO is on (tests/test_demo_outbox.py).
    ("mail.outbox", "GET"): page(NOBODY, refused=frozenset({404}), anonymous_refused=404),
    ("mail.message", "GET"): page(NOBODY, refused=frozenset({404}), anonymous_refused=404),
    ("mail.message_html", "GET"): page(NOBODY, refused=frozenset({404}), anonymous_refused=404),
    # signing in and up, the caller's own account
    ("auth.home", "GET"): page(MEMBERS, 302),
    ("auth.login", "GET"): page(EVERYONE, member_status=302),  # signed in: sent home
    ("auth.login", "POST"): Allow(EVERYONE, "session", 302),
    ("auth.logout", "POST"): Allow(MEMBERS, "session", 302),
    ("auth.signup", "GET"): page(EVERYONE),
    ("auth.signup", "POST"): write(EVERYONE),
    ("accounts.Signup", "POST"): write(EVERYONE),
    ("accounts.Tokens", "POST"): write(EVERYONE),
    ("auth.agencies", "GET"): page(MEMBERS),
    ("auth.account", "GET"): page(MEMBERS),
    ("auth.account", "POST"): write(MEMBERS),
    ("auth.tokens", "GET"): page(MEMBERS),
    ("auth.tokens", "POST"): write(MEMBERS),
    ("auth.revoke_token", "POST"): write({"owner"}),  # the token is the owner's own
    ("auth.set_locale", "POST"): Allow(EVERYONE, "session", 302),
    ("accounts.Me", "GET"): page(MEMBERS),
    ("auth.revoke_other_sessions", "POST"): write(MEMBERS, prepare=lambda w: _second_sessions(w)),
    ("favicon", "GET"): page(EVERYONE),
    # password recovery and e-mail verification
    ("recovery.forgot", "GET"): page(EVERYONE),
    ("recovery.forgot", "POST"): write(EVERYONE),  # same answer for all; a reset row is written
    ("recovery.reset", "GET"): page(EVERYONE),
    ("recovery.reset", "POST"): write(EVERYONE),
    ("recovery.verify", "GET"): page(EVERYONE, 302),
    # Verified users get the same answer and no mail: nothing to write either way.
    ("recovery.resend_verification", "POST"): Allow(MEMBERS, "page", 302),
    ("invitations.accept", "GET"): page(EVERYONE),
    ("invitations.accept", "POST"): write(EVERYONE),
    # A new address accepts anonymously; a bearer token of another account is refused (403).
    ("team-api.InvitationAccept", "POST"): write({ANONYMOUS}, refused=frozenset({403})),
    # the agency
    ("shell.dashboard", "GET"): page(MEMBERS),
    ("agency_settings.edit", "GET"): page(MANAGERS),
    ("agency_settings.edit", "POST"): write(MANAGERS),
    ("agency_settings.upload_logo", "POST"): write(MANAGERS),
    ("agency_settings.logo", "GET"): page(NOBODY, refused=frozenset({404})),  # no logo yet
    ("team-api.AgencySettings", "GET"): page(MANAGERS),
    ("team-api.AgencySettings", "PATCH"): write(MANAGERS),
    # members and invitations
    ("team.members", "GET"): page(MANAGERS),
    ("team-api.Members", "GET"): page(MANAGERS),
    ("team.invite", "POST"): write(MANAGERS),
    ("team-api.Invitations", "GET"): page(MANAGERS),
    ("team-api.Invitations", "POST"): write(MANAGERS),
    ("team.resend", "POST"): write(MANAGERS),
    ("team.revoke", "POST"): write(MANAGERS),
    ("team-api.InvitationResend", "POST"): write(MANAGERS),
    ("team-api.InvitationRevoke", "POST"): write(MANAGERS),
    ("team.change_role", "POST"): write(MANAGERS),
    ("team.assignments", "POST"): write(MANAGERS),
    ("team.deactivate", "POST"): write(MANAGERS),
    ("team.reactivate", "POST"): write(MANAGERS, prepare=lambda w: _deactivate_bystander(w)),
    ("team.transfer", "POST"): write({"owner"}),
    ("team-api.Member", "PATCH"): write(MANAGERS),
    ("team-api.MemberTransfer", "POST"): write({"owner"}),
    # clients (Acme: staff assigned, client manager and viewer of it)
    ("clients.index", "GET"): page(MEMBERS),
    ("clients.create", "GET"): page(MANAGERS),
    ("clients.create", "POST"): write(MANAGERS),
    ("clients.detail", "GET"): page(SEES_ACME),
    ("clients.edit", "GET"): page(MANAGERS),
    ("clients.edit", "POST"): write(MANAGERS),
    ("clients.change_status", "POST"): write(MANAGERS),
    ("api-clients.Clients", "GET"): page(MEMBERS),
    ("api-clients.Clients", "POST"): write(MANAGERS),
    ("api-clients.ClientResource", "GET"): page(SEES_ACME),
    ("api-clients.ClientResource", "PATCH"): write(MANAGERS),
    # channels and the approval policy of Acme
    ("channels.index", "GET"): page(SEES_ACME),
    ("channels.create", "GET"): page(MANAGERS),
    ("channels.create", "POST"): write(MANAGERS),
    ("channels.edit", "GET"): page(MANAGERS),
    ("channels.edit", "POST"): write(MANAGERS),
    ("channels.delete", "POST"): write(MANAGERS),
    ("channels.disable", "POST"): write(MANAGERS),
    ("channels.enable", "POST"): write(MANAGERS),
    ("api-channels.Channels", "GET"): page(SEES_ACME),
    ("api-channels.Channels", "POST"): write(MANAGERS),
    ("api-channels.ChannelResource", "GET"): page(SEES_ACME),
    ("api-channels.ChannelResource", "PATCH"): write(MANAGERS),
    ("api-channels.ChannelResource", "DELETE"): write(MANAGERS),
    ("workflow.policy", "GET"): page(MANAGERS),
    ("workflow.policy", "POST"): write(MANAGERS),
    ("api-workflow.ApprovalPolicyResource", "GET"): page(SEES_ACME),
    ("api-workflow.ApprovalPolicyResource", "PUT"): write(MANAGERS),
    # posts (tests/content_helpers.content_objects: Acme's post is awaiting the client manager)
    ("content.index", "GET"): page(SEES_CONTENT),
    ("content.calendar", "GET"): page(SEES_CONTENT),
    ("content.queue", "GET"): page(SEES_CONTENT),
    ("content.create", "GET"): page(MEMBERS, 302),  # no client chosen: back to the list
    ("content.create", "POST"): write(DRAFTS_ACME),
    ("content.detail", "GET"): page(SEES_ACME_POST),
    ("content.image", "GET"): page(SEES_ACME_POST),
    ("content.edit", "GET"): page(DRAFTS_ACME),
    ("content.edit", "POST"): write(DRAFTS_ACME),
    # Awaiting the client: a drafter's submit is an illegal move, flashed (303).
    ("content.submit", "POST"): write(NOBODY, refused=frozenset({303, 403, 404})),
    ("content.approve", "POST"): write({"client_manager"}),
    ("content.request_changes", "POST"): write({"client_manager"}),
    ("content.reject", "POST"): write({"client_manager"}),
    ("content.archive", "POST"): write(DRAFTS_ACME),
    ("content.comment", "POST"): write(COMMENTS_ACME),
    # Bulk approve reports each refused post as a flash message on the queue page.
    ("content.bulk_approve", "POST"): write({"client_manager"}, refused=frozenset({302})),
    ("content.approval_record", "GET"): page(SEES_ACME_POST),
    ("content.approval_record_pdf", "GET"): page(SEES_ACME_POST),
    ("content.revoke_links", "POST"): write(MANAGERS),
    # Acme's post awaits the client manager: a drafter sends its review link again.
    ("content.resend_link", "POST"): write(DRAFTS_ACME),
    ("api-content.Posts", "GET"): page(SEES_CONTENT),
    ("api-content.Posts", "POST"): write(DRAFTS_ACME),
    ("api-content.PostResource", "GET"): page(SEES_ACME_POST),
    ("api-content.PostResource", "PATCH"): write(DRAFTS_ACME),
    ("api-content.PostSubmit", "POST"): write(NOBODY, refused=frozenset({403, 404, 409})),
    ("api-content.PostApprove", "POST"): write({"client_manager"}),
    ("api-content.PostRequestChanges", "POST"): write({"client_manager"}),
    ("api-content.PostReject", "POST"): write({"client_manager"}),
    ("api-content.PostArchive", "POST"): write(DRAFTS_ACME),
    ("api-content.PostRevisions", "GET"): page(SEES_ACME_POST),
    ("api-content.PostActivity", "GET"): page(SEES_ACME_POST),
    ("api-content.PostComments", "GET"): page(SEES_ACME_POST),
    ("api-content.PostComments", "POST"): write(COMMENTS_ACME),
    # Multipart only; this sweep speaks JSON to the API (tests/test_content_media.py pins roles).
    ("api-content.ClientMedia", "POST"): write(NOBODY, refused=frozenset({403, 404, 415, 422})),
    # inbox (agency members; staff see their clients' items)
    # channel connection (channelconnect): the OAuth flow itself runs against a loopback
    # instance in tests/test_channel_connect_oauth.py; here who may start it (an empty server
    # address is the allowed roles' 422 form error), and a callback without a valid state.
    ("channel_connect.mastodon", "GET"): page(MANAGERS),
    ("channel_connect.mastodon", "POST"): page(MANAGERS, 422),
    ("channel_oauth.mastodon_callback", "GET"): page(MEMBERS, 302),
    # Connect with X/LinkedIn/Facebook (tests/test_channel_connect_networks.py runs the flows
    # against the fakes): the world has no operator app, so the page says so and a POST is
    # the 422 "not set up"; a choice page without a sign-in in the session says so (a POST
    # sends back to the channels); the callbacks without a valid state redirect with a message.
    ("network_connect.start", "GET"): page(MANAGERS),
    ("network_connect.start", "POST"): page(MANAGERS, 422),
    ("network_connect.choose", "GET"): page(MANAGERS),
    ("network_connect.choose", "POST"): page(MANAGERS, 302),
    ("network_oauth.agency_callback", "GET"): page(MEMBERS, 302),
    ("oauth_return.callback", "GET"): page(MEMBERS, 302),
    ("manual_publish.record", "POST"): write(DRAFTS_ACME, prepare=lambda w: _approve_post(w)),
    ("inbox.index", "GET"): page(AGENCY_DRAFTERS),
    ("inbox.index", "POST"): write(DRAFTS_ACME, refused=frozenset({403, 404, 422})),
    ("inbox.reply", "POST"): write(DRAFTS_ACME),
    ("api-content.Inbox", "GET"): page(AGENCY_DRAFTERS),
    ("api-content.Inbox", "POST"): write(DRAFTS_ACME),
    ("api-content.InboxReply", "POST"): write(DRAFTS_ACME),
    # in-app notifications (the world's one is the client manager's; manager has one too)
    ("notifications.index", "GET"): page(SEES_CONTENT),
    ("notifications.mark_read", "POST"): write({"client_manager"}),
    # Members with nothing unread are sent back to the list, nothing written.
    ("notifications.mark_all_read", "POST"): write(
        {"manager", "client_manager"}, refused=frozenset({302, 403})
    ),
    # magic-link review: the URL's token is the credential ("x" here: 404 for everyone)
    ("review.page", "GET"): page(NOBODY, refused=frozenset({404}), anonymous_refused=404),
    ("review.image", "GET"): page(NOBODY, refused=frozenset({404}), anonymous_refused=404),
    ("review.approve", "POST"): write(NOBODY, refused=frozenset({404}), anonymous_refused=404),
    ("review.request_changes", "POST"): write(
        NOBODY, refused=frozenset({404}), anonymous_refused=404
    ),
    ("review.comment", "POST"): write(NOBODY, refused=frozenset({404}), anonymous_refused=404),
    # A manager sends a failed target again (the world's post gets one on its Mastodon channel).
    ("publishing.retry", "POST"): write(MANAGERS, prepare=lambda w: _failed_target(w)),
    ("api-publishing.PostTargetRetry", "POST"): write(
        MANAGERS, prepare=lambda w: _failed_target(w)
    ),
    # The URL names the post's manual channel (tests/world.py ROUTE_KINDS), as the web form.
    ("api-publishing.PostTargetPublished", "POST"): write(
        DRAFTS_ACME, prepare=lambda w: _approve_post(w)
    ),

    # billing (owner and finance; client managers read their company's finalized invoices)
    ("billing.index", "GET"): page(BILLERS),
    ("billing.start_run", "POST"): write(BILLERS, status=302),
    ("billing.run", "GET"): page(BILLERS),
    ("billing.run_status", "GET"): page(BILLERS),
    ("billing.invoice", "GET"): page(BILLERS),
    ("billing.add_line", "POST"): write(BILLERS, prepare=lambda w: use_draft_invoice(w)),
    ("billing.delete_line", "POST"): write(BILLERS, prepare=lambda w: use_draft_invoice(w)),
    ("billing.finalize", "POST"): write(BILLERS, prepare=lambda w: use_draft_invoice(w)),
    ("billing.void", "POST"): write(BILLERS),
    ("billing.mark_paid", "POST"): write(BILLERS),
    ("billing.credit_note", "POST"): write(BILLERS),
    ("billing.pdf", "GET"): page(READS_ACME_INVOICES),
    ("billing_exports.exports", "GET"): page(FINANCE),
    ("billing_exports.csv", "GET"): page(FINANCE),
    ("billing_exports.zip", "GET"): page(FINANCE),
    ("billing_exports.fatturapa", "GET"): page(FINANCE),
    ("api-billing-exports.InvoiceFatturaPA", "GET"): page(FINANCE),
    ("api-billing-exports.InvoicesCsv", "GET"): page(FINANCE),
    ("api-billing-exports.InvoicesZip", "GET"): page(FINANCE),
    ("billing_setup.rate_card", "GET"): page(BILLERS),
    ("billing_setup.rate_card", "POST"): write(BILLERS),
    ("billing_setup.time", "GET"): page(AGENCY_DRAFTERS),
    ("billing_setup.time", "POST"): write(DRAFTS_ACME),
    ("billing_setup.my_invoices", "GET"): page({"client_manager"}),
    ("api-billing.RateCardResource", "GET"): page(BILLERS),
    ("api-billing.RateCardResource", "PUT"): write(BILLERS),
    ("api-billing.TimeEntries", "POST"): write(DRAFTS_ACME),
    ("api-billing.GenerateInvoices", "POST"): write(BILLERS),
    ("api-billing.Invoices", "GET"): page(READS_ACME_INVOICES),
    ("api-billing.InvoiceResource", "GET"): page(
        READS_ACME_INVOICES),
    ("api-billing.InvoiceFinalize", "POST"): write(
        BILLERS, prepare=lambda w: use_draft_invoice(w)
    ),
    ("api-billing.InvoiceVoid", "POST"): write(BILLERS),
    ("api-billing.InvoiceMarkPaid", "POST"): write(BILLERS),
    ("api-billing.InvoiceCreditNote", "POST"): write(BILLERS),
    ("api-billing.InvoicePdf", "GET"): page(
        READS_ACME_INVOICES),
}
# fmt: on


def _deactivate_bystander(world: World) -> None:
    from agency.db import db
    from tenants.models import Membership

    db.session.get(Membership, world.objects["membership"]).active = False
    db.session.commit()


def _failed_target(world: World) -> None:
    """The world's post approved and failed on its Mastodon channel, still connected (a retry
    on a channel that needs reconnecting is refused, writing nothing). The retry only
    schedules a job (RQ's scheduler, which the sweep does not run): nothing calls out."""
    from agency.channels.models import Channel
    from agency.content.models import Post, PostTarget
    from agency.db import db, utcnow
    from tenants.context import tenant_context

    with tenant_context(world.agency.id):
        post = db.session.get(Post, world.objects["post"])
        post.status, post.approved_revision, post.scheduled_at = "failed", post.revision, utcnow()
        channel = db.session.get(Channel, world.objects["channel"])
        assert channel.status == "connected"
        db.session.add(
            PostTarget(post_id=post.id, channel_id=channel.id, status="failed", last_error="x")
        )
        db.session.commit()


def _approve_post(world: World) -> None:
    """The world's post approved by Acme's client manager: ready to publish (by hand)."""
    from agency.content import decisions
    from agency.content.models import Decision
    from tenants.context import tenant_context
    from tenants.service import load_access

    with tenant_context(world.agency.id):
        access = load_access(world.users["client_manager"], world.agency)
        decisions.decide(access, world.objects["post"], Decision.APPROVE)


def _second_sessions(world: World) -> None:
    """Every user also signed in elsewhere, so "sign out of all other sessions" has work."""
    from tests.helpers import session_id_for

    for user in world.users.values():
        session_id_for(user)


def _routes(app) -> set[tuple[str, str]]:  # noqa: ANN001
    return {(rule.endpoint, method) for rule, method in route_methods(app)}


def test_every_route_has_a_line_in_the_roles_table(app):
    routes = _routes(app)
    missing = sorted(routes - set(TABLE))
    lines = [f'    ("{e}", "{m}"): write(MANAGERS),  # or page(...): who may?' for e, m in missing]
    assert not missing, "add to TABLE in tests/test_role_sweep.py:\n" + "\n".join(lines)
    stale = sorted(set(TABLE) - routes)
    assert not stale, f"TABLE lines for routes that no longer exist: {stale}"


@pytest.fixture(scope="module", autouse=True)
def _admin_connections():
    yield
    close_admin_connections()


def _order(allow: Allow) -> list[str]:
    """Refused roles first (nothing to reset after them), then the allowed ones."""
    everyone = [*ROLES, ANONYMOUS]
    return [r for r in everyone if r not in allow.roles] + [r for r in everyone if r in allow.roles]


def _client_as(app, world: World, role: str):  # noqa: ANN001, ANN201
    """A test client signed in as ``role``, on the world's session for it."""
    web = app.test_client()
    if role != ANONYMOUS:
        sign_in_as(web, world, role)
    return web


def _request(web, world: World, rule, method: str, role: str):  # noqa: ANN001, ANN201
    """The route's valid request as ``role`` from ``web``; returns the response and client."""
    api = rule.rule.startswith(("/api/", "/webhooks/"))  # JSON bodies, no CSRF token
    url = world_url(rule, world)
    body = valid_body(rule.endpoint, method, world) if method != "GET" else None
    if api:
        headers = bearer(world.tokens[role]) if role != ANONYMOUS else {}
        kwargs = {"json": body} if body is not None else {}
        return send(web, method, url, headers=headers, **kwargs), web
    if method == "GET":
        return send(web, method, url), web
    csrf = csrf_token(web)
    data = MultiDict([("csrf_token", csrf), *(body or [])])
    return send(web, method, url, data=data, content_type="multipart/form-data"), web


def _session_effect(endpoint: str, web, role: str) -> str | None:  # noqa: ANN001
    """What a sign-in, sign-out or language change left behind, checked by a next request."""
    account = web.get("/account")
    if endpoint == "auth.login":
        if account.status_code != 200:
            return f"signed in, but /account answers {account.status_code}"
    elif endpoint == "auth.logout":
        if account.status_code != 302 or "/login" not in account.headers["Location"]:
            return f"signed out, but /account answers {account.status_code}"
    elif endpoint == "auth.set_locale":
        html = web.get("/login" if role == ANONYMOUS else "/account").get_data(as_text=True)
        if 'lang="it"' not in html:
            return "the language did not change to Italian"
    return None


#: Routes whose success sends the user (back) to the sign-in page.
SENDS_TO_LOGIN = ("auth.logout", "recovery.forgot", "recovery.reset")


def _check(allow: Allow, rule, method: str, role: str, response, web, changed) -> str | None:  # noqa: ANN001, PLR0911
    status = response.status_code
    api = rule.rule.startswith("/api/")
    if status >= 500:
        return f"answered {describe(response)}"
    if role in allow.roles:
        location = response.headers.get("Location", "") if status in (301, 302, 303) else ""
        if "/login" in location and rule.endpoint not in SENDS_TO_LOGIN:
            return f"allowed, but sent to the login page ({status})"
        if allow.effect == "page":
            wanted = allow.status
            if role != ANONYMOUS and allow.member_status is not None:
                wanted = allow.member_status
            return None if status == wanted else f"allowed, answered {status}, not {wanted}"
        if status >= 400:
            return f"allowed, but answered {status}"
        if allow.effect == "write" and not changed:
            return f"allowed and answered {status}, but wrote nothing"
        if allow.effect == "session":
            return _session_effect(rule.endpoint, web, role)
        return None
    if changed:
        return f"refused with {status}, but wrote {changed}"
    if role == ANONYMOUS:
        if allow.anonymous_refused is not None:
            ok = status == allow.anonymous_refused
        elif api:
            ok = status == 401
        else:
            ok = status == 302 and "/login" in response.headers.get("Location", "")
        return None if ok else f"anonymous, answered {status}, not refused"
    return (
        None
        if status in allow.refused
        else f"refused role answered {status}, not {sorted(allow.refused)}"
    )


@pytest.mark.parametrize("endpoint,method", sorted(TABLE), ids=lambda v: str(v))
def test_role_may_or_may_not(app, database_url, endpoint: str, method: str):
    rules = [r for r, m in route_methods(app) if r.endpoint == endpoint and m == method]
    assert rules, f"{endpoint} {method} is not a route (stale TABLE line)"
    rule, allow = rules[0], TABLE[(endpoint, method)]
    writes = method != "GET"
    problems: list[str] = []
    seen: dict[str, str] = {}
    with WriteWatch() as watch:
        world, clients, state = _ready(app, build_world(), allow, writes)
        unproven = False  # requests since the last digest sent nothing that may write
        for role in _order(allow):
            if unproven and role in allow.roles:
                # A digest proves the refused roles wrote nothing unseen before an allowed
                # role's write could mix with it.
                watch.settled(state)
                unproven = False
            mark = watch.writes
            response, web = _request(clients[role], world, rule, method, role)
            after = watch.state_after(state, mark) if writes else None
            unproven = unproven or (writes and after is state)
            changed = changed_tables(state, after) if writes else []
            mark = watch.writes
            problem = _check(allow, rule, method, role, response, web, changed)
            seen[role] = "allowed" if role in allow.roles else "refused"
            if problem:
                problems.append(f"{method} {rule.rule} as {role}: {problem}")
            if changed:
                world, clients, state = _ready(app, reset_world(), allow, writes)
            elif writes:
                state = watch.state_after(after, mark)  # the check's own requests may write
        if writes:
            watch.settled(state)
    assert set(seen) == EVERYONE, "every role was exercised"
    assert not problems, "\n".join(problems)


def _ready(app, world: World, allow, writes: bool):  # noqa: ANN001, ANN202
    """The world prepared for the line, a client signed in as each role, and the digest the
    requests are compared with."""
    if allow.prepare:
        allow.prepare(world)
    clients = {role: _client_as(app, world, role) for role in EVERYONE}
    return world, clients, (snapshot() if writes else None)

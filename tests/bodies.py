"""One valid request per write route, keyed by ``(endpoint, METHOD)``, for the sweeps.

The role sweep sends these to see an allowed role's action really happen; the CSRF sweep
sends them without a token; the isolation sweep sends them across agencies (so the only
acceptable answer is 404, not a 422 about the body); the hostile-body sweep makes one field
at a time hostile. A new write route gets a line here.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

from tests.factories import PASSWORD
from tests.fakes.stripe import API_KEY as STRIPE_KEY
from tests.fakes.stripe import WEBHOOK_SECRET as STRIPE_WEBHOOK_SECRET
from tests.world import World

Body = list[tuple[str, str]] | dict | None


def tiny_png() -> bytes:
    """A valid 1×1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def _acme(w: World) -> str:
    return str(w.objects["client"])


def _policy_json(w: World) -> dict:
    return {
        "internal_review": True,
        "client_approval": "any",
        "approver_ids": [str(w.users["client_manager"].id)],
        "reply_policy": "same",
        "lead_time_hours": 24,
        "reminder_hours": [4],
        "late_rule": "hold",
    }


def _rate_card_json(w: World) -> dict:
    return {
        "effective_from": "2026-11-01",
        "currency": "EUR",
        "monthly_retainer": 120000,
        "posts_included": 8,
        "price_per_post": 6000,
        "price_per_reply": 1500,
        "hourly_rate": 7000,
        "vat_rate": "22",
        "payment_terms_days": 30,
    }


#: Web form submissions (the CSRF token is added by the sender).
WEB: dict[tuple[str, str], Callable[[World], Body]] = {
    ("billing.start_run", "POST"): lambda w: [("period", "2026-10"), ("client_id", "")],
    # Invoice actions and removing a line take no input beyond the CSRF token.
    ("billing.finalize", "POST"): lambda w: [],
    ("billing.void", "POST"): lambda w: [],
    ("billing.mark_paid", "POST"): lambda w: [],
    ("billing.credit_note", "POST"): lambda w: [],
    ("billing.delete_line", "POST"): lambda w: [],
    ("billing.add_line", "POST"): lambda w: [
        ("description", "Photo shoot"),
        ("quantity", "1"),
        ("unit_amount", "250.00"),
        ("vat_rate", "22"),
    ],
    ("billing_setup.rate_card", "POST"): lambda w: [
        ("effective_from", "2026-11-01"),
        ("currency", "EUR"),
        ("monthly_retainer", "1200.00"),
        ("posts_included", "8"),
        ("price_per_post", "60.00"),
        ("price_per_reply", "15.00"),
        ("hourly_rate", "70.00"),
        ("vat_rate", "22"),
        ("payment_terms_days", "30"),
    ],
    ("billing_setup.time", "POST"): lambda w: [
        ("client_id", _acme(w)),
        ("date", "2026-10-02"),
        ("minutes", "45"),
        ("description", "Community calls"),
    ],
    ("auth.login", "POST"): lambda w: [("email", w.users["owner"].email), ("password", PASSWORD)],
    ("auth.logout", "POST"): lambda w: [],
    ("auth.signup", "POST"): lambda w: [
        ("agency_name", "Fresh Web Agency"),
        ("name", "Fresh Person"),
        ("email", "fresh-web@example.com"),
        ("password", PASSWORD),
    ],
    ("auth.account", "POST"): lambda w: [
        ("profile-name", "Renamed Person"),
        ("profile-locale", "it"),
        ("profile-submit", "Save"),
    ],
    ("auth.tokens", "POST"): lambda w: [("name", "cli"), ("agency", w.slug)],
    ("auth.revoke_token", "POST"): lambda w: [],
    ("auth.revoke_other_sessions", "POST"): lambda w: [],
    ("recovery.forgot", "POST"): lambda w: [("email", w.reset_email)],
    ("recovery.reset", "POST"): lambda w: [("new_password", "a brand new passphrase 42")],
    ("recovery.resend_verification", "POST"): lambda w: [],
    ("auth.set_locale", "POST"): lambda w: [("locale", "it"), ("next", "/account")],
    ("invitations.accept", "POST"): lambda w: [("name", "New Person"), ("password", PASSWORD)],
    ("clients.create", "POST"): lambda w: [
        ("name", "Umbrella"),
        ("country", "DE"),
        ("currency", "EUR"),
        ("timezone", "Europe/Berlin"),
        ("language", "en"),
    ],
    ("clients.edit", "POST"): lambda w: [
        ("name", "Acme Renamed"),
        ("legal_name", "Acme S.r.l."),
        ("country", "IT"),
        ("currency", "EUR"),
        ("timezone", "Europe/Rome"),
        ("language", "it"),
        ("sdi_code", "ABC1234"),
    ],
    ("clients.change_status", "POST"): lambda w: [("action", "offboard")],
    ("channels.create", "POST"): lambda w: [
        ("network", "mastodon"),
        ("name", "Web toots"),
        ("settings-instance_url", "https://m.example"),
        ("settings-access_token", "web-created-access-token"),
    ],
    ("channels.edit", "POST"): lambda w: [
        ("name", "Renamed toots"),
        ("settings-instance_url", "https://mastodon.example"),
        ("settings-access_token", ""),
    ],
    ("channels.delete", "POST"): lambda w: [],
    ("channels.disable", "POST"): lambda w: [],
    ("channels.enable", "POST"): lambda w: [],
    ("channel_connect.mastodon", "POST"): lambda w: [
        ("instance_url", ""),
        ("name", "Sweep toots"),
    ],
    ("network_connect.start", "POST"): lambda w: [("name", "Sweep X")],
    ("network_connect.choose", "POST"): lambda w: [("account", "urn:li:organization:1")],
    ("manual_publish.record", "POST"): lambda w: [
        ("channel_id", str(w.objects["content_channel"])),
        ("url", "https://forum.example/t/sweep-post/1"),
    ],
    ("workflow.policy", "POST"): lambda w: [
        ("internal_review", "y"),
        ("client_approval", "all"),
        ("approver_ids", str(w.users["client_manager"].id)),
        ("reply_policy", "internal_only"),
        ("lead_time_hours", "12"),
        ("reminder_hours", "2, 6"),
        ("late_rule", "notify"),
    ],
    ("team.invite", "POST"): lambda w: [
        ("invite-email", "new-web@example.com"),
        ("invite-role", "staff"),
        ("invite-assigned_client_ids", str(w.objects["client"])),
    ],
    ("team.resend", "POST"): lambda w: [],
    ("team.revoke", "POST"): lambda w: [],
    ("team.change_role", "POST"): lambda w: [("role", "finance")],
    ("team.assignments", "POST"): lambda w: [("client_ids", str(w.objects["client"]))],
    ("team.deactivate", "POST"): lambda w: [],
    ("team.reactivate", "POST"): lambda w: [],
    ("team.transfer", "POST"): lambda w: [],
    ("agency_settings.edit", "POST"): lambda w: [
        ("settings-name", "Renamed Agency"),
        ("settings-country", "IT"),  # the world's agency has Italian fiscal data (billing)
        ("settings-default_locale", "en"),
        ("settings-timezone", "Europe/Berlin"),
        ("settings-default_currency", "EUR"),
    ],
    ("agency_settings.upload_logo", "POST"): lambda w: [
        ("logo-logo", (io.BytesIO(tiny_png()), "logo.png", "image/png"))  # type: ignore[list-item]
    ],
    ("content.create", "POST"): lambda w: [
        ("client_id", _acme(w)),
        ("body", "A new post"),
        ("channel_ids", str(w.objects["content_channel"])),
    ],
    ("content.edit", "POST"): lambda w: [
        ("body", "Edited post"),
        ("channel_ids", str(w.objects["content_channel"])),
        ("media", w.objects["param:ref"]),
    ],
    ("content.submit", "POST"): lambda w: [],
    ("content.approve", "POST"): lambda w: [("revision", "1")],
    ("content.request_changes", "POST"): lambda w: [("comment", "Shorter"), ("revision", "1")],
    ("content.reject", "POST"): lambda w: [("comment", "Not this one"), ("revision", "1")],
    ("content.archive", "POST"): lambda w: [],
    ("content.comment", "POST"): lambda w: [("body", "Looks good"), ("visibility", "shared")],
    ("content.bulk_approve", "POST"): lambda w: [("post", f"{w.objects['post']}:1")],
    ("content.revoke_links", "POST"): lambda w: [],
    ("content.resend_link", "POST"): lambda w: [],
    ("publishing.retry", "POST"): lambda w: [],
    ("inbox.index", "POST"): lambda w: [
        ("channel_id", str(w.objects["content_channel"])),
        ("author", "@fan"),
        ("body", "Open on Sunday?"),
    ],
    ("inbox.reply", "POST"): lambda w: [("body", "Yes, from 10!")],
    ("notifications.mark_read", "POST"): lambda w: [],
    ("notifications.mark_all_read", "POST"): lambda w: [],
    ("review.approve", "POST"): lambda w: [("revision", "1")],
    ("review.request_changes", "POST"): lambda w: [("comment", "Shorter"), ("revision", "1")],
    ("review.comment", "POST"): lambda w: [("comment", "A question")],
    ("billing_stripe.stripe", "POST"): lambda w: [
        ("api_key", STRIPE_KEY),
        ("webhook_secret", STRIPE_WEBHOOK_SECRET),
    ],
}

#: API JSON bodies; a list where several shapes are worth sending (the first is the default).
API: dict[tuple[str, str], Callable[[World], list[dict]]] = {
    ("accounts.Signup", "POST"): lambda w: [
        {
            "agency_name": "Fresh Agency",
            "name": "Fresh Person",
            "email": "fresh@example.com",
            "password": PASSWORD,
        }
    ],
    ("accounts.Tokens", "POST"): lambda w: [
        {"email": w.users["owner"].email, "password": PASSWORD, "agency": w.slug, "name": "cli"}
    ],
    ("api-clients.Clients", "POST"): lambda w: [
        {"name": "Umbrella", "country": "DE", "currency": "EUR", "timezone": "Europe/Berlin"}
    ],
    ("api-clients.ClientResource", "PATCH"): lambda w: [
        {"name": "Acme Renamed", "address": "Via 1", "sdi_code": "ABC1234"}
    ],
    ("api-workflow.ApprovalPolicyResource", "PUT"): lambda w: [_policy_json(w)],
    ("api-channels.Channels", "POST"): lambda w: [
        {
            "network": "mastodon",
            "name": "Toots",
            "settings": {"instance_url": "https://m.example", "access_token": "api-mastodon-tok"},
        },
        {
            "network": "bluesky",
            "name": "Sky",
            "settings": {"handle": "acme.bsky.social", "app_password": "api-bsky-app-pw"},
        },
        {
            "network": "facebook_page",
            "name": "FB",
            "settings": {"page_id": "123", "access_token": "api-facebook-tok"},
        },
    ],
    ("api-channels.ChannelResource", "PATCH"): lambda w: [{"name": "Renamed"}],
    ("api-channels.ChannelResource", "DELETE"): lambda w: [None],  # type: ignore[list-item]
    ("team-api.Invitations", "POST"): lambda w: [
        {
            "email": "new@example.com",
            "role": "staff",
            "assigned_client_ids": [str(w.objects["client"])],
        },
        {
            "email": "boss@example.com",
            "role": "client_manager",
            "client_id": str(w.objects["client"]),
        },
    ],
    ("team-api.InvitationResend", "POST"): lambda w: [None],  # type: ignore[list-item]
    ("team-api.InvitationRevoke", "POST"): lambda w: [None],  # type: ignore[list-item]
    ("team-api.InvitationAccept", "POST"): lambda w: [
        {"token": w.invite_token, "name": "New Person", "password": PASSWORD}
    ],
    ("team-api.Member", "PATCH"): lambda w: [{"role": "finance"}],
    ("team-api.MemberTransfer", "POST"): lambda w: [None],  # type: ignore[list-item]
    ("team-api.AgencySettings", "PATCH"): lambda w: [
        {"name": "Rich Agency Renamed", "country": "IT"}
    ],
    ("api-content.Posts", "POST"): lambda w: [
        {"client_id": _acme(w), "body": "New", "channel_ids": [str(w.objects["content_channel"])]}
    ],
    ("api-content.PostResource", "PATCH"): lambda w: [
        {"body": "Edited", "variants": {str(w.objects["content_channel"]): "Variant"}}
    ],
    ("api-content.PostSubmit", "POST"): lambda w: [{}],
    ("api-content.PostApprove", "POST"): lambda w: [{"comment": "Fine", "revision": 1}],
    ("api-content.PostRequestChanges", "POST"): lambda w: [{"comment": "Shorter", "revision": 1}],
    ("api-content.PostReject", "POST"): lambda w: [{"comment": "No", "revision": 1}],
    ("api-content.PostArchive", "POST"): lambda w: [{"comment": "Old"}],
    ("api-content.PostComments", "POST"): lambda w: [{"body": "Nice"}],
    ("api-content.Inbox", "POST"): lambda w: [
        {
            "channel_id": str(w.objects["content_channel"]),
            "author": "@fan",
            "body": "Hello?",
            "url": "https://social.example/1",
        }
    ],
    ("api-content.InboxReply", "POST"): lambda w: [{"body": "Hello!"}],
    ("api-publishing.PostTargetRetry", "POST"): lambda w: [None],  # type: ignore[list-item]
    ("api-publishing.PostTargetPublished", "POST"): lambda w: [
        {"url": "https://forum.example/t/sweep-post/1"}
    ],
    ("api-billing.RateCardResource", "PUT"): lambda w: [_rate_card_json(w)],
    ("api-billing.TimeEntries", "POST"): lambda w: [
        {"client_id": _acme(w), "minutes": 45, "description": "Calls", "date": "2026-10-02"}
    ],
    ("api-billing.InvoiceFinalize", "POST"): lambda w: [None],  # type: ignore[list-item]
    ("api-billing.InvoiceVoid", "POST"): lambda w: [None],  # type: ignore[list-item]
    ("api-billing.InvoiceMarkPaid", "POST"): lambda w: [None],  # type: ignore[list-item]
    ("api-billing.InvoiceCreditNote", "POST"): lambda w: [None],  # type: ignore[list-item]
    ("api-billing.GenerateInvoices", "POST"): lambda w: [
        {"period": "2026-10"},
        {"period": "2026-10", "client_id": _acme(w)},
    ],
    ("billing-stripe-api.StripeConnection", "PUT"): lambda w: [
        {"api_key": STRIPE_KEY, "webhook_secret": STRIPE_WEBHOOK_SECRET}
    ],
    # Unsigned (the sweeps hold no Stripe secret): refused with 400, nothing written. Signed
    # deliveries: tests/test_billing_webhooks.py.
    ("stripe_webhooks.receive", "POST"): lambda w: [
        {"id": "evt_unsigned", "type": "invoice.paid", "created": 1, "data": {"object": {}}}
    ],
}


def valid_body(endpoint: str, method: str, world: World) -> Body:
    """The default valid body of a write route (``None`` for an action without input)."""
    if (endpoint, method) in API:
        return API[(endpoint, method)](world)[0]
    if (endpoint, method) in WEB:
        return WEB[(endpoint, method)](world)
    return None

"""What a person sees for each channel setting: a translated label and help text per network.

The keys (``instance_url``, ``access_token``…) are the API's field names and never shown.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from agency.channels.models import Network

_ACCESS_TOKEN = _l("Access token")
_API_BASE_HELP = _l("Change only to use another server than the network's own.")

LABELS: dict[tuple[Network, str], object] = {
    (Network.MASTODON, "instance_url"): _l("Server address"),
    (Network.MASTODON, "access_token"): _ACCESS_TOKEN,
    (Network.BLUESKY, "pds_url"): _l("Hosting provider"),
    (Network.BLUESKY, "handle"): _l("Bluesky handle"),
    (Network.BLUESKY, "app_password"): _l("App password"),
    (Network.X, "access_token"): _ACCESS_TOKEN,
    (Network.X, "refresh_token"): _l("Refresh token"),
    (Network.X, "client_id"): _l("App client ID"),
    (Network.X, "api_base"): _l("API address"),
    (Network.FACEBOOK_PAGE, "page_id"): _l("Page ID"),
    (Network.FACEBOOK_PAGE, "access_token"): _l("Page access token"),
    (Network.FACEBOOK_PAGE, "graph_base"): _l("Graph API address"),
    (Network.INSTAGRAM, "ig_user_id"): _l("Instagram account ID"),
    (Network.INSTAGRAM, "access_token"): _ACCESS_TOKEN,
    (Network.INSTAGRAM, "graph_base"): _l("Graph API address"),
    (Network.LINKEDIN, "organization_urn"): _l("Company page"),
    (Network.LINKEDIN, "access_token"): _ACCESS_TOKEN,
    (Network.LINKEDIN, "api_base"): _l("API address"),
    (Network.WEBHOOK, "url"): _l("Endpoint URL"),
    (Network.WEBHOOK, "secret"): _l("Signing secret"),
}

HELP: dict[tuple[Network, str], object] = {
    (Network.MASTODON, "instance_url"): _l(
        "The address of the Mastodon server the account lives on, e.g. https://mastodon.social."
    ),
    (Network.MASTODON, "access_token"): _l(
        "Create one on the server under Preferences → Development → New application, "
        "or use “Connect with Mastodon” instead."
    ),
    (Network.BLUESKY, "pds_url"): _l(
        "Leave as it is for accounts hosted by Bluesky; change it only for a self-hosted server."
    ),
    (Network.BLUESKY, "handle"): _l("The account's handle, e.g. acme.bsky.social."),
    (Network.BLUESKY, "app_password"): _l(
        "Create one in Bluesky under Settings → Privacy and security → App passwords. "
        "Never enter the account's own password."
    ),
    (Network.X, "access_token"): _l(
        "An OAuth 2 user token of the account, allowed to read and write posts."
    ),
    (Network.X, "refresh_token"): _l("Lets Regia renew the access token when it expires."),
    (Network.X, "client_id"): _l("The OAuth 2 client ID of the X app the tokens belong to."),
    (Network.X, "api_base"): _API_BASE_HELP,
    (Network.FACEBOOK_PAGE, "page_id"): _l(
        "The Page's numeric ID, shown in the Page's About section."
    ),
    (Network.FACEBOOK_PAGE, "access_token"): _l(
        "A long-lived Page token that may publish posts and read comments."
    ),
    (Network.FACEBOOK_PAGE, "graph_base"): _API_BASE_HELP,
    (Network.INSTAGRAM, "ig_user_id"): _l(
        "The numeric ID of the Instagram professional account linked to a Facebook Page."
    ),
    (Network.INSTAGRAM, "access_token"): _l(
        "A token of the linked Facebook Page that may publish to Instagram."
    ),
    (Network.INSTAGRAM, "graph_base"): _API_BASE_HELP,
    (Network.LINKEDIN, "organization_urn"): _l(
        "urn:li:organization: followed by the number in the company page's admin address."
    ),
    (Network.LINKEDIN, "access_token"): _l(
        "A token of a page administrator that may post on the company's behalf."
    ),
    (Network.LINKEDIN, "api_base"): _API_BASE_HELP,
    (Network.WEBHOOK, "url"): _l(
        "Where Regia sends each post as a signed JSON event (Standard Webhooks)."
    ),
    (Network.WEBHOOK, "secret"): _l(
        "The whsec_… secret your endpoint checks the webhook-signature header with."
    ),
}


def label(network: str, name: str) -> object:
    return LABELS.get((Network(network), name), name)


def help_text(network: str, name: str) -> object | None:
    return HELP.get((Network(network), name))

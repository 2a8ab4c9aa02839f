"""Schemathesis against the app's own OpenAPI document: the document says what the server
enforces, and the server keeps every promise the document makes.

Runs through WSGI (no network), authenticated as the owner of agency A or of agency B (each
operation's first case as both), both seeded with clients, channels, members and a policy.
Every operation of ``/api/v1/openapi.json`` is exercised — endpoints added later too — in
positive and negative modes with every check, including positive-data acceptance (valid
input is accepted) and response-schema conformance; any finding fails the test.

Rules a JSON schema cannot state (VAT and fiscal-code checksums, Italian SDI/PEC, channel
settings per network, approvers who must be the client's managers, unique names) are
honoured by ``fit_business_rules``, and only for positive cases: a positive case then means
"valid by the document and by those rules", and must be accepted.
"""

from __future__ import annotations

import copy
import itertools
import uuid
import zlib

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.core import NOT_SET
from sqlalchemy import select

from agency.db import db
from tenants.models import Membership, Role
from tests.factories import (
    make_agency,
    make_channel,
    make_client,
    make_member,
    make_policy,
    owner_of,
    token_for,
)
from tests.fakes.stripe import API_KEY as STRIPE_KEY
from tests.fakes.stripe import WEBHOOK_SECRET as STRIPE_WEBHOOK_SECRET
from tests.world import seeded

# Saving a channel would ask its network, which the suite cannot reach.
pytestmark = pytest.mark.usefixtures("networks_not_checked")


CLIENT_ROLES = {"client_manager", "client_viewer"}

MAX_EXAMPLES = 20  # per operation, shared by the two agencies

# Valid legal details per country, for positive cases whose generated ones fail a checksum.
VALID_TAX_IDS = {
    "IT": {"vat_number": "IT00743110157", "fiscal_code": "00743110157"},
    "DE": {"vat_number": "DE136695976", "fiscal_code": None},
    "FR": {"vat_number": "FR40303265045", "fiscal_code": None},
}
CHANNEL_SETTINGS = {
    "mastodon": {"instance_url": "https://mastodon.example", "access_token": "tok"},
    "bluesky": {"handle": "acme.bsky.social", "app_password": "app-pass"},
    "x": {"access_token": "tok", "refresh_token": "ref", "client_id": "app"},
    "facebook_page": {"page_id": "123", "access_token": "tok"},
    "instagram": {"ig_user_id": "123", "access_token": "tok"},
    "linkedin": {"organization_urn": "urn:li:organization:1", "access_token": "tok"},
    "webhook": {"url": "https://hooks.example/regia", "secret": "whsec_abc"},
    "manual": {},
}
_unique = itertools.count(1)


def _seed(name: str) -> dict:
    agency = make_agency(name)
    owner = owner_of(agency)
    acme = make_client(agency, f"{name} Acme", country="IT", sdi_code="ABC1234")
    globex = make_client(agency, f"{name} Globex")
    manager = make_member(agency, Role.CLIENT_MANAGER, client=acme)
    staff = make_member(agency, Role.STAFF, assigned=[acme])
    make_member(agency, Role.FINANCE)
    channel = make_channel(agency, acme, network="mastodon")
    make_policy(agency, acme, approver_ids=[str(manager.id)])
    staff_membership = db.session.scalar(
        select(Membership.id).where(
            Membership.user_id == staff.id, Membership.agency_id == agency.id
        )
    )
    return {
        "agency_id": agency.id,
        "token": token_for(owner, agency),
        "ids": {
            "client_id": acme.id,
            "channel_id": channel.id,
            "membership_id": staff_membership,
        },
        "approvers": [manager.id],
        "other_client": globex.id,
    }


@pytest.fixture
def world(request, app, database_url):
    """Agencies A and B, seeded once per process and put back from a copy for each test
    (``tests.world.seeded``)."""
    return seeded("schemathesis A and B", lambda: {"A": _seed("Agency A"), "B": _seed("Agency B")})


def _openapi_document() -> dict:
    """The document as the app serves it; building it touches neither database nor Redis."""
    import tempfile
    from pathlib import Path

    from cryptography.fernet import Fernet

    from agency.app import create_app
    from agency.config import Settings

    settings = Settings.from_env(
        env={},
        instance_path=Path(tempfile.mkdtemp(prefix="regia-openapi-")),
        database_url="sqlite://",
        redis_url="redis://127.0.0.1:6379/15",
        secret_key="openapi",
        encryption_keys=(Fernet.generate_key().decode(),),
        testing=True,
    )
    from agency.db import db

    default = db._default  # the first app built becomes the default engine: not this one
    try:
        return create_app(settings).test_client().get("/api/v1/openapi.json").get_json()
    finally:
        db._default = default


CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "no-shrink": True,
            # The input guard answers 400 to NUL in any field (no column can store it), as
            # the document says for every operation; tests/test_bad_input.py pins it.
            "allow-x00": False,
        },
        "phases": {"coverage": {"enabled": False}},
        "checks": {
            # An unknown, used or expired invitation token is Gone, however well-formed.
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "410", "429"]
            },
        },
    }
)
# Loaded at collection so that each operation is its own test item; requests go to the
# test's app through WSGI (``app=``), never over the network.
schema = schemathesis.openapi.from_dict(_openapi_document(), config=CONFIG)


def _unique_name(value: str) -> str:
    return f"{value.strip()[:180]} {next(_unique)}"


def fit_business_rules(case, agency: dict) -> None:  # noqa: ANN001
    """Make a positive case valid by the rules the document cannot state (see module doc)."""
    path = case.operation.path
    for name, value in agency["ids"].items():
        if name in (case.path_parameters or {}):
            case.path_parameters[name] = str(value)  # a real object of this agency
    if case.query and "cursor" in case.query:
        del case.query["cursor"]  # opaque: only ever a next_cursor the server handed out
    body = case.body if isinstance(case.body, dict) else None
    if body is None:
        return
    if path == "/api/v1/clients/{client_id}/media":
        from tests.content_helpers import tiny_png

        body["file"] = tiny_png()  # an upload is accepted only if it decodes as an image
        return
    if path == "/api/v1/stripe-connection":
        if body.get("api_key") or body.get("webhook_secret"):  # both, or neither
            body["api_key"], body["webhook_secret"] = STRIPE_KEY, STRIPE_WEBHOOK_SECRET
        return
    if path in ("/api/v1/clients", "/api/v1/clients/{client_id}", "/api/v1/agency"):
        stored_country = "IT" if path == "/api/v1/clients/{client_id}" else None
        fiscal = ("vat_number", "fiscal_code", "postal_code", "province")
        if stored_country and "country" not in body and any(body.get(f) for f in fiscal):
            body["country"] = stored_country  # an earlier case may have moved the client
        country = body.get("country", stored_country)
        ids = VALID_TAX_IDS.get(country, {"vat_number": None, "fiscal_code": None})
        for field in ("vat_number", "fiscal_code"):
            if body.get(field):
                body[field] = ids[field]
        if stored_country and "country" in body:
            # Moving the client to another country: what an earlier case stored (a German VAT
            # number, a Bavarian province, no SDI code) must hold in the new country too.
            for field in ("vat_number", "fiscal_code"):
                body.setdefault(field, ids[field])
            if country == "IT":
                body.setdefault("province", "MI")
                body.setdefault("postal_code", "20121")
                if not body.get("pec") and not body.get("sdi_code"):
                    body["sdi_code"] = "ABC1234"
        if path == "/api/v1/agency":
            if country == "IT" and not body.get("tax_regime"):
                body["tax_regime"] = "RF01"
        elif country == "IT" and not body.get("pec") and body.get("sdi_code", "x") in ("", None):
            body["sdi_code"] = "ABC1234"  # Italian clients need an SDI code or a PEC
        if body.get("sdi_code") == "0000000" and not body.get("pec"):
            body["sdi_code"] = "ABC1234"  # 0000000 means "deliver to the PEC"
        if body.get("name") and path != "/api/v1/agency":
            body["name"] = _unique_name(body["name"])
        # Italian addresses: a 5-digit CAP and a two-letter province (valid anywhere else too).
        if country in ("IT", None) or path == "/api/v1/agency":
            if (body.get("postal_code") or "").strip():
                body["postal_code"] = "20121"
            if (body.get("province") or "").strip():
                body["province"] = "MI"
        if (body.get("iban") or "").strip():
            body["iban"] = "IT60X0542811101000000123456"  # IBANs carry a checksum
    if "/channels" in path:
        network = body.get("network", "mastodon")
        if "settings" in body or case.method == "POST":
            body["settings"] = dict(CHANNEL_SETTINGS[network])
        if body.get("name"):
            body["name"] = _unique_name(body["name"])
    if path.endswith("/approval-policy") and "approver_ids" in body:
        body["approver_ids"] = [str(u) for u in agency["approvers"]]
    if path == "/api/v1/invitations":
        body["email"] = f"invitee{next(_unique)}@example.com"
        role = body.get("role")
        body["client_id"] = str(agency["ids"]["client_id"]) if role in CLIENT_ROLES else None
        if role != "staff":
            body["assigned_client_ids"] = []
        elif body.get("assigned_client_ids"):
            body["assigned_client_ids"] = [str(agency["other_client"])]
    if path == "/api/v1/members/{membership_id}" and body.get("role") in CLIENT_ROLES:
        body["role"] = "staff"  # the member is an agency member: a client role is refused
    if path == "/api/v1/members/{membership_id}" and "assigned_client_ids" in body:
        # Only staff members are assigned to clients (an earlier example may have changed
        # the member's role).
        body["role"] = "staff"
        body["assigned_client_ids"] = [str(agency["other_client"])]
    if path == "/api/v1/signup" and "email" in body:
        body["email"] = f"signup{next(_unique)}@example.com"


SETTINGS = hypothesis_settings(
    deadline=None,
    derandomize=True,
    database=None,
    max_examples=MAX_EXAMPLES,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)


#: Operations whose first case ran (as both agencies).
_begun: set[str] = set()


@schema.parametrize()
@SETTINGS
def test_api_keeps_the_promises_of_its_openapi_document(case, app, world):  # noqa: ANN001
    """The first case of each operation runs as the owner of agency A, then (as Hypothesis
    generated it, before A's business rules were fitted) as agency B's; each later case as
    one of the two, chosen by the case's own content (so a replayed failure is replayed as
    the same agency)."""
    case.operation.schema.app = app  # also for the checks' own probes (e.g. without auth)
    key = f"{case.operation.method} {case.operation.path}"
    if key not in _begun:
        _begun.add(key)
        runs = [("A", case), ("B", _copy_case(case))]
    else:
        content = repr((case.path_parameters, case.query, case.body, case.media_type))
        runs = [("AB"[zlib.crc32(content.encode()) % 2], case)]
    for tenant, run in runs:
        agency = world[tenant]
        if run.meta is not None and run.meta.generation.mode.is_positive:
            fit_business_rules(run, agency)
        try:
            run.call_and_validate(app=app, headers={"Authorization": f"Bearer {agency['token']}"})
        except BaseException as failure:
            failure.add_note(f"(as the owner of agency {tenant})")
            raise


def _copy_case(case):  # noqa: ANN001, ANN202
    """A case with its own containers and metadata (which track what was changed since
    generation), sharing only the operation: fitting agency A's rules leaves it untouched."""
    clone = object.__new__(type(case))
    memo = {
        id(case.operation): case.operation,
        id(NOT_SET): NOT_SET,
    }  # NOT_SET is compared by ``is``
    for name in type(case).__slots__:
        value = getattr(case, name)
        object.__setattr__(
            clone, name, value if name == "operation" else copy.deepcopy(value, memo)
        )
    return clone


def test_the_run_covers_every_api_route(app):
    """New endpoints are fuzzed without editing this file: they are in the document."""
    from agency.web.openapi import API_PREFIX, openapi_path

    operations = {(op.ok().path, op.ok().method.upper()) for op in schema.get_all_operations()}
    routes = {
        (openapi_path(rule.rule), method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API_PREFIX)
        and rule.endpoint.split(".")[0]
        not in {
            "api-docs",
            "apidocs",
        }
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert routes and routes <= operations, routes - operations
    assert uuid  # noqa: S101 - keep the import for ids in failure reports

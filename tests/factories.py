"""Factories: plain functions that build committed rows through the services."""

from __future__ import annotations

import itertools
import uuid

from agency.db import db
from tenants import service
from tenants.context import tenant_context
from tenants.models import Agency, ClientCompany, Membership, Role, User

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def make_user(email: str | None = None, name: str | None = None, password: str = PASSWORD) -> User:
    n = next(_seq)
    user = service.create_user(name or f"User {n}", email or f"user{n}@example.com", password)
    db.session.commit()
    return user


def make_agency(name: str | None = None, owner: User | None = None) -> Agency:
    n = next(_seq)
    owner = owner or make_user(f"owner{n}@example.com", f"Owner {n}")
    agency, _ = service.create_agency_with_owner(
        name or f"Agency {n}", owner.name, owner.email, PASSWORD
    )
    db.session.commit()
    return agency


def make_client(agency: Agency, name: str | None = None, **fields) -> ClientCompany:
    with tenant_context(agency.id):
        client = ClientCompany(name=name or f"Client {next(_seq)}", **fields)
        db.session.add(client)
        db.session.commit()
    return client


def make_member(
    agency: Agency,
    role: Role,
    *,
    client: ClientCompany | None = None,
    assigned: list[ClientCompany] | None = None,
    email: str | None = None,
) -> User:
    user = make_user(email)
    membership = service.add_membership(user, agency, role, client_id=client.id if client else None)
    for c in assigned or []:
        service.assign_staff(membership, c.id)
    db.session.commit()
    return user


def owner_of(agency: Agency) -> User:
    from sqlalchemy import select

    return db.session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.agency_id == agency.id, Membership.role == Role.OWNER.value)
    )


def token_for(user: User, agency: Agency) -> str:
    token = service.issue_token(user, agency)
    db.session.commit()
    return token


def random_uuid() -> str:
    return str(uuid.uuid4())


def make_channel(
    agency: Agency,
    client: ClientCompany,
    *,
    network: str = "mastodon",
    name: str | None = None,
    settings: dict | None = None,
    secrets: dict | None = None,
    status: str = "connected",
):
    """A channel stored directly (credentials encrypted as the service does)."""
    from agency import crypto
    from agency.channels.models import Channel

    if network == "mastodon" and settings is None and secrets is None:
        settings = {"instance_url": "https://mastodon.example"}
        secrets = {"access_token": "factory-token"}
    if network == "webhook" and settings and "url" in settings:
        # A webhook URL is a credential: the service stores it with the secrets.
        settings = dict(settings)
        secrets = {**(secrets or {}), "url": settings.pop("url")}
    with tenant_context(agency.id):
        channel = Channel(
            client_id=client.id,
            network=network,
            name=name or f"Channel {next(_seq)}",
            settings=settings or {},
            credentials_encrypted=crypto.encrypt_json(secrets) if secrets else None,
            status=status,
        )
        db.session.add(channel)
        db.session.commit()
    return channel


def make_policy(agency: Agency, client: ClientCompany, **fields):
    from agency.workflow.models import ApprovalPolicy

    with tenant_context(agency.id):
        policy = ApprovalPolicy(client_id=client.id, **fields)
        db.session.add(policy)
        db.session.commit()
    return policy

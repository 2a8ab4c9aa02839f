"""Demo data: one agency, two clients, one user per role. Safe to run twice."""

from __future__ import annotations

from sqlalchemy import select

from agency.db import db
from tenants import service
from tenants.context import tenant_context
from tenants.models import Agency, ClientCompany, Role

DEMO_PASSWORD = "regia-demo-2026"  # noqa: S105 - printed to the newcomer on purpose
DEMO_SLUG = "aurora-social"

USERS = [
    (Role.OWNER, "owner@aurora.example", "Olivia Owner"),
    (Role.MANAGER, "manager@aurora.example", "Marco Manager"),
    (Role.STAFF, "staff@aurora.example", "Sara Staff"),
    (Role.FINANCE, "finance@aurora.example", "Franco Finance"),
    (Role.CLIENT_MANAGER, "manager@bellavista.example", "Chiara Cliente"),
    (Role.CLIENT_VIEWER, "viewer@bellavista.example", "Vittorio Viewer"),
]


def seed_demo() -> tuple[Agency, list[tuple[str, str]]]:
    logins = [(role.value, email) for role, email, _name in USERS]
    agency = db.session.scalar(select(Agency).where(Agency.slug == DEMO_SLUG))
    if agency is not None:
        return agency, logins
    owner_role, owner_email, owner_name = USERS[0]
    agency, _owner = service.create_agency_with_owner(
        "Aurora Social", owner_name, owner_email, DEMO_PASSWORD
    )
    agency.slug = DEMO_SLUG
    with tenant_context(agency.id):
        trattoria = ClientCompany(
            name="Trattoria Bella Vista",
            legal_name="Bella Vista S.r.l.",
            country="IT",
            vat_number="IT00743110157",
            address="Via Roma 1, 20121 Milano MI",
            billing_email="amministrazione@bellavista.example",
            sdi_code="M5UXCR1",
            currency="EUR",
            timezone="Europe/Rome",
            language="it",
            status="active",
        )
        northwind = ClientCompany(
            name="Northwind Outdoor",
            legal_name="Northwind Outdoor Ltd",
            country="GB",
            billing_email="accounts@northwind.example",
            currency="GBP",
            timezone="Europe/London",
            language="en",
            status="onboarding",
        )
        db.session.add_all([trattoria, northwind])
        db.session.flush()
        for role, email, name in USERS[1:]:
            user = service.find_user_by_email(email) or service.create_user(
                name, email, DEMO_PASSWORD
            )
            client_id = trattoria.id if role.is_client_role else None
            membership = service.add_membership(user, agency, role, client_id=client_id)
            if role == Role.STAFF:
                service.assign_staff(membership, trattoria.id)
    db.session.commit()
    return agency, logins

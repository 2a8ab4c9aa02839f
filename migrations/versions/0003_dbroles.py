"""Composite tenant foreign keys and race-proof uniqueness.

- ``(agency_id, client_id)`` → ``client_companies (agency_id, id)`` on every tenant child, so
  a row can never point at another agency's client (DESIGN.md §3); every unique constraint
  on a tenant table includes ``agency_id``.
- One agency-team membership per user and agency (the old constraint let NULL ``client_id``
  duplicates through), one pending invitation per address and scope: partial unique
  indexes, so concurrent requests cannot both pass the service's check.

The runtime role's grants are given by ``migrations/env.py`` after every run.

Revision ID: 0003
Revises: 0002_onboarding
Create Date: 2026-11-27
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002_onboarding"
branch_labels = None
depends_on = None

CLIENT_CHILDREN = ("staff_assignments", "approval_policies", "channels")
TEAM = "client_id IS NULL"
PENDING = "accepted_at IS NULL AND revoked_at IS NULL"


def _where(condition: str) -> dict:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def _fk(table: str) -> str:
    return f"fk_{table}_client_id_client_companies"


def upgrade() -> None:
    op.create_index(
        "uq_client_companies_agency_id_id", "client_companies", ["agency_id", "id"], unique=True
    )
    for table in CLIENT_CHILDREN:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(_fk(table), type_="foreignkey")
            batch.create_foreign_key(
                _fk(table),
                "client_companies",
                ["agency_id", "client_id"],
                ["agency_id", "id"],
                ondelete="CASCADE",
            )
    with op.batch_alter_table("staff_assignments") as batch:
        batch.drop_constraint("uq_staff_assignment", type_="unique")
        batch.create_unique_constraint(
            "uq_staff_assignment", ["agency_id", "membership_id", "client_id"]
        )
    with op.batch_alter_table("approval_policies") as batch:
        batch.drop_constraint("uq_approval_policies_client_id", type_="unique")
        batch.create_unique_constraint("uq_approval_policies_client_id", ["agency_id", "client_id"])

    bind = op.get_bind()
    # Duplicates the old constraints let through: keep one agency-team membership (the
    # active, oldest) and the newest pending invitation; close the others.
    bind.execute(
        sa.text(
            "DELETE FROM memberships WHERE client_id IS NULL AND id NOT IN ("
            " SELECT id FROM (SELECT id, ROW_NUMBER() OVER ("
            "  PARTITION BY user_id, agency_id ORDER BY active DESC, created_at, id) AS n"
            "  FROM memberships WHERE client_id IS NULL) AS ranked WHERE n = 1)"
        )
    )
    bind.execute(
        sa.text(
            f"UPDATE invitations SET revoked_at = :now WHERE {PENDING} AND id NOT IN ("
            " SELECT id FROM (SELECT id, ROW_NUMBER() OVER ("
            "  PARTITION BY agency_id, email, client_id ORDER BY created_at DESC, id) AS n"
            f"  FROM invitations WHERE {PENDING}) AS ranked WHERE n = 1)"
        ).bindparams(sa.bindparam("now", datetime.now(UTC), type_=sa.DateTime(timezone=True)))
    )
    op.create_index(
        "uq_memberships_agency_team",
        "memberships",
        ["user_id", "agency_id"],
        unique=True,
        **_where(TEAM),
    )
    op.create_index(
        "uq_invitations_pending_agency_team",
        "invitations",
        ["agency_id", "email"],
        unique=True,
        **_where(f"{PENDING} AND client_id IS NULL"),
    )
    op.create_index(
        "uq_invitations_pending_client",
        "invitations",
        ["agency_id", "email", "client_id"],
        unique=True,
        **_where(f"{PENDING} AND client_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_invitations_pending_client", table_name="invitations")
    op.drop_index("uq_invitations_pending_agency_team", table_name="invitations")
    op.drop_index("uq_memberships_agency_team", table_name="memberships")
    with op.batch_alter_table("approval_policies") as batch:
        batch.drop_constraint("uq_approval_policies_client_id", type_="unique")
        batch.create_unique_constraint("uq_approval_policies_client_id", ["client_id"])
    with op.batch_alter_table("staff_assignments") as batch:
        batch.drop_constraint("uq_staff_assignment", type_="unique")
        batch.create_unique_constraint("uq_staff_assignment", ["membership_id", "client_id"])
    for table in CLIENT_CHILDREN:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(_fk(table), type_="foreignkey")
            batch.create_foreign_key(
                _fk(table), "client_companies", ["client_id"], ["id"], ondelete="CASCADE"
            )
    op.drop_index("uq_client_companies_agency_id_id", table_name="client_companies")

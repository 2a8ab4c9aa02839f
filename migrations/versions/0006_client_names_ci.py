"""Client names unique per agency whatever their case.

Revision ID: 0006_client_names_ci
Revises: 0005_channel_names_webhook_urls
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_client_names_ci"
down_revision = "0005_channel_names_webhook_urls"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An expression index: portable across PostgreSQL and SQLite (lower() is ASCII-only there).
    with op.batch_alter_table("client_companies") as batch:
        batch.drop_constraint("uq_client_companies_name", type_="unique")
    op.create_index(
        "uq_client_companies_name_ci",
        "client_companies",
        ["agency_id", sa.text("lower(name)")],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_client_companies_name_ci", table_name="client_companies")
    with op.batch_alter_table("client_companies") as batch:
        batch.create_unique_constraint("uq_client_companies_name", ["agency_id", "name"])

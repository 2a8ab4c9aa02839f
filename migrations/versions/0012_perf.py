"""Performance: the calendar's range query reads an index, not every revision.

``revisions (agency_id, scheduled_at)``: a week of the calendar read all of an agency's
revisions (10,000 posts: a 12 ms sequential scan per page, growing with the data).

Revision ID: 0012_perf
Revises: 0011_publishing
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0012_perf"
down_revision = "0011_publishing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_revisions_agency_id_scheduled_at", "revisions", ["agency_id", "scheduled_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_revisions_agency_id_scheduled_at", table_name="revisions")

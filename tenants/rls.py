"""PostgreSQL row-level security for tenant tables, used by migrations (layer 2 of 2)."""

from __future__ import annotations

POLICY = "tenant_isolation"
# NULLIF: an unset or empty setting matches no row instead of failing the cast.
CURRENT_AGENCY = "NULLIF(current_setting('app.agency_id', true), '')::uuid"


def enable_rls(op, table: str) -> None:  # noqa: ANN001 - alembic.op
    """ENABLE + FORCE RLS (so the tables' owner is bound too) with one USING/WITH CHECK policy."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY {POLICY} ON {table} "
        f"USING (agency_id = {CURRENT_AGENCY}) WITH CHECK (agency_id = {CURRENT_AGENCY})"
    )


def disable_rls(op, table: str) -> None:  # noqa: ANN001
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")

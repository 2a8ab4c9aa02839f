"""The sweeps' database digest (``tests/world.snapshot``) sees every change a request could
make: a sweep that finds "nothing written" is only as good as this digest."""

from __future__ import annotations

from sqlalchemy import text

from agency.db import db
from tests.pg import ground_truth
from tests.world import build_world, changed_tables, snapshot


def _run(sql: str, **params: object) -> None:
    with ground_truth(db.engine) as conn:
        conn.execute(text(sql), params)
        conn.commit()


def test_a_snapshot_sees_one_changed_column_and_a_deleted_row(app, database_url):
    build_world("Snapshot Agency")
    start = snapshot()
    assert snapshot() == start  # the same rows, the same digest

    _run("UPDATE client_companies SET name = name || '.' WHERE name LIKE '%Globex'")
    renamed = snapshot()
    assert changed_tables(start, renamed) == ["client_companies"]

    _run("UPDATE client_companies SET name = rtrim(name, '.') WHERE name LIKE '%Globex.'")
    assert snapshot() == start  # changed back: the digest is of the content, not of a write

    _run("DELETE FROM channel_syncs")  # the world's one sync cursor
    assert changed_tables(start, snapshot()) == ["channel_syncs"]


def test_a_snapshot_ignores_only_an_api_tokens_last_use(app, database_url):
    build_world("Snapshot Agency")
    start = snapshot()
    _run("UPDATE api_tokens SET last_used_at = CURRENT_TIMESTAMP")
    assert snapshot() == start  # moves on reads, at most once a minute, by design
    _run("UPDATE api_tokens SET name = name || '!'")
    assert changed_tables(start, snapshot()) == ["api_tokens"]

"""The sweeps' database digest (``tests/world.snapshot``) sees every change a request could
make: a sweep that finds "nothing written" is only as good as this digest."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from agency.db import db
from tests.pg import ground_truth
from tests.world import WriteWatch, build_world, changed_tables, snapshot


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


def test_a_write_watch_digests_only_after_a_statement_that_may_write(app, database_url):
    """The sweeps take a digest only after a request that sent a statement that may write
    (``WriteWatch``); ``settled`` catches a write that no SQLAlchemy engine sent."""
    build_world("Watched Agency")
    with WriteWatch() as watch:
        state = snapshot()
        mark = watch.writes
        db.session.execute(text("SELECT 'delete me' AS note FROM users")).all()
        db.session.rollback()
        assert watch.writes == mark + 1  # a word that may write costs a digest, never a miss
        mark = watch.writes
        db.session.execute(text("SELECT count(*) FROM users")).all()
        db.session.rollback()
        assert watch.state_after(state, mark) is state  # a read: no digest taken

        _run("UPDATE client_companies SET name = name || '.' WHERE name LIKE '%Globex'")
        state = watch.state_after(state, mark)
        assert changed_tables(snapshot(), state) == []  # the digest was taken afresh
        watch.settled(state)

        raw = db.engine.raw_connection()  # a DB-API cursor: no SQLAlchemy event sees it
        try:
            raw.cursor().execute("UPDATE users SET name = name || '!'")
            raw.commit()
        finally:
            raw.close()
        mark = watch.writes
        assert watch.state_after(state, mark) is state
        with pytest.raises(AssertionError, match="users"):
            watch.settled(state)

"""A forked child (an RQ work horse, each mutant of a mutmut run) never talks to the database
on a connection it inherited from its parent's pool: two processes on one socket read each
other's answers, and the server's state of it (prepared statements, an open transaction) is
whatever the other process left. The mutmut run found that as spurious failures."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from agency.db import db

pytestmark = pytest.mark.postgresql


def _backend_pid_in_a_fork() -> int:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one query through the engine it inherited, then out
        code = 1
        try:
            with db.engine.connect() as conn:
                os.write(
                    write_end, str(conn.execute(text("SELECT pg_backend_pid()")).scalar()).encode()
                )
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as answer:
        child_pid = answer.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return int(child_pid)


def test_a_forked_child_opens_its_own_connection_and_leaves_the_parents_alone(app) -> None:
    with db.engine.connect() as conn:  # now pooled in this process
        parent_backend = conn.execute(text("SELECT pg_backend_pid()")).scalar()

    assert _backend_pid_in_a_fork() != parent_backend

    with db.engine.connect() as conn:  # the parent's pool is still in working order
        assert conn.execute(text("SELECT 1")).scalar() == 1

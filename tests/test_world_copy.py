"""The sweeps' world is put back from a copy (tests/world.py): the copy must be the world.

A copy that lost a table, a Redis key or the links between rows would make the sweeps test
less than they say; a copy kept too long would give them stale times.
"""

from __future__ import annotations

import os

import pytest

from agency.jobs import redis_client
from tests import world as worlds
from tests.helpers import bearer
from tests.world import build_world, sign_in, sign_in_as, snapshot, truncate_all

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("REGIA_TEST_FRESH_WORLDS")), reason="REGIA_TEST_FRESH_WORLDS: no copies"
)


def test_a_world_is_put_back_exactly_as_it_was_built(app, database_url):
    first = build_world("Copied Agency")
    rows = snapshot()
    run_key = f"rq:job:{first.objects['invoice_run']}"
    assert redis_client().exists(run_key)
    truncate_all()
    redis_client().flushdb()

    again = build_world("Copied Agency")

    assert snapshot() == rows
    assert redis_client().exists(run_key)
    assert again.agency.id == first.agency.id
    assert again.objects == first.objects and again.tokens == first.tokens
    assert {role: user.id for role, user in again.users.items()} == {
        role: user.id for role, user in first.users.items()
    }
    # The world's credentials still open it: its token, and its users' sessions.
    web = app.test_client()
    answer = web.get("/api/v1/clients", headers=bearer(again.tokens["owner"]))
    assert answer.status_code == 200
    assert str(again.objects["client"]) in answer.get_data(as_text=True)
    sign_in(web, again.users["client_manager"])
    assert web.get("/account").status_code == 200
    # The sessions made with the world (``sign_in_as``) are put back live too.
    assert again.sessions == first.sessions and set(again.sessions) == set(again.users)
    for role in again.sessions:
        web = app.test_client()
        sign_in_as(web, again, role)
        assert web.get("/account").status_code == 200, role


def test_a_copy_older_than_its_limit_is_built_afresh(app, database_url, monkeypatch):
    first = build_world("Aging Agency")
    truncate_all()
    redis_client().flushdb()
    monkeypatch.setattr(worlds, "TEMPLATE_MAX_AGE", 0.0)

    again = build_world("Aging Agency")

    assert again.agency.id != first.agency.id


def test_a_world_built_on_other_rows_is_not_taken_from_the_copy(app, database_url):
    first = build_world("Layered Agency")
    second = build_world("Layered Agency")  # on top of the first: not the empty database

    assert second.agency.id != first.agency.id

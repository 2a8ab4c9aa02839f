"""API refusals are worded one way, in the caller's language, and a time without its UTC
offset is refused instead of being read as UTC.

Before: a 422's ``message`` was the HTTP reason ("The request was well-formed but was unable
to be followed due to semantic errors."), a service's "Validation failed." or the field's
text, depending on which layer refused; bad JSON got Werkzeug's "The browser (or proxy) sent
a request that this server could not understand."; marshmallow's messages stayed English for
an Italian caller; and ``scheduled_at: 2027-01-01T10:00:00`` was stored as 10:00 UTC, 11:00
for a client in Rome, while ``POST /tokens`` refused the same value.
"""

from __future__ import annotations

from sqlalchemy import func, select

from agency.content.models import Post
from agency.db import db
from tenants.context import tenant_context
from tenants.fields import NAIVE_TIME
from tests.content_helpers import make_desk

BAD_JSON = {"data": "{not json", "content_type": "application/json"}


def _post(http, desk, **fields):  # noqa: ANN001, ANN202
    body = {
        "client_id": desk.ids["client"],
        "body": "Hello",
        "channel_ids": [desk.ids["mastodon"]],
        **fields,
    }
    return http.post("/api/v1/posts", json=body, headers=desk.headers["staff"])


def _posts(desk) -> int:  # noqa: ANN001
    with tenant_context(desk.ids["agency"]):
        return db.session.scalar(select(func.count()).select_from(Post))


def test_a_time_without_its_offset_is_refused_and_nothing_is_written(client, database_url):
    desk = make_desk()

    naive = _post(client, desk, scheduled_at="2031-01-01T10:00:00")

    assert naive.status_code == 422
    assert naive.json["errors"] == {"json": {"scheduled_at": [NAIVE_TIME]}}
    assert naive.json["message"] == NAIVE_TIME
    assert _posts(desk) == 0
    for aware in ("2031-01-01T10:00:00+01:00", "2031-01-01T09:00:00Z"):
        created = _post(client, desk, scheduled_at=aware)
        assert created.status_code == 201, created.json
        assert created.json["scheduled_at"].startswith("2031-01-01T09:00:00")


def test_a_token_without_its_offset_gets_the_same_words(client, database_url):
    body = {"email": "a@example.com", "password": "x" * 12, "agency": "a"}
    response = client.post("/api/v1/tokens", json={**body, "expires_at": "2031-01-01T10:00:00"})
    assert response.status_code == 422
    assert response.json["errors"]["json"]["expires_at"] == [NAIVE_TIME]


def test_bad_json_says_so_in_the_callers_language(client, database_url):
    desk = make_desk()
    for language, words in (("en", "The body is not valid JSON."), ("it", "non è JSON valido")):
        headers = {**desk.headers["staff"], "Accept-Language": language}
        refused = client.post("/api/v1/posts", headers=headers, **BAD_JSON)
        assert refused.status_code == 400
        assert words in refused.json["message"]
        assert refused.json["errors"] == {"json": [refused.json["message"]]}
    assert _posts(desk) == 0


def test_several_problems_are_counted_and_each_is_in_the_callers_language(client, database_url):
    english = client.post("/api/v1/tokens", json={"email": "a@example.com"})
    italian = client.post(
        "/api/v1/tokens", json={"email": "a@example.com"}, headers={"Accept-Language": "it"}
    )

    assert english.status_code == italian.status_code == 422
    assert english.json["message"] == "2 problems with the request: see errors."
    assert english.json["errors"]["json"]["password"] == ["Missing data for required field."]
    assert italian.json["message"] == "2 problemi nella richiesta: vedi errors."
    assert italian.json["errors"]["json"]["password"] == ["Campo obbligatorio mancante."]


def test_a_service_refusal_with_one_problem_says_it_in_the_message(client, database_url):
    desk = make_desk()
    refused = _post(client, desk, channel_ids=[desk.ids["other_channel"]])  # another client's

    assert refused.status_code == 422
    (problem,) = [m for ms in refused.json["errors"]["json"].values() for m in ms]
    assert refused.json["message"] == problem
    assert refused.json["message"] != "Validation failed."

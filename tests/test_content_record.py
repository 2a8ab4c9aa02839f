"""The approval record export: every decision with revision hash, person, time and channel."""

from __future__ import annotations

import csv
import io

from tests.content_helpers import act, draft, make_desk


def _login(app, auth, desk, who: str):  # noqa: ANN202
    web = app.test_client()
    assert auth.__class__(web).login(desk.users[who].email).status_code == 302
    return web


def _rows(response) -> list[dict]:
    assert response.status_code == 200, response.status_code
    text = response.get_data(as_text=True).lstrip("\ufeff")
    return list(csv.DictReader(io.StringIO(text)))


def test_approval_record_lists_every_decision_with_hash_person_and_channel(
    app, auth, client, database_url
):
    desk = make_desk()
    post = draft(client, desk, body="=HYPERLINK(evil)")
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "approve", "manager")
    approved = act(client, desk, post["id"], "approve", "cm").get_json()
    url = f"/a/{desk.agency.slug}/posts/approval-record/{desk.ids['client']}.csv"

    rows = _rows(_login(app, auth, desk, "owner").get(url))
    assert [(r["step"], r["decision"], r["via"], r["email"]) for r in rows] == [
        ("internal", "approve", "api", desk.users["manager"].email),
        ("client", "approve", "api", desk.users["cm"].email),
    ]
    assert {r["content_hash"] for r in rows} == {approved["content_hash"]}
    assert rows[0]["text"] == "'=HYPERLINK(evil)"  # not a formula in a spreadsheet
    assert rows[0]["decided_at_utc"].endswith("+00:00")

    client_rows = _rows(_login(app, auth, desk, "cm").get(url))
    assert [r["step"] for r in client_rows] == ["client"]
    assert _login(app, auth, desk, "other_cm").get(url).status_code == 404
    assert _login(app, auth, desk, "finance").get(url).status_code == 403

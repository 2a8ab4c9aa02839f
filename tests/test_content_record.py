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


def _pdf_text(response) -> str:
    from pypdf import PdfReader

    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.get_data()))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_approval_record_pdf_lists_every_decision_with_hash_person_channel_and_text(
    app, auth, client, database_url
):
    desk = make_desk()
    text = "Caffè e brioche — 10% di sconto, ÀÉÎÕÜ ñ ß Ωμέγα"
    post = draft(client, desk, body=text)
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "approve", "manager")
    approved = act(client, desk, post["id"], "approve", "cm").get_json()
    url = f"/a/{desk.agency.slug}/posts/approval-record/{desk.ids['client']}.pdf"

    owner_text = _pdf_text(_login(app, auth, desk, "owner").get(url))
    flat = " ".join(owner_text.split())
    assert text in flat  # the exact text decided on, Unicode intact
    assert flat.count(approved["content_hash"]) == 2  # one per decision
    for who in ("manager", "cm"):
        assert desk.users[who].email in flat and desk.users[who].name in flat
    assert "Agency review" in flat and "Client approval" in flat
    assert flat.count("through the API") == 2
    assert flat.count("Approved · ") == 2

    client_text = " ".join(_pdf_text(_login(app, auth, desk, "cm").get(url)).split())
    assert "Agency review" not in client_text and desk.users["manager"].email not in client_text
    assert client_text.count("Client approval") == 1 and desk.users["cm"].email in client_text
    assert _login(app, auth, desk, "other_cm").get(url).status_code == 404
    assert _login(app, auth, desk, "finance").get(url).status_code == 403


def test_approval_record_pdf_names_decisions_made_by_link_and_the_superseded(
    app, auth, client, database_url
):
    from agency.content.models import Approval
    from agency.db import db
    from tenants.context import tenant_context

    desk = make_desk(internal_review=False)
    post = draft(client, desk, body="First text")
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "request-changes", "cm", comment="Shorter please")
    with tenant_context(desk.ids["agency"]):  # as the magic-link review page records it
        db.session.query(Approval).update({"via": "link"})
        db.session.commit()
    url = f"/a/{desk.agency.slug}/posts/approval-record/{desk.ids['client']}.pdf"
    flat = " ".join(_pdf_text(_login(app, auth, desk, "owner").get(url)).split())
    assert "via e-mailed link" in flat and "Changes requested" in flat
    assert "Comment: Shorter please" in flat

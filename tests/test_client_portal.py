"""The client portal: a client user sees only their company, never the agency's inside."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from agency.db import db, utcnow
from tenants.context import tenant_context
from tenants.models import Role
from tests.content_helpers import Desk, act, desk_ids, desk_objects, draft, make_desk
from tests.factories import make_agency, make_client, make_member, token_for
from tests.helpers import bearer, form_post
from tests.world import seeded

CLIENT_ROLES = [Role.CLIENT_MANAGER, Role.CLIENT_VIEWER]


@pytest.mark.parametrize("role", CLIENT_ROLES)
def test_client_user_sees_only_their_company(client, auth, database_url, role: Role):
    agency = make_agency("Aurora Social")
    mine = make_client(agency, "Trattoria Bella Vista")
    other = make_client(agency, "Northwind Outdoor")
    user = make_member(agency, role, client=mine)

    landing = auth.login(user.email)

    assert landing.location.endswith(f"/a/{agency.slug}/")
    html = client.get(landing.location).get_data(as_text=True)
    assert "Trattoria Bella Vista" in html
    assert "Northwind Outdoor" not in html
    assert f"/a/{agency.slug}/members" not in html and f"/a/{agency.slug}/settings" not in html
    assert client.get(f"/a/{agency.slug}/clients/{mine.id}").status_code == 200
    assert client.get(f"/a/{agency.slug}/clients/{other.id}").status_code == 404
    listing = client.get(f"/a/{agency.slug}/clients/").get_data(as_text=True)
    assert "Trattoria Bella Vista" in listing and "Northwind Outdoor" not in listing


@pytest.mark.parametrize("role", CLIENT_ROLES)
def test_client_user_never_reaches_members_or_settings(client, auth, database_url, role: Role):
    agency = make_agency()
    user = make_member(agency, role, client=make_client(agency))
    auth.login(user.email)
    token = token_for(user, agency)

    for path in ("members", "settings"):
        assert client.get(f"/a/{agency.slug}/{path}").status_code == 403
    for path in ("members", "invitations", "agency"):
        assert client.get(f"/api/v1/{path}", headers=bearer(token)).status_code == 403


def test_client_user_of_another_agency_sees_nothing_here(client, auth, database_url):
    agency = make_agency()
    elsewhere = make_agency()
    user = make_member(elsewhere, Role.CLIENT_MANAGER, client=make_client(elsewhere))
    auth.login(user.email)
    assert client.get(f"/a/{agency.slug}/").status_code == 404
    assert client.get(f"/a/{agency.slug}/logo").status_code == 404


def test_client_user_invited_for_two_companies_sees_both_and_no_third(client, auth, database_url):
    agency = make_agency()
    first, second = make_client(agency, "Alfa Srl"), make_client(agency, "Beta Spa")
    make_client(agency, "Gamma Snc")
    user = make_member(agency, Role.CLIENT_MANAGER, client=first)
    from agency.db import db
    from tenants import service

    service.add_membership(user, agency, Role.CLIENT_VIEWER, client_id=second.id)
    db.session.commit()
    auth.login(user.email)

    html = client.get(f"/a/{agency.slug}/").get_data(as_text=True)

    assert "Alfa Srl" in html and "Beta Spa" in html and "Gamma Snc" not in html


# -- the portal's home ------------------------------------------------------------------------


def _sent(http, desk, body: str, **fields) -> dict:  # noqa: ANN001
    """A post of Bellavista through internal review, now awaiting its client managers."""
    post = draft(http, desk, body=body, **fields)
    assert act(http, desk, post["id"], "submit", "staff").status_code == 200
    assert act(http, desk, post["id"], "approve", "manager").status_code == 200
    return post


def _comment(http, desk, post_id: str, body: str, visibility: str) -> None:  # noqa: ANN001
    r = http.post(
        f"/api/v1/posts/{post_id}/comments",
        json={"body": body, "visibility": visibility},
        headers=desk.h("staff"),
    )
    assert r.status_code == 201, r.get_json()


def _published(desk, post_id: str, url: str) -> None:  # noqa: ANN001
    from agency.content.models import Post, PostTarget

    with tenant_context(desk.ids["agency"]):
        post = db.session.get(Post, uuid.UUID(post_id))
        post.status = "published"
        for target in db.session.scalars(select(PostTarget).where(PostTarget.post_id == post.id)):
            target.status, target.external_url = "published", url
        db.session.commit()


@pytest.fixture
def portal_desk(client, database_url):
    """Bellavista's posts in every situation the portal must show or hide; seeded once per
    process and put back from a copy afterwards (``tests.world.seeded``)."""

    def build() -> dict:
        desk = _portal_desk(client)
        return {"desk": desk_ids(desk), "posts": desk.posts, "soon": desk.soon}

    def thaw(seed: dict) -> Desk:
        desk = desk_objects(seed["desk"])
        desk.posts, desk.soon = seed["posts"], seed["soon"]
        return desk

    return seeded("client portal desk", build, thaw=thaw)


def _portal_desk(client) -> Desk:  # noqa: ANN001
    desk = make_desk()
    soon = utcnow() + timedelta(hours=1)
    posts = {
        "waiting": _sent(
            client, desk, "Waiting for you: autumn menu", scheduled_at=soon.isoformat()
        ),
        "draft": draft(client, desk, body="Unsent draft: staff party"),
        "revised": _sent(client, desk, "First version of the brunch post"),
    }
    posts["other"] = draft(
        client,
        desk,
        "owner",
        body="Other Co secret launch",
        client_id=desk.ids["other_client"],
        channel_ids=[desk.ids["other_channel"]],
    )
    # Changes asked, then the agency revises: the client must not see the new text yet.
    act(client, desk, posts["revised"]["id"], "request-changes", "cm", comment="Warmer please")
    r = client.patch(
        f"/api/v1/posts/{posts['revised']['id']}",
        json={"body": "Second version not sent yet"},
        headers=desk.h("staff"),
    )
    assert r.status_code == 200, r.get_json()
    _comment(client, desk, posts["waiting"]["id"], "Shared: photos come Monday", "shared")
    _comment(client, desk, posts["waiting"]["id"], "Internal: client is slow to pay", "internal")
    posts["published"] = _sent(client, desk, "Published: we are open on Sunday")
    act(client, desk, posts["published"]["id"], "approve", "cm")
    _published(desk, posts["published"]["id"], "https://toot.example/@bella/1")
    desk.posts = posts
    desk.soon = soon
    return desk


def _home(client, auth, desk, who: str) -> str:  # noqa: ANN001
    landing = auth.login(desk.users[who].email)
    assert landing.location.endswith(f"/a/{desk.agency.slug}/")
    response = client.get(landing.location)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_client_manager_home_shows_what_waits_the_week_comments_and_published(
    client, auth, portal_desk
):
    desk = portal_desk
    html = _home(client, auth, desk, "cm")
    waiting = html.split('id="portal-waiting-list"')[1].split("</table>")[0]
    assert "Waiting for you: autumn menu" in waiting
    assert f'value="{desk.posts["waiting"]["id"]}:1"' in waiting  # a bulk-approve checkbox
    assert "First version of the brunch post" not in waiting  # changes asked: not waiting
    assert 'action="/a/' + desk.agency.slug + '/posts/queue/approve"' in html
    if desk.soon.isocalendar()[:2] == utcnow().isocalendar()[:2]:
        week = html.split('id="portal-week-list"')[1].split("</ul>")[0]
        assert "Waiting for you: autumn menu" in week
    assert "Shared: photos come Monday" in html.split('id="portal-comment-list"')[1]
    published = html.split('id="portal-published-list"')[1]
    assert "Published: we are open on Sunday" in published
    assert 'href="https://toot.example/@bella/1"' in published


@pytest.mark.parametrize("who", ["cm", "viewer"])
def test_client_home_never_shows_other_clients_unsent_drafts_or_internal_notes(
    client, auth, portal_desk, who: str
):
    html = _home(client, auth, portal_desk, who)
    for hidden in (
        "Other Co",  # another client of the agency, by name
        "Other Co secret launch",
        "Unsent draft: staff party",  # never sent to the client
        "Second version not sent yet",  # revised after the client's request, not sent yet
        "Internal: client is slow to pay",
    ):
        assert hidden not in html, hidden


@pytest.mark.parametrize("who", ["cm", "viewer"])
def test_client_home_has_no_agency_wording_or_lifecycle(client, auth, portal_desk, who: str):
    html = _home(client, auth, portal_desk, who)
    slug = portal_desk.agency.slug
    for agency_word in (
        "Client companies", "Your company", "internal", "Internal", "Onboarding", "Staff",
        "Awaiting client", "Offboard", f'href="/a/{slug}/clients/', "Inbox",
    ):  # fmt: skip
        assert agency_word not in html, agency_word
    assert f'href="/a/{slug}/clients/"' not in html  # no "Clients" menu item
    assert ">Home<" in html


def test_client_viewer_sees_what_waits_without_deciding(client, auth, portal_desk):
    html = _home(client, auth, portal_desk, "viewer")
    waiting = html.split('id="portal-waiting-list"')[1].split("</table>")[0]
    assert "Waiting for you: autumn menu" in waiting
    assert 'name="post"' not in html and "/posts/queue/approve" not in html
    assert "Waiting for approval" in html


def test_bulk_approve_from_the_home_approves_and_comes_back(client, auth, portal_desk):
    desk = portal_desk
    _home(client, auth, desk, "cm")
    post_id = desk.posts["waiting"]["id"]
    r = form_post(
        client,
        f"/a/{desk.agency.slug}/posts/queue/approve",
        {"post": f"{post_id}:1", "back": "home"},
        page=f"/a/{desk.agency.slug}/",
    )
    assert r.status_code == 302 and r.location.endswith(f"/a/{desk.agency.slug}/")
    got = client.get(f"/api/v1/posts/{post_id}", headers=desk.h("cm")).get_json()
    assert got["status"] in ("approved", "scheduled")
    html = client.get(r.location).get_data(as_text=True)
    assert "1 post approved." in html
    assert (
        "Waiting for you: autumn menu"
        not in html.split('id="portal-waiting"')[1].split("</section>")[0]
    )


def test_an_agency_member_who_is_also_a_client_user_gets_the_agency_dashboard(
    client, auth, database_url
):
    agency = make_agency()
    mine = make_client(agency, "Alfa Srl")
    user = make_member(agency, Role.STAFF, assigned=[mine])
    from tenants import service

    service.add_membership(user, agency, Role.CLIENT_VIEWER, client_id=mine.id)
    db.session.commit()
    auth.login(user.email)
    html = client.get(f"/a/{agency.slug}/").get_data(as_text=True)
    assert "Your clients" in html and 'id="portal-waiting"' not in html


@pytest.mark.parametrize("who", ["cm", "viewer"])
def test_client_pages_speak_the_clients_language(client, auth, portal_desk, who: str):
    desk = portal_desk
    auth.login(desk.users[who].email)
    slug = desk.agency.slug
    detail = client.get(f"/a/{slug}/posts/{desk.posts['waiting']['id']}").get_data(as_text=True)
    calendar = client.get(f"/a/{slug}/posts/calendar").get_data(as_text=True)
    listing = client.get(f"/a/{slug}/posts/").get_data(as_text=True)
    queue = client.get(f"/a/{slug}/posts/queue").get_data(as_text=True)
    for html in (detail, calendar, listing, queue):
        assert "Awaiting client approval" not in html and "In internal review" not in html
        assert "post.status_changed" not in html and "post.commented" not in html
    assert "Waiting for approval" in detail and "Status changed" in detail
    assert "All clients" not in calendar and 'id="cal-client"' not in calendar
    assert ">Draft<" not in calendar and ">Draft<" not in listing


@pytest.mark.parametrize("role", CLIENT_ROLES)
def test_client_user_never_sees_the_client_lifecycle(client, auth, database_url, role: Role):
    agency = make_agency()
    mine = make_client(agency, "Alfa Srl")  # still onboarding
    user = make_member(agency, role, client=mine)
    auth.login(user.email)
    listing = client.get(f"/a/{agency.slug}/clients/").get_data(as_text=True)
    page = client.get(f"/a/{agency.slug}/clients/{mine.id}").get_data(as_text=True)
    assert "Alfa Srl" in listing and "Alfa Srl" in page
    for html in (listing, page):
        assert 'id="status-filter"' not in html and 'id="client-status"' not in html
        assert "onboarding-checklist" not in html and "Onboarding" not in html


def test_bulk_approve_of_one_post_counts_it_in_the_singular_in_italian(client, auth, portal_desk):
    desk = portal_desk
    desk.users["cm"].locale = "it"
    db.session.commit()
    _home(client, auth, desk, "cm")
    post_id = desk.posts["waiting"]["id"]
    r = form_post(
        client,
        f"/a/{desk.agency.slug}/posts/queue/approve",
        {"post": f"{post_id}:1", "back": "home"},
        page=f"/a/{desk.agency.slug}/",
        follow_redirects=True,
    )
    html = r.get_data(as_text=True)
    assert "1 post approvato." in html and "approvati" not in html

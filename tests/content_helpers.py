"""A client with channels, a policy and one member per role, for the content workflow tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from agency.db import utcnow
from tenants.models import Role
from tests.factories import (
    make_agency,
    make_channel,
    make_client,
    make_member,
    make_policy,
    owner_of,
    token_for,
)
from tests.helpers import bearer


@dataclass
class Desk:
    agency: object
    client: object
    other_client: object
    mastodon: object
    x: object
    other_channel: object
    users: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)  # plain ids: usable after a rollback expires rows

    def h(self, who: str) -> dict:
        return self.headers[who]


def make_desk(*, client_approval: str = "any", internal_review: bool = True, **policy) -> Desk:
    """Bellavista (the client, with a Mastodon and an X channel), Other Co, a user per role
    and an approval policy; seeded once per process and put back from a copy afterwards
    (``tests.world.seeded``: same rows, ids and tokens)."""
    from tests.world import seeded

    options = {"client_approval": client_approval, "internal_review": internal_review, **policy}
    return seeded(
        f"desk {sorted(options.items())!r}",
        lambda: desk_ids(_build_desk(**options)),
        thaw=desk_objects,
    )


_DESK_OBJECTS = ("agency", "client", "other_client", "mastodon", "x", "other_channel")


def desk_ids(desk: Desk) -> Desk:
    """The desk with ids in place of its objects (what a copy keeps)."""
    return Desk(
        *(getattr(desk, name).id for name in _DESK_OBJECTS),
        users={name: user.id for name, user in desk.users.items()},
        headers=desk.headers,
        ids=desk.ids,
    )


def desk_objects(ids: Desk) -> Desk:
    from agency.channels.models import Channel
    from agency.db import db
    from tenants.context import tenant_context
    from tenants.models import Agency, ClientCompany, User

    with tenant_context(ids.agency):
        agency = db.session.get(Agency, ids.agency)
        clients = {c.id: c for c in db.session.query(ClientCompany)}
        channels = {c.id: c for c in db.session.query(Channel)}
        users = {u.id: u for u in db.session.query(User).filter(User.id.in_(ids.users.values()))}
    return Desk(
        agency,
        clients[ids.client],
        clients[ids.other_client],
        channels[ids.mastodon],
        channels[ids.x],
        channels[ids.other_channel],
        users={name: users[user_id] for name, user_id in ids.users.items()},
        headers=dict(ids.headers),
        ids=dict(ids.ids),
    )


def _build_desk(*, client_approval: str, internal_review: bool, **policy) -> Desk:
    agency = make_agency()
    client = make_client(agency, "Bellavista")
    other = make_client(agency, "Other Co")
    mastodon = make_channel(agency, client, name="Toots")
    x = make_channel(
        agency, client, network="x", name="Xeet", settings={}, secrets={"access_token": "t"}
    )
    other_channel = make_channel(agency, other, name="Other toots")
    desk = Desk(agency, client, other, mastodon, x, other_channel)
    desk.ids = {
        "agency": agency.id,
        "client": str(client.id),
        "other_client": str(other.id),
        "mastodon": str(mastodon.id),
        "x": str(x.id),
        "other_channel": str(other_channel.id),
    }
    desk.users["owner"] = owner_of(agency)
    desk.users["manager"] = make_member(agency, Role.MANAGER)
    desk.users["staff"] = make_member(agency, Role.STAFF, assigned=[client])
    desk.users["other_staff"] = make_member(agency, Role.STAFF, assigned=[other])
    desk.users["finance"] = make_member(agency, Role.FINANCE)
    desk.users["cm"] = make_member(agency, Role.CLIENT_MANAGER, client=client)
    desk.users["cm2"] = make_member(agency, Role.CLIENT_MANAGER, client=client)
    desk.users["viewer"] = make_member(agency, Role.CLIENT_VIEWER, client=client)
    desk.users["other_cm"] = make_member(agency, Role.CLIENT_MANAGER, client=other)
    make_policy(
        agency,
        client,
        internal_review=internal_review,
        client_approval=client_approval,
        **policy,
    )
    for name, user in desk.users.items():
        desk.headers[name] = bearer(token_for(user, agency))
        desk.ids[name] = str(user.id)
    return desk


def later(hours: int = 72) -> str:
    return (utcnow() + timedelta(hours=hours)).isoformat()


def draft(http, desk: Desk, who: str = "staff", **fields) -> dict:
    body = {
        "client_id": desk.ids["client"],
        "body": "Hello from Bellavista",
        "channel_ids": [desk.ids["mastodon"]],
        **fields,
    }
    response = http.post("/api/v1/posts", json=body, headers=desk.h(who))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def act(http, desk: Desk, post_id: str, action: str, who: str, **body):  # noqa: ANN201
    return http.post(f"/api/v1/posts/{post_id}/{action}", json=body, headers=desk.h(who))


class Desktop:
    """``draft``, ``act`` and ``comment`` through the service layer, as the API's views call
    it (same rules, audit, notifications, mail), without the HTTP round: for tests that
    only need many posts to exist (the 5-vs-100 statement counts), not to test the API."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    def _access(self, who: str):  # noqa: ANN202
        from tenants.service import load_access

        return load_access(self.desk.users[who], self.desk.agency)

    def draft(self, who: str = "staff", **fields) -> dict:
        from agency.content import service
        from tenants.context import tenant_context

        data = {
            "client_id": self.desk.ids["client"],
            "body": "Hello from Bellavista",
            "channel_ids": [self.desk.ids["mastodon"]],
            **fields,
        }
        # What the API's schema hands the service: ids and times parsed.
        data["channel_ids"] = [uuid.UUID(str(c)) for c in data["channel_ids"]]
        if isinstance(data.get("scheduled_at"), str):
            data["scheduled_at"] = datetime.fromisoformat(data["scheduled_at"])
        with tenant_context(self.desk.agency.id):
            return {"id": str(service.create_post(self._access(who), data).id)}

    def act(self, post_id: str, action: str, who: str, **body) -> None:
        from agency.content import decisions, service
        from agency.content.models import Decision
        from tenants.context import tenant_context

        with tenant_context(self.desk.agency.id):
            access, post = self._access(who), uuid.UUID(post_id)
            if action == "submit":
                service.submit(access, post)
            else:
                decisions.decide(access, post, Decision(action.replace("-", "_")), **body)

    def comment(self, post_id: str, who: str, body: str, visibility: str) -> None:
        from agency.content import discussion
        from tenants.context import tenant_context

        with tenant_context(self.desk.agency.id):
            data = {"body": body, "visibility": visibility}
            discussion.add_comment(self._access(who), uuid.UUID(post_id), data)


def content_objects(agency, client, author) -> dict:  # noqa: ANN001
    """A post sent to the client (with an image, decisions, a comment, review links) and an
    inbox item of ``client`` (on a new manual channel), for the sweeps
    over every route (tests/test_route_isolation.py, tests/test_no_server_errors.py)."""
    from agency.channels.models import Channel
    from agency.content import decisions, discussion, media, service
    from agency.content.models import Decision, InboxItem
    from agency.db import db
    from tenants.context import tenant_context
    from tenants.service import load_access

    with tenant_context(agency.id):
        channel = Channel(client_id=client.id, network="manual", name="Sweep channel")
        db.session.add(channel)
        db.session.commit()
        access = load_access(author, agency)
        ref = media.save_image(access, client, tiny_png())
        post = service.create_post(
            access,
            {
                "client_id": client.id, "body": "Sweep post", "channel_ids": [channel.id],
                "media": [ref],
            },
        )  # fmt: skip
        # Through review to the client: an approval, a review link, a comment exist too.
        service.submit(access, post.id)
        decisions.decide(access, post.id, Decision.APPROVE)
        discussion.add_comment(access, post.id, {"body": "Sweep note", "visibility": "shared"})
        item = InboxItem(
            client_id=client.id, channel_id=channel.id, external_id="sweep-1",
            author="@someone", body="A question", received_at=utcnow(),
        )  # fmt: skip
        db.session.add(item)
        db.session.commit()
        return {
            "post": post.id,
            "inbox_item": item.id,
            "content_channel": channel.id,
            "param:ref": ref,  # the image URL parameter of the post's media route
        }


def tiny_png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 20, 30)).save(out, format="PNG")
    return out.getvalue()

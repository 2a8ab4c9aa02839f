"""Post images: decoded to be accepted, bound to their client, served only to who may see."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from tests.content_helpers import act, draft, make_desk
from tests.factories import make_agency, make_channel, owner_of, token_for
from tests.helpers import bearer


def png(size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def desk(app, database_url):
    return make_desk()


def _upload(client, desk, content: bytes, who: str = "staff", client_id: str | None = None):  # noqa: ANN202
    return client.post(
        f"/api/v1/clients/{client_id or desk.ids['client']}/media",
        data={"file": (io.BytesIO(content), "picture.png")},
        headers=desk.h(who),
        content_type="multipart/form-data",
    )


def test_instagram_post_with_an_uploaded_image_submits_and_is_served_to_who_may_see(client, desk):
    insta = make_channel(
        desk.agency, desk.client, network="instagram", name="Gram", settings={}, secrets={}
    )
    r = _upload(client, desk, png())
    assert r.status_code == 201, r.get_json()
    ref = r.get_json()["ref"]
    post = draft(client, desk, channel_ids=[str(insta.id)])
    assert act(client, desk, post["id"], "submit", "staff").status_code == 422  # no image yet
    url = f"/api/v1/posts/{post['id']}"
    r = client.patch(url, json={"media": [ref]}, headers=desk.h("staff"))
    assert r.status_code == 200, r.get_json()
    assert act(client, desk, post["id"], "submit", "staff").status_code == 200

    from tests.helpers import AuthActions

    def web(who: str):  # noqa: ANN202
        session = client.application.test_client()
        AuthActions(session).login(desk.users[who].email)
        return session

    image_url = f"/a/{desk.agency.slug}/posts/{post['id']}/media/{ref}"
    owner_view = web("owner").get(image_url)
    assert owner_view.status_code == 200 and owner_view.mimetype == "image/png"
    assert web("cm").get(image_url).status_code == 404  # in internal review: not sent yet
    assert web("other_staff").get(image_url).status_code == 404


@pytest.mark.parametrize(
    "content",
    [b"", b"GIF89a not really", b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"%PDF-1.4"],
)
def test_anything_but_a_real_image_is_refused(client, desk, content):
    r = _upload(client, desk, content)
    assert r.status_code == 422 and "file" in r.get_json()["errors"]["json"]


def test_references_are_bound_to_their_client(client, desk):
    ref = _upload(client, desk, png()).get_json()["ref"]
    other = draft(
        client, desk, who="owner", client_id=desk.ids["other_client"],
        channel_ids=[desk.ids["other_channel"]],
    )  # fmt: skip
    r = client.patch(f"/api/v1/posts/{other['id']}", json={"media": [ref]}, headers=desk.h("owner"))
    assert r.status_code == 422 and "media" in r.get_json()["errors"]["json"]
    for bad in ("../../etc/passwd", "x.png", "media/1.jpg"):
        r = client.patch(
            f"/api/v1/posts/{other['id']}", json={"media": [bad]}, headers=desk.h("owner")
        )
        assert r.status_code == 422


def test_upload_needs_drafting_rights_and_an_own_client(client, desk):
    assert _upload(client, desk, png(), who="cm").status_code == 403
    assert _upload(client, desk, png(), who="other_staff").status_code == 404
    stranger = make_agency()
    headers = bearer(token_for(owner_of(stranger), stranger))
    r = client.post(
        f"/api/v1/clients/{desk.ids['client']}/media",
        data={"file": (io.BytesIO(png()), "p.png")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert r.status_code == 404


def test_editor_uploads_an_image_and_the_detail_page_shows_it(client, desk):
    from tests.helpers import AuthActions, csrf_from

    web = client.application.test_client()
    AuthActions(web).login(desk.users["staff"].email)
    new = f"/a/{desk.agency.slug}/posts/new?client_id={desk.ids['client']}"
    csrf = csrf_from(web.get(new).get_data(as_text=True))
    r = web.post(
        new,
        data={
            "csrf_token": csrf, "body": "With a picture", "channel_ids": [desk.ids["mastodon"]],
            "upload": (io.BytesIO(png()), "pic.png"),
        },
        content_type="multipart/form-data",
    )  # fmt: skip
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    html = web.get(r.headers["Location"]).get_data(as_text=True)
    [src] = re.findall(r'<img class="post-image[^>]*src="([^"]+)"', html)
    assert web.get(src).mimetype == "image/png"

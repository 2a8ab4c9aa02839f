# ruff: noqa: F811 - the publishing fixtures are imported from tests.publishing_support
"""A channel that needs reconnecting is an in-app notification too: written with the status
change (publishing job or health check), once per breakage, to the members e-mailed about it,
seen only by members who may manage the channel's client, linking to the channel's edit page;
read like any notice, counted in the navbar, gone with the channel. And migration 0016."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy import select, update

from agency import migrate
from agency.channels import jobs as channel_jobs
from agency.channels.models import Channel
from agency.db import db
from agency.notifications import service as inapp
from agency.notifications.models import Event, Notification
from agency.publishing import service as publishing
from tenants.context import tenant_context
from tenants.models import Agency, Role, User
from tenants.service import load_access
from tests import pg
from tests.conftest import EMBEDDED, SLOT
from tests.factories import make_client, make_member, owner_of
from tests.helpers import csrf_from
from tests.publishing_support import Shop, _mail_app, mailing_app, mastodon, sent  # noqa: F401
from tests.world import sign_in

EVENT = Event.CHANNEL_NEEDS_RECONNECT.value


def _email(shop: Shop, user_id: uuid.UUID) -> str:
    with tenant_context(shop.agency_id):
        return db.session.scalar(select(User.email).where(User.id == user_id))


def _owner(shop: Shop) -> SimpleNamespace:
    agency, _client = shop._fresh()
    owner = owner_of(agency)
    return SimpleNamespace(id=owner.id, email=owner.email)


def _notices(shop: Shop) -> list[SimpleNamespace]:
    """The channel notices written, as plain values (readable after any rollback)."""
    db.session.rollback()
    with tenant_context(shop.agency_id):
        rows = db.session.execute(
            select(
                Notification.id, Notification.user_id, Notification.channel_id,
                Notification.post_id, Notification.read_at,
            ).where(Notification.event == EVENT)
        ).all()  # fmt: skip
        db.session.rollback()
    return [SimpleNamespace(**row._asdict()) for row in rows]


def _reconnect_mail_recipients(sent: list) -> set[str]:
    return {m["To"] for m in sent if "reconnect" in m["Subject"].lower()}


def _web(app, shop: Shop, user_id: uuid.UUID):  # noqa: ANN202
    web = app.test_client()
    with tenant_context(shop.agency_id):
        sign_in(web, db.session.scalar(select(User).where(User.id == user_id)))
    return web


def _slug(shop: Shop) -> str:
    return shop._fresh()[0].slug


def _badge(html: str) -> str | None:
    found = re.search(r'id="nav-notifications"[^>]*>[^<]*<span[^>]*>(\d+)', html)
    return found.group(1) if found else None


def _edit_link(shop: Shop, channel_id: uuid.UUID) -> str:
    return f"/a/{_slug(shop)}/clients/{shop.client_id}/channels/{channel_id}/edit"


def _broken_by_a_publish_job(shop: Shop, mastodon) -> uuid.UUID:  # noqa: ANN001
    from agency.publishing.jobs import publish_target

    toots = shop.mastodon(mastodon, token="revoked-token")
    post_id = shop.approved_post([toots], "Refused credentials")
    (target,) = shop.targets(post_id).values()
    assert publish_target(str(shop.agency_id), str(target.id), 1) == "failed"
    return toots


def test_a_401_while_publishing_tells_the_owner_and_managers_in_the_app(app, mastodon, sent):
    shop = Shop()
    staff_id = shop.member(Role.STAFF).id  # assigned to the client: still not told
    agency, client = shop._fresh()
    cm_id = make_member(agency, Role.CLIENT_MANAGER, client=client).id
    toots = _broken_by_a_publish_job(shop, mastodon)
    notices = _notices(shop)
    owner = _owner(shop)
    assert {n.user_id for n in notices} == {owner.id, shop.manager_id}
    assert all(n.channel_id == toots and n.post_id is None for n in notices)
    emailed = _reconnect_mail_recipients(sent)
    assert emailed == {owner.email, _email(shop, shop.manager_id)}
    assert not {staff_id, cm_id} & {n.user_id for n in notices}


def test_the_notice_is_written_once_while_the_channel_stays_broken(app, mastodon, sent):
    shop = Shop()
    toots = _broken_by_a_publish_job(shop, mastodon)
    assert len(_notices(shop)) == 2
    second = shop.approved_post([toots], "Still refused")
    from agency.publishing.jobs import publish_target

    (target,) = shop.targets(second).values()
    assert publish_target(str(shop.agency_id), str(target.id), 1) == "failed"
    with tenant_context(shop.agency_id):
        assert publishing.mark_needs_reconnect(toots, "still refused") is False
        db.session.commit()
    # Nor does the health check, which leaves a broken channel alone.
    assert channel_jobs.check_channels(str(shop.agency_id))["needs_reconnect"] == 0
    assert len(_notices(shop)) == 2


def test_the_health_check_writes_the_notice_too(app, mastodon, sent):
    shop = Shop()
    toots = shop.mastodon(mastodon, token="revoked-token")
    report = channel_jobs.check_channels(str(shop.agency_id))
    assert report["needs_reconnect"] == 1
    notices = _notices(shop)
    owner = _owner(shop)
    assert {n.user_id for n in notices} == {owner.id, shop.manager_id}
    assert {n.channel_id for n in notices} == {toots}
    assert _reconnect_mail_recipients(sent) == {owner.email, _email(shop, shop.manager_id)}
    # The next run skips the broken channel: nobody is told again.
    channel_jobs.check_channels(str(shop.agency_id))
    assert len(_notices(shop)) == 2


def test_the_page_shows_the_notice_with_its_link_and_read_marks_it(app, mastodon):
    shop = Shop()
    toots = _broken_by_a_publish_job(shop, mastodon)
    web = _web(app, shop, shop.manager_id)
    page = f"/a/{_slug(shop)}/notifications/"
    html = web.get(page).get_data(as_text=True)
    assert "The Mastodon channel Toots of Bellavista needs reconnecting" in html
    assert f'href="{_edit_link(shop, toots)}"' in html
    assert _badge(html) == "2"  # the publishing failure and the channel
    assert web.get(_edit_link(shop, toots)).status_code == 200
    (mine,) = [n for n in _notices(shop) if n.user_id == shop.manager_id]
    answer = web.post(f"{page}{mine.id}/read", data={"csrf_token": csrf_from(html)})
    assert answer.status_code == 302
    assert [n.read_at is not None for n in _notices(shop) if n.user_id == shop.manager_id] == [True]
    html = web.get(page).get_data(as_text=True)
    assert _badge(html) == "1"
    assert "The Mastodon channel Toots of Bellavista needs reconnecting" in html  # still listed
    # The owner's stays unread; read-all marks it.
    owner_web = _web(app, shop, _owner(shop).id)
    html = owner_web.get(page).get_data(as_text=True)
    assert _badge(html) == "2"
    owner_web.post(f"{page}read-all", data={"csrf_token": csrf_from(html)})
    assert _badge(owner_web.get(page).get_data(as_text=True)) is None


def test_the_notice_reads_in_italian(app, mastodon):
    shop = Shop()
    _broken_by_a_publish_job(shop, mastodon)
    with tenant_context(shop.agency_id):
        db.session.execute(update(User).where(User.id == shop.manager_id).values(locale="it"))
        db.session.commit()
    html = _web(app, shop, shop.manager_id).get(f"/a/{_slug(shop)}/notifications/")
    assert "Il canale Mastodon Toots di Bellavista va ricollegato" in html.get_data(as_text=True)


def test_only_members_who_may_manage_the_client_see_a_channel_notice(app, mastodon):
    shop = Shop()
    toots = _broken_by_a_publish_job(shop, mastodon)
    agency, client = shop._fresh()
    other = make_client(agency, "Elsewhere")
    unassigned = make_member(agency, Role.STAFF, assigned=[other]).id
    assigned = shop.member(Role.STAFF).id
    cm = make_member(agency, Role.CLIENT_MANAGER, client=client).id
    readers = (unassigned, assigned, cm, shop.manager_id)
    with tenant_context(shop.agency_id):  # as if they had been told (e.g. demoted since)
        channel = db.session.scalar(select(Channel).where(Channel.id == toots))
        inapp.add_about_channel(readers[:3], Event.CHANNEL_NEEDS_RECONNECT, channel)
        db.session.commit()
    for user_id in readers[:3]:
        html = _web(app, shop, user_id).get(f"/a/{_slug(shop)}/notifications/")
        assert "needs reconnecting" not in html.get_data(as_text=True), user_id
        with tenant_context(shop.agency_id):
            user = db.session.scalar(select(User).where(User.id == user_id))
            access = load_access(user, db.session.get(Agency, shop.agency_id))
            assert inapp.unread_count(access) == 0, user_id
            assert inapp.list_notifications(access)[0] == [], user_id
    # The manager (who may manage the client) sees theirs.
    with tenant_context(shop.agency_id):
        manager = db.session.scalar(select(User).where(User.id == shop.manager_id))
        access = load_access(manager, db.session.get(Agency, shop.agency_id))
        assert EVENT in {n["event"] for n in inapp.list_notifications(access)[0]}
        db.session.rollback()


def test_read_all_leaves_a_channel_notice_the_member_may_not_see_unread(app, mastodon):
    shop = Shop()
    toots = shop.mastodon(mastodon)
    staff_id = shop.member(Role.STAFF).id  # assigned, yet may not manage the client's channels
    with tenant_context(shop.agency_id):  # as if told before being demoted
        channel = db.session.scalar(select(Channel).where(Channel.id == toots))
        inapp.add_about_channel([staff_id, shop.manager_id], Event.CHANNEL_NEEDS_RECONNECT, channel)
        db.session.commit()
        agency = db.session.get(Agency, shop.agency_id)
        staff = db.session.scalar(select(User).where(User.id == staff_id))
        assert inapp.mark_all_read(load_access(staff, agency)) == 0
        manager = db.session.scalar(select(User).where(User.id == shop.manager_id))
        assert inapp.mark_all_read(load_access(manager, agency)) == 1
    read = {n.user_id: n.read_at is not None for n in _notices(shop)}
    assert read == {staff_id: False, shop.manager_id: True}


def test_deleting_the_channel_deletes_its_notices(app, mastodon):
    shop = Shop()
    toots = shop.mastodon(mastodon, token="revoked-token")
    channel_jobs.check_channels(str(shop.agency_id))
    assert len(_notices(shop)) == 2
    web = _web(app, shop, shop.manager_id)
    base = f"/a/{_slug(shop)}/clients/{shop.client_id}/channels"
    html = web.get(f"{base}/").get_data(as_text=True)
    assert web.post(f"{base}/{toots}/delete", data={"csrf_token": csrf_from(html)}).status_code in (
        302,
        303,
    )
    with tenant_context(shop.agency_id):
        assert db.session.scalar(select(Channel).where(Channel.id == toots)) is None
    assert _notices(shop) == []


def test_a_notice_names_exactly_one_post_or_channel(app, mastodon):
    shop = Shop()
    toots = shop.mastodon(mastodon)
    for subject in ({}, {"channel_id": toots, "post_id": shop.approved_post([toots])}):
        with tenant_context(shop.agency_id):
            db.session.add(Notification(user_id=shop.manager_id, event=EVENT, **subject))
            with pytest.raises(sa.exc.IntegrityError):
                db.session.commit()
            db.session.rollback()


# -- migration 0016 ---------------------------------------------------------------------------


@pytest.fixture
def fresh_url(tmp_path):
    if EMBEDDED:
        yield f"sqlite:///{tmp_path / 'channel_notices.sqlite3'}"
        return
    with pg.scratch_database(f"regia_test_chnotice_{SLOT}") as url:
        yield url


def _t(name: str, *columns: str, uuids: tuple[str, ...] = ()) -> sa.TableClause:
    """A lightweight Core table: the schema as the migrations leave it, nothing from the models."""
    return sa.table(
        name,
        *(sa.column(c) for c in columns),
        *(sa.column(c, sa.Uuid()) for c in ("id", *uuids)),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )


AGENCIES = _t("agencies", "name", "slug", "default_locale", "timezone", "default_currency")
USERS = _t("users", "email", "name", "password_hash", "active", "password_changed_at")
CLIENTS = _t(
    "client_companies", "name", "status", "currency", "timezone", "language", uuids=("agency_id",)
)
CHANNELS = _t("channels", "network", "name", "status", uuids=("agency_id", "client_id"))
CHANNELS.append_column(sa.column("settings", sa.JSON()))
NOTIFICATIONS = _t("notifications", "event", uuids=("agency_id", "user_id", "channel_id"))


def test_migration_0016_downgrades_without_channel_notices_and_upgrades_again(fresh_url):
    migrate.upgrade(fresh_url)
    engine = sa.create_engine(fresh_url, poolclass=sa.pool.NullPool)
    now = datetime.now(UTC)
    agency_id, client_id, channel_id, user_id = (uuid.uuid4() for _ in range(4))
    try:
        with engine.begin() as conn:
            conn.execute(
                AGENCIES.insert().values(
                    id=agency_id, name="A", slug="a-0016", default_locale="en", timezone="UTC",
                    default_currency="EUR", created_at=now,
                )
            )  # fmt: skip
            conn.execute(
                USERS.insert().values(
                    id=user_id, email="m0016@example.com", name="M", password_hash="x",
                    active=True, password_changed_at=now, created_at=now,
                )
            )  # fmt: skip
            pg.as_agency(conn, agency_id)
            conn.execute(
                CLIENTS.insert().values(
                    id=client_id, agency_id=agency_id, name="C", status="active",
                    currency="EUR", timezone="UTC", language="en", created_at=now,
                )
            )  # fmt: skip
            conn.execute(
                CHANNELS.insert().values(
                    id=channel_id, agency_id=agency_id, client_id=client_id, network="manual",
                    name="Forum", status="connected", settings={}, created_at=now,
                )
            )  # fmt: skip
            conn.execute(
                NOTIFICATIONS.insert().values(
                    id=uuid.uuid4(), agency_id=agency_id, user_id=user_id, event=EVENT,
                    channel_id=channel_id, created_at=now,
                )
            )  # fmt: skip
        migrate.downgrade(fresh_url, "0015_addresses_stripe")
        columns = {c["name"]: c for c in sa.inspect(engine).get_columns("notifications")}
        assert "channel_id" not in columns and columns["post_id"]["nullable"] is False
        with engine.begin() as conn:
            pg.as_agency(conn, agency_id)
            assert conn.scalar(sa.text("SELECT count(*) FROM notifications")) == 0
            assert conn.scalar(sa.text("SELECT count(*) FROM channels")) == 1
        migrate.upgrade(fresh_url)
        inspector = sa.inspect(engine)
        columns = {c["name"]: c for c in inspector.get_columns("notifications")}
        assert columns["channel_id"]["nullable"] and columns["post_id"]["nullable"]
        fks = {fk["name"]: fk for fk in inspector.get_foreign_keys("notifications")}
        channel_fk = fks["fk_notifications_channel_id_channels"]
        assert channel_fk["constrained_columns"] == ["agency_id", "channel_id"]
        assert channel_fk["referred_columns"] == ["agency_id", "id"]
        for fk in (channel_fk, fks["fk_notifications_post_id_posts"]):  # the rebuild kept it
            assert fk["options"].get("ondelete") == "CASCADE"
    finally:
        engine.dispose()

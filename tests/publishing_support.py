"""Shared ground of the publishing tests: an app allowed to call loopback fakes, approved
posts due now, and the fakes themselves."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from agency.content import service
from agency.content.models import Post, PostTarget
from agency.db import db, utcnow
from tenants.context import tenant_context
from tenants.models import Role
from tenants.service import load_access
from tests.factories import make_agency, make_channel, make_client, make_member, make_policy
from tests.fakes.bluesky import FakeBluesky
from tests.fakes.mastodon import FakeMastodon


@pytest.fixture(scope="session")
def _publishing_app(make_app):
    return make_app(allow_private_hosts=True, publish_retry_base_seconds=1, publish_lease_seconds=5)


@pytest.fixture
def app(_publishing_app) -> Iterator:
    with _publishing_app.app_context():
        yield _publishing_app


@pytest.fixture(scope="session")
def _mail_app(make_app, smtp_server):
    _sink, port = smtp_server
    return make_app(
        allow_private_hosts=True, publish_retry_base_seconds=1, publish_lease_seconds=5,
        smtp_host="127.0.0.1", smtp_port=port,
    )  # fmt: skip


@pytest.fixture(name="app")
def mailing_app(_mail_app, smtp_server) -> Iterator:
    """``app`` for a module that imports this: the publishing app, sending its e-mails to
    the suite's SMTP sink (emptied first; read them with ``sent``)."""
    sink, _port = smtp_server
    sink.messages.clear()
    with _mail_app.app_context():
        yield _mail_app


@pytest.fixture
def sent(smtp_server) -> list:
    return smtp_server[0].messages


@pytest.fixture
def mastodon() -> Iterator[FakeMastodon]:
    fake = FakeMastodon(media_processing_polls=1).start()
    yield fake
    fake.stop()


@pytest.fixture
def bluesky() -> Iterator[FakeBluesky]:
    fake = FakeBluesky().start()
    yield fake
    fake.stop()


class Shop:
    """An agency with one client, its owner, a manager, and channels on the fakes."""

    def __init__(self, name: str = "Aurora") -> None:
        self.agency = make_agency(name)
        self.client = make_client(self.agency, "Bellavista")
        self.manager = make_member(self.agency, Role.MANAGER)
        make_policy(self.agency, self.client, internal_review=False, client_approval="none")
        self.agency_id = self.agency.id
        self.manager_id = self.manager.id
        self.client_id = self.client.id

    def mastodon(self, fake: FakeMastodon, name: str = "Toots", token: str | None = None):
        return make_channel(
            *self._fresh(), name=name,
            settings={"instance_url": fake.url}, secrets={"access_token": token or fake.token},
        ).id  # fmt: skip

    def bluesky(self, fake: FakeBluesky, name: str = "Sky", password: str | None = None):
        return make_channel(
            *self._fresh(), network="bluesky", name=name,
            settings={"pds_url": fake.url, "handle": fake.handle},
            secrets={"app_password": password or fake.password},
        ).id  # fmt: skip

    def _fresh(self):  # noqa: ANN202
        """The agency and client rows again (a rollback expires the ones built here)."""
        from tenants.models import Agency, ClientCompany

        db.session.rollback()
        with tenant_context(self.agency_id):
            agency = db.session.scalar(select(Agency).where(Agency.id == self.agency_id))
            client = db.session.scalar(
                select(ClientCompany).where(ClientCompany.id == self.client_id)
            )
        return agency, client

    def member(self, role: Role):  # noqa: ANN201
        agency, client = self._fresh()
        return make_member(agency, role, assigned=[client] if role == Role.STAFF else None)

    def access(self):  # noqa: ANN201
        from tenants.models import Agency, User

        db.session.rollback()
        with tenant_context(self.agency_id):
            user = db.session.scalar(select(User).where(User.id == self.manager_id))
            agency = db.session.scalar(select(Agency).where(Agency.id == self.agency_id))
            return load_access(user, agency)

    def approved_post(
        self, channel_ids: list, body: str = "Hello from Bellavista", *, due_in: float = 0,
        **fields,
    ) -> uuid.UUID:  # fmt: skip
        """A post approved and scheduled (no review under this policy), due in ``due_in`` s."""
        access = self.access()
        with tenant_context(self.agency_id):
            post = service.create_post(
                access, {
                    "client_id": self.client_id, "body": body, "channel_ids": channel_ids,
                    "scheduled_at": utcnow() + timedelta(hours=2), **fields,
                },
            )  # fmt: skip
            post_id = post.id
            service.submit(access, post_id)
            # Due when the test wants it (the editor refuses a time in the past).
            db.session.execute(
                update(Post)
                .where(Post.id == post_id)
                .values(scheduled_at=utcnow() + timedelta(seconds=due_in))
            )
            db.session.commit()
            # What approval scheduled at the old time, re-scheduled at the new one (same ids).
            from flask import current_app

            from agency.publishing.service import enqueue_publish

            if current_app.config.get("RQ_SYNC"):  # in-process tests run the jobs themselves
                return post_id
            due = utcnow() + timedelta(seconds=due_in)
            targets = db.session.scalars(select(PostTarget.id).where(PostTarget.post_id == post_id))
            for target_id in list(targets):
                enqueue_publish(self.agency_id, target_id, 1, due)
            db.session.rollback()
        return post_id

    def targets(self, post_id: uuid.UUID) -> dict[uuid.UUID, PostTarget]:
        db.session.rollback()
        with tenant_context(self.agency_id):
            rows = db.session.scalars(
                select(PostTarget)
                .where(PostTarget.post_id == post_id)
                .execution_options(populate_existing=True)
            ).all()
            for row in rows:
                db.session.expunge(row)  # detached with its values: readable after rollback
            db.session.rollback()
            return {t.channel_id: t for t in rows}

    def post(self, post_id: uuid.UUID) -> Post:
        db.session.rollback()
        with tenant_context(self.agency_id):
            post = db.session.scalar(
                select(Post).where(Post.id == post_id).execution_options(populate_existing=True)
            )
            db.session.expunge(post)
            db.session.rollback()
            return post


def run_publish(shop: Shop, post_id: uuid.UUID) -> list[str]:
    """Run each target's publish job in this process (what a worker would do); outcomes."""
    from agency.publishing.jobs import publish_target

    post = shop.post(post_id)
    return [
        publish_target(str(shop.agency_id), str(t.id), post.revision)
        for t in shop.targets(post_id).values()
    ]

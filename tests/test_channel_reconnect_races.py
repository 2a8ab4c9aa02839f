# ruff: noqa: F811 - the publishing fixtures are imported from tests.publishing_support
"""A channel's "needs reconnecting" is told once even when two processes find the breakage at
the same moment (two workers publishing to it, or a job and the health check): exactly one
audit event, one in-app notice and one e-mail per recipient.

The concurrent tests run each process in its own thread, app context, session and connection
(PostgreSQL). A pause after the in-app notices are added, before the commit, keeps the first
one's transaction open while the second one decides.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from agency.audit import AuditEvent
from agency.channels import jobs as channel_jobs
from agency.channels.models import Channel
from agency.db import db
from agency.notifications import service as inapp
from agency.notifications.models import Event, Notification
from agency.publishing import notices
from agency.publishing import service as publishing
from tenants.context import tenant_context
from tenants.models import User
from tests.factories import owner_of
from tests.helpers import run_together
from tests.publishing_support import Shop, _mail_app, mailing_app, mastodon, sent  # noqa: F401

PAUSE = 0.4
ACTION = "channel.needs_reconnect"


def _publish_job_finds_it_broken(channel_id: uuid.UUID) -> None:
    """What a publishing (or inbound) job does on a refused token (``publishing.jobs``)."""
    if publishing.mark_needs_reconnect(channel_id, "The access token is invalid"):
        db.session.commit()
        notices.channel_needs_reconnect(channel_id, "The access token is invalid")
    db.session.rollback()


def _slow_notices(monkeypatch) -> None:
    """Hold the transaction open after the in-app notices are added: the other one runs."""
    real = inapp.add_about_channel

    def slow(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        real(*args, **kwargs)
        time.sleep(PAUSE)

    monkeypatch.setattr(inapp, "add_about_channel", slow)


def _together(app, agency_id: uuid.UUID, *works: Callable[[], object]) -> None:
    assert run_together(app, agency_id, works, timeout=5) == []


def _told(shop: Shop, sent: list) -> tuple[int, list[uuid.UUID], list[str]]:
    """Audit events of the breakage, its notices' recipients, its mails' recipients."""
    db.session.rollback()
    with tenant_context(shop.agency_id):
        audits = db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == ACTION)
        )
        noticed = db.session.scalars(
            select(Notification.user_id).where(
                Notification.event == Event.CHANNEL_NEEDS_RECONNECT.value
            )
        ).all()
        db.session.rollback()
    mailed = [m["To"] for m in sent if "reconnect" in m["Subject"].lower()]
    return audits, sorted(noticed), sorted(mailed)


def _to_be_told(shop: Shop) -> tuple[list[uuid.UUID], list[str]]:
    """The owner and the manager: their ids and e-mail addresses."""
    agency, _client = shop._fresh()
    ids = [owner_of(agency).id, shop.manager_id]
    with tenant_context(shop.agency_id):
        emails = db.session.scalars(select(User.email).where(User.id.in_(ids))).all()
        db.session.rollback()
    return sorted(ids), sorted(emails)


# What finds the channel broken beside a publish job, in another process.
SECOND = {
    "a second publish job": lambda shop, toots: _publish_job_finds_it_broken(toots),
    "the health check": lambda shop, toots: channel_jobs.check_channels(str(shop.agency_id)),
}


@pytest.mark.postgresql
@pytest.mark.parametrize("second", list(SECOND))
def test_two_processes_finding_the_same_breakage_at_once_tell_everyone_once(
    app, mastodon, sent, monkeypatch, second
):
    shop = Shop()
    toots = shop.mastodon(mastodon, token="revoked-token")
    _slow_notices(monkeypatch)

    _together(
        app,
        shop.agency_id,
        lambda: _publish_job_finds_it_broken(toots),
        lambda: SECOND[second](shop, toots),
    )

    ids, emails = _to_be_told(shop)
    assert _told(shop, sent) == (1, ids, emails)
    with tenant_context(shop.agency_id):
        assert db.session.get(Channel, toots).status == "needs_reconnect"
        db.session.rollback()


def test_a_second_marking_writes_nothing(app, mastodon, sent):
    shop = Shop()
    toots = shop.mastodon(mastodon, token="revoked-token")
    with tenant_context(shop.agency_id):
        assert publishing.mark_needs_reconnect(toots, "first refusal") is True
        db.session.commit()
        first = db.session.scalar(select(Channel).where(Channel.id == toots))
        checked_at, reason = first.checked_at, first.check_error
        db.session.rollback()
    before = _told(shop, sent)
    assert before[:2] == (1, _to_be_told(shop)[0])

    with tenant_context(shop.agency_id):
        assert publishing.mark_needs_reconnect(toots, "second refusal") is False
        db.session.commit()
        again = db.session.scalar(
            select(Channel).where(Channel.id == toots).execution_options(populate_existing=True)
        )
        assert (again.checked_at, again.check_error) == (checked_at, reason)
        db.session.rollback()
    assert _told(shop, sent) == before  # no audit event, notice or mail more

"""Periodic health check: a channel whose credentials stopped working is found before a post
fails on it.

Each connected channel with a connector is verified again. Refused credentials (expired or
revoked token, wrong password) mark it ``needs_reconnect`` — its settings are kept, so the
manager only re-enters the secret or connects again — and the agency's owners and managers
are told in the app (with the verdict) and e-mailed (after it). An unreachable network is not
a verdict on the credentials: the check's time and error are recorded and the status is left
alone (no disconnect on a transient error).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

from flask_babel import force_locale
from sqlalchemy import select

from agency import crypto
from agency.channels import breakage, connect, service
from agency.channels.models import Channel, ChannelStatus
from agency.db import db, utcnow
from tenants.models import Agency, ClientCompany

log = logging.getLogger(__name__)


@dataclass
class HealthReport:
    verified: list[uuid.UUID] = field(default_factory=list)
    needs_reconnect: list[uuid.UUID] = field(default_factory=list)
    unreachable: list[uuid.UUID] = field(default_factory=list)
    skipped: list[uuid.UUID] = field(default_factory=list)  # no connector to check with


def check_channel(channel: Channel, report: HealthReport) -> None:
    """Verify one channel and record the outcome on it (the caller commits)."""
    try:
        account = connect.check(
            channel.network,
            service.connection_settings(channel),
            on_refresh=lambda fresh: _store_secrets(channel, fresh),
        )
    except connect.CheckFailed as failure:
        if not failure.credentials_refused:
            channel.checked_at = utcnow()
            channel.check_error = failure.message
            report.unreachable.append(channel.id)
        # Only the process that made the change tells anyone (and is e-mailed about it):
        # a publishing job that found the same breakage meanwhile has told them already.
        elif breakage.flag_needs_reconnect(channel.id, failure.message) is not None:
            report.needs_reconnect.append(channel.id)
        return
    if account is None:
        report.skipped.append(channel.id)
        return
    connect.stamp(channel, account)
    report.verified.append(channel.id)


def _store_secrets(channel: Channel, fresh: dict[str, str]) -> None:
    stored = crypto.decrypt_json(channel.credentials_encrypted)
    channel.credentials_encrypted = crypto.encrypt_json({**stored, **fresh})
    db.session.commit()  # a rotated refresh token must not be lost with a later failure


def check_all(agency_id: uuid.UUID) -> HealthReport:
    """Check every connected channel of the agency in context; commits; e-mails on breakage.

    Runs inside ``agency_id``'s tenant context (the ``check_channels`` job opens it).
    """
    report = HealthReport()
    channels = list(
        db.session.scalars(
            select(Channel)
            .where(Channel.status == ChannelStatus.CONNECTED.value)
            .order_by(Channel.created_at)
        )
    )
    locale = db.session.get(Agency, agency_id).default_locale or "en"
    for channel in channels:
        with force_locale(locale):  # the stored reason is read by the agency's people
            check_channel(channel, report)
        db.session.commit()  # one channel's verdict never waits on the next network call
    if report.needs_reconnect:
        try:
            notify_broken(agency_id, report.needs_reconnect)
        except Exception:  # a mail queue outage must not hide the committed verdicts
            log.exception("could not queue the channel health mail")
    return report


def notify_broken(agency_id: uuid.UUID, channel_ids: list[uuid.UUID]) -> int:
    """E-mail the agency's owners and managers the channels that need reconnecting."""
    from agency.mail.service import render_mail, send_mail

    agency = db.session.scalar(select(Agency).where(Agency.id == agency_id))
    rows = db.session.execute(
        select(Channel.name, Channel.check_error, ClientCompany.name, Channel.client_id, Channel.id)
        .join(ClientCompany, ClientCompany.id == Channel.client_id)
        .where(Channel.id.in_(channel_ids))
        .order_by(ClientCompany.name, Channel.name)
    ).all()
    broken = [
        {
            "channel": name,
            "client": client_name,
            "reason": reason or "",
            "link": f"{_base_url()}/a/{agency.slug}/clients/{client_id}/channels/{channel_id}/edit",
        }
        for name, reason, client_name, client_id, channel_id in rows
    ]
    recipients = db.session.execute(breakage.breakage_recipients(agency_id)).all()
    for email, name, locale in recipients:
        mail = render_mail(
            "channels/email/needs_reconnect",
            locale or agency.default_locale,
            name=name,
            agency_name=agency.name,
            broken=broken,
            logo_cid=None,
        )
        send_mail(email, mail.subject, mail.text, mail.html, agency_id=agency_id)
    return len(recipients)


def _base_url() -> str:
    from flask import current_app

    return current_app.config["REGIA"].base_url

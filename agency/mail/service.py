"""Outgoing e-mail: rendered in the recipient's language, delivered by a job on the ``mail`` queue.

With ``SMTP_HOST`` set the job speaks SMTP; without it mails land as ``.eml`` files in an
outbox folder. Only the demo (``REGIA_DEMO``) serves that folder at ``/dev/outbox``, and only
to the agency's owners and managers (each file records its agency) and to each recipient.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale

from agency.db import utcnow

_OUTBOX_NAME = re.compile(r"^[0-9]{14}-[0-9a-f]{32}\.eml$")


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str | None


def in_language(link: str, locale: str | None) -> str:
    """``link`` carrying the e-mail's language (``?lang=``): the page it opens speaks it too,
    unless the visitor has chosen a language already (``agency.app.select_locale``)."""
    if not locale:
        return link
    return f"{link}{'&' if '?' in link else '?'}lang={locale}"


def render_mail(template: str, locale: str | None, **context: Any) -> RenderedMail:
    """Render ``<template>.subject.txt``/``.txt``/``.html`` in ``locale`` (default English)."""
    context["locale"] = locale = locale or "en"
    with force_locale(locale):
        subject = render_template(f"{template}.subject.txt", **context)
        text = render_template(f"{template}.txt", **context)
        html = render_template(f"{template}.html", **context)
    return RenderedMail(" ".join(subject.split()), text, html)


def send_mail(
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    *,
    inline_images: list[dict[str, str]] | None = None,
    agency_id: uuid.UUID | None = None,
) -> str:
    """Queue one e-mail on the ``mail`` queue; returns its id (also its Message-ID).

    ``inline_images`` are ``{"cid", "path", "subtype"}`` dicts the HTML part refers to as
    ``cid:<cid>`` (the agency's logo). ``agency_id`` names the agency the mail is sent for
    (the demo outbox shows it to that agency only).
    """
    from agency.jobs import enqueue
    from agency.mail.jobs import deliver_mail

    message = {
        "id": uuid.uuid4().hex,
        "to": to,
        "subject": subject,
        "text": text,
        "html": html,
        "inline_images": list(inline_images or []),
        "agency_id": str(agency_id) if agency_id else None,
        "created_at": utcnow().strftime("%Y%m%d%H%M%S"),
    }
    enqueue("mail", deliver_mail, message, job_id=f"mail-{message['id']}")
    return message["id"]


def outbox_dir() -> Path | None:
    """Where mails are written instead of sent, or None when SMTP is configured."""
    settings = current_app.config["REGIA"]
    if settings.smtp_host:
        return None
    return settings.mail_outbox_dir or settings.instance_path / "outbox"


def outbox_page_enabled() -> bool:
    """The outbox page exists only with the demo switch (never implied by SQLite or a folder)."""
    return bool(current_app.config["REGIA"].demo) and outbox_dir() is not None


@dataclass(frozen=True)
class OutboxMail:
    name: str
    to: str
    subject: str
    date: str
    text: str
    html: str | None
    agency_id: str | None = None


AGENCY_HEADER = "X-Regia-Agency"


def readable_by(mail: OutboxMail, email: str, agency_ids: set[str]) -> bool:
    """A recipient reads their own mail; an agency's owners and managers read the agency's."""
    return mail.to.strip().lower() == email.lower() or (
        mail.agency_id is not None and mail.agency_id in agency_ids
    )


def list_outbox(email: str, agency_ids: set[str], limit: int = 200) -> list[OutboxMail]:
    """The newest outbox mails the viewer (``email``, managing ``agency_ids``) may read."""
    folder = outbox_dir()
    if folder is None or not folder.is_dir():
        return []
    names = sorted((p.name for p in folder.iterdir() if _OUTBOX_NAME.match(p.name)), reverse=True)
    mails = (read_outbox(name) for name in names[: limit * 5])
    return [m for m in mails if readable_by(m, email, agency_ids)][:limit]


def read_outbox(name: str) -> OutboxMail:
    """One outbox mail by file name; ``FileNotFoundError`` for anything else."""
    folder = outbox_dir()
    if folder is None or not _OUTBOX_NAME.match(name) or not (folder / name).is_file():
        raise FileNotFoundError(name)
    with open(folder / name, "rb") as handle:
        message = BytesParser(policy=policy.default).parse(handle)
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    return OutboxMail(
        name=name,
        to=str(message["To"]),
        subject=str(message["Subject"]),
        date=str(message["Date"]),
        text=text_part.get_content() if text_part else "",
        html=html_part.get_content() if html_part else None,
        agency_id=message[AGENCY_HEADER] or None,
    )

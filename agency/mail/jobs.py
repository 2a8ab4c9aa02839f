"""The ``mail`` queue's job: build a multipart message and send it over SMTP (or to the outbox).

The job takes plain data and is safe to run twice: a delivered message id is remembered in
Redis, and the outbox file is named by that id. Failures re-raise so RQ records them.
"""

from __future__ import annotations

import mimetypes
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from flask import Flask, has_app_context

DELIVERED_TTL = 7 * 24 * 3600  # seconds a delivered id is remembered


def deliver_mail(message: dict[str, Any]) -> str:
    """Deliver one queued message (see ``agency.mail.service.send_mail``); returns how."""
    from agency.app import app_for_jobs

    app = app_for_jobs()
    if has_app_context():
        return _deliver(app, message)
    with app.app_context():
        return _deliver(app, message)


def _deliver(app: Flask, message: dict[str, Any]) -> str:
    from agency.jobs import redis_client
    from agency.mail.service import outbox_dir

    key = f"regia:mail:delivered:{message['id']}"
    redis = redis_client(app)
    if redis.exists(key):
        return "already delivered"
    email = build_message(app, message)
    folder = outbox_dir()
    if folder is None:
        _send_smtp(app, email)
        how = "smtp"
    else:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{message['created_at']}-{message['id']}.eml"
        path.write_bytes(bytes(email))
        how = f"outbox:{path.name}"
    redis.set(key, how, ex=DELIVERED_TTL)
    return how


def build_message(app: Flask, message: dict[str, Any]) -> EmailMessage:
    settings = app.config["REGIA"]
    email = EmailMessage()
    email["From"] = settings.mail_sender
    email["To"] = message["to"]
    email["Subject"] = message["subject"]
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(idstring=message["id"], domain="regia.localhost")
    if message.get("agency_id"):
        email["X-Regia-Agency"] = message["agency_id"]  # whose mail it is (the demo outbox)
    email.set_content(message["text"])
    if message.get("html"):
        email.add_alternative(message["html"], subtype="html")
        html_part = email.get_payload()[-1]
        for image in message.get("inline_images") or []:
            path = Path(image["path"])
            if not path.is_file():
                continue  # a logo removed after queuing: send without it
            subtype = image.get("subtype") or (mimetypes.guess_type(path.name)[0] or "/png")
            html_part.add_related(
                path.read_bytes(),
                maintype="image",
                subtype=subtype.rsplit("/", 1)[-1],
                cid=f"<{image['cid']}>",
                filename=path.name,
            )
    return email


def _send_smtp(app: Flask, email: EmailMessage) -> None:
    settings = app.config["REGIA"]
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15) as smtp:
        if settings.smtp_use_tls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        smtp.send_message(email)

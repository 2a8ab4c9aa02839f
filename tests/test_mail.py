"""E-mail: the mail job over a real local SMTP server (aiosmtpd), and the demo outbox."""

from __future__ import annotations

import socket

import pytest

from agency.db import db
from agency.mail import service as mail
from agency.mail.jobs import deliver_mail
from tests.factories import make_agency, owner_of, token_for
from tests.helpers import bearer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _message(**changes) -> dict:
    base = {
        "id": "0123456789abcdef0123456789abcdef",
        "to": "someone@example.com",
        "subject": "Hello",
        "text": "Plain body https://example.com/x",
        "html": "<p>HTML body</p>",
        "inline_images": [],
        "created_at": "20260101120000",
    }
    return {**base, **changes}


def test_send_mail_delivers_a_multipart_message_over_smtp(smtp, database_url):
    mail.send_mail("ada@example.com", "Ciao", "Testo semplice", "<p>Testo <b>HTML</b></p>")

    [message] = smtp.messages
    assert message.envelope_rcpt == ["ada@example.com"]
    assert message["Subject"] == "Ciao"
    assert message.get_body(preferencelist=("plain",)).get_content().strip() == "Testo semplice"
    assert "<b>HTML</b>" in message.get_body(preferencelist=("html",)).get_content()


def test_the_mail_job_is_safe_to_run_twice(smtp, database_url):
    payload = _message()
    deliver_mail(payload)
    assert deliver_mail(payload) == "already delivered"
    assert len(smtp.messages) == 1


def test_the_mail_job_reraises_when_smtp_fails(make_app, database_url):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    app = make_app(smtp_host="127.0.0.1", smtp_port=closed_port)
    with app.app_context(), pytest.raises(OSError):
        deliver_mail(_message(id="f" * 32))


def test_invitation_mail_is_in_the_agency_language_with_its_name_and_logo(smtp, database_url):
    agency = make_agency("Agenzia Aurora")
    agency.default_locale = "it"
    folder = smtp.app.config["REGIA"].media_root / "logos"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{agency.id}.png").write_bytes(PNG)
    agency.logo_filename = f"logos/{agency.id}.png"
    db.session.commit()

    response = smtp.client.post(
        "/api/v1/invitations",
        json={"email": "nuovo@example.com", "role": "staff"},
        headers=bearer(token_for(owner_of(agency), agency)),
    )

    assert response.status_code == 201
    [message] = smtp.messages
    assert "Agenzia Aurora" in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    from flask_babel import force_locale, gettext

    with force_locale("it"):
        hello = gettext("Hello,")
        accept = gettext("Open this link to choose your password and accept:")
        subject = gettext(
            "%(agency)s invites you to join its team on Regia", agency="Agenzia Aurora"
        )
    assert (hello, accept) != ("Hello,", "Open this link to choose your password and accept:")
    assert text.startswith(hello) and accept in text, text
    assert "Hello," not in text and "Open this link" not in text
    assert message["Subject"] == subject
    assert response.json["accept_url"] in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert 'src="cid:logo-' in html
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1 and images[0].get_content() == PNG


def test_outbox_page_does_not_exist_when_smtp_is_configured(smtp, database_url):
    assert smtp.client.get("/dev/outbox/").status_code == 404

"""Finding 2: the mail outbox page exists only in the demo, and only for the mail's agency.

Neither SQLite nor ``REGIA_MAIL_OUTBOX`` turns it on; the explicit demo switch does, which
``create_app`` refuses on a server database unless forced. Even then it needs a sign-in and
shows an agency's mail only to that agency's owners and managers (and each mail to its
recipient).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from agency.app import create_app
from agency.config import ConfigError, Settings
from agency.mail import service as mail
from tenants.models import Role
from tests.factories import make_agency, make_member, owner_of
from tests.helpers import AuthActions, bearer


def _outbox_names(tmp_path) -> list[str]:  # noqa: ANN001
    return sorted(p.name for p in tmp_path.iterdir())


def test_outbox_is_off_without_the_demo_switch_even_with_a_folder(make_app, tmp_path, database_url):
    app = make_app(smtp_host=None, mail_outbox_dir=tmp_path)
    with app.app_context():
        agency = make_agency()
        mail.send_mail("x@example.com", "Link", "http://x/invitations/abc", agency_id=agency.id)
        client = app.test_client()
        AuthActions(client).login(owner_of(agency).email)
        assert client.get("/dev/outbox/").status_code == 404
        [name] = _outbox_names(tmp_path)
        assert client.get(f"/dev/outbox/{name}").status_code == 404


def test_outbox_is_off_on_sqlite_without_the_demo_switch(tmp_path):
    settings = Settings.from_env(env={"REGIA_INSTANCE_PATH": str(tmp_path)})
    assert settings.is_sqlite and not settings.demo
    app = create_app(settings)
    assert app.test_client().get("/dev/outbox/").status_code == 404


def test_demo_switch_is_refused_on_a_server_database_unless_forced(tmp_path):
    env = {
        "REGIA_INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": "postgresql://regia@db.example/regia",
        "SECRET_KEY": "s",
        "ENCRYPTION_KEYS": "k",
        "REGIA_DEMO": "1",
    }
    with pytest.raises(ConfigError, match="REGIA_DEMO"):
        Settings.from_env(env=env)
    settings = Settings.from_env(env={**env, "REGIA_DEMO": "0"})
    with pytest.raises(ConfigError, match="REGIA_DEMO"):
        create_app(replace(settings, demo=True))
    assert create_app(replace(settings, demo=True, demo_force=True)).config["REGIA"].demo


def test_demo_outbox_needs_a_sign_in_and_shows_only_the_agencys_mail(
    make_app, tmp_path, database_url
):
    app = make_app(smtp_host=None, mail_outbox_dir=tmp_path, demo=True)
    with app.app_context():
        mine, theirs = make_agency("Mine"), make_agency("Theirs")
        staff = make_member(mine, Role.STAFF, email="staff@mine.example")
        mail.send_mail(
            "a@example.com",
            "Mine link",
            "http://127.0.0.1:5000/invitations/mine",
            agency_id=mine.id,
        )
        [mine_name] = _outbox_names(tmp_path)
        mail.send_mail("b@example.com", "Their link", "http://x/invitations/t", agency_id=theirs.id)
        [their_name] = [n for n in _outbox_names(tmp_path) if n != mine_name]
        mail.send_mail(staff.email, "Your reset", "http://x/password/reset/abc")
        [own_name] = [n for n in _outbox_names(tmp_path) if n not in (mine_name, their_name)]

        anonymous = app.test_client()
        listing = anonymous.get("/dev/outbox/")
        assert listing.status_code == 302 and "/login" in listing.location
        assert anonymous.get(f"/dev/outbox/{mine_name}").status_code == 302

        owner = app.test_client()
        AuthActions(owner).login(owner_of(mine).email)
        page = owner.get("/dev/outbox/").get_data(as_text=True)
        assert "Mine link" in page and "Their link" not in page and "Your reset" not in page
        message = owner.get(f"/dev/outbox/{mine_name}").get_data(as_text=True)
        assert '<a href="http://127.0.0.1:5000/invitations/mine"' in message
        assert owner.get(f"/dev/outbox/{their_name}").status_code == 404
        assert owner.get(f"/dev/outbox/{their_name}/html").status_code == 404
        assert owner.get("/dev/outbox/../secret").status_code == 404
        assert owner.get("/dev/outbox/nope.eml").status_code == 404

        member = app.test_client()
        AuthActions(member).login(staff.email)
        page = member.get("/dev/outbox/").get_data(as_text=True)
        assert "Your reset" in page and "Mine link" not in page  # staff: own mail only
        assert member.get(f"/dev/outbox/{mine_name}").status_code == 404


def test_invitation_mail_records_its_agency_for_the_outbox(make_app, tmp_path, database_url):
    app = make_app(smtp_host=None, mail_outbox_dir=tmp_path, demo=True)
    with app.app_context():
        agency = make_agency()
        from tests.factories import token_for

        client = app.test_client()
        created = client.post(
            "/api/v1/invitations",
            json={"email": "new@example.com", "role": "manager"},
            headers=bearer(token_for(owner_of(agency), agency)),
        )
        assert created.status_code == 201
        [name] = _outbox_names(tmp_path)
        assert mail.read_outbox(name).agency_id == str(agency.id)


@pytest.mark.postgresql  # needs a server database to refuse
def test_demo_command_refuses_a_server_database_without_force(runner, database_url):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 2
    assert "--force" in result.output
    from sqlalchemy import func, select

    from agency.db import db
    from tenants.models import Agency

    assert db.session.scalar(select(func.count()).select_from(Agency)) == 0

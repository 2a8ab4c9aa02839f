"""Agency settings: legal/fiscal details checked with python-stdnum, defaults, logo upload."""

from __future__ import annotations

import io

from sqlalchemy import select

from agency.audit import AuditEvent
from agency.db import db
from tenants.context import tenant_context
from tenants.models import Agency, Role
from tests.factories import make_agency, make_member, owner_of, token_for
from tests.helpers import bearer, csrf_from, form_post

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 100
VALID_IT = {
    "settings-name": "Aurora Social",
    "settings-legal_name": "Aurora Social S.r.l.",
    "settings-country": "IT",
    "settings-vat_number": "IT00743110157",
    "settings-fiscal_code": "00743110157",
    "settings-address": "Via Roma 1, 20121 Milano MI",
    "settings-tax_regime": "RF01",
    "settings-default_locale": "it",
    "settings-timezone": "Europe/Rome",
    "settings-default_currency": "eur",
}


def _save(client, agency, **changes):  # noqa: ANN001, ANN202
    return form_post(client, f"/a/{agency.slug}/settings", {**VALID_IT, **changes})


def _fresh(agency) -> Agency:  # noqa: ANN001
    db.session.expire_all()
    return db.session.get(Agency, agency.id)


def test_owner_saves_italian_legal_details(client, auth, database_url):
    agency = make_agency()
    auth.login(owner_of(agency).email)

    response = _save(client, agency)

    assert response.status_code == 302
    saved = _fresh(agency)
    assert (saved.country, saved.vat_number, saved.tax_regime) == ("IT", "IT00743110157", "RF01")
    assert (saved.default_currency, saved.timezone, saved.default_locale) == (
        "EUR",
        "Europe/Rome",
        "it",
    )
    with tenant_context(agency.id):
        event = db.session.scalar(select(AuditEvent))
    assert event.action == "agency.settings_changed" and "vat_number" in event.data["fields"]


def test_bad_settings_answer_422_and_change_nothing(client, auth, database_url):
    agency = make_agency("Unchanged")
    auth.login(owner_of(agency).email)
    cases = {
        "settings-vat_number": "IT00743110158",
        "settings-fiscal_code": "RSSMRA85T10A562X",
        "settings-tax_regime": "RF03",
        "settings-timezone": "Mars/Olympus",
        "settings-default_currency": "XYZ",
        "settings-country": "ZZ",
        "settings-name": "",
    }
    for field, value in cases.items():
        response = _save(client, agency, **{field: value})
        assert response.status_code == 422, field
        assert "invalid-feedback" in response.get_data(as_text=True), field
        saved = _fresh(agency)
        assert saved.name == "Unchanged" and saved.vat_number is None, field


def test_italian_agency_must_choose_a_tax_regime(client, auth, database_url):
    agency = make_agency()
    auth.login(owner_of(agency).email)
    response = _save(client, agency, **{"settings-tax_regime": ""})
    assert response.status_code == 422
    assert "tax regime" in response.get_data(as_text=True)
    assert _fresh(agency).country is None


def test_vat_is_checked_for_the_agencys_country_through_the_api(client, database_url):
    agency = make_agency()
    headers = bearer(token_for(owner_of(agency), agency))

    bad = client.patch(
        "/api/v1/agency", json={"country": "DE", "vat_number": "DE123"}, headers=headers
    )
    good = client.patch(
        "/api/v1/agency", json={"country": "DE", "vat_number": "DE136695976"}, headers=headers
    )

    assert bad.status_code == 422 and "vat_number" in bad.json["errors"]["json"]
    assert good.status_code == 200
    assert good.json["vat_number"] == "DE136695976" and good.json["country"] == "DE"
    assert client.get("/api/v1/agency", headers=headers).json["country"] == "DE"


def test_logo_upload_is_stored_served_to_members_and_shown_in_the_navbar(
    client, auth, app, database_url
):
    agency = make_agency()
    auth.login(owner_of(agency).email)
    page = client.get(f"/a/{agency.slug}/settings").get_data(as_text=True)

    response = client.post(
        f"/a/{agency.slug}/settings/logo",
        data={"csrf_token": csrf_from(page), "logo-logo": (io.BytesIO(PNG), "logo.png")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 302
    stored = app.config["REGIA"].media_root / "logos" / f"{agency.id}.png"
    assert stored.read_bytes() == PNG
    served = client.get(f"/a/{agency.slug}/logo")
    assert served.status_code == 200 and served.data == PNG
    assert served.mimetype == "image/png"
    assert f"/a/{agency.slug}/logo" in client.get(f"/a/{agency.slug}/").get_data(as_text=True)
    outsider = client.application.test_client()
    other = make_agency()
    from tests.helpers import AuthActions

    AuthActions(outsider).login(owner_of(other).email)
    assert outsider.get(f"/a/{agency.slug}/logo").status_code == 404


def test_logo_must_be_a_small_png_or_jpeg(client, auth, app, database_url):
    agency = make_agency()
    auth.login(owner_of(agency).email)
    page = client.get(f"/a/{agency.slug}/settings").get_data(as_text=True)
    cases = [
        (b"GIF89a" + b"\x00" * 50, "logo.png", "PNG or JPEG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.svg", "PNG or JPEG"),
        (PNG + b"\x00" * (1024 * 1024), "big.png", "1 MB"),
    ]
    for content, name, message in cases:
        response = client.post(
            f"/a/{agency.slug}/settings/logo",
            data={"csrf_token": csrf_from(page), "logo-logo": (io.BytesIO(content), name)},
            content_type="multipart/form-data",
        )
        assert response.status_code == 422, name
        assert message in response.get_data(as_text=True), name
    assert _fresh(agency).logo_filename is None
    assert not list((app.config["REGIA"].media_root / "logos").glob(f"{agency.id}.*"))
    ok = client.post(
        f"/a/{agency.slug}/settings/logo",
        data={"csrf_token": csrf_from(page), "logo-logo": (io.BytesIO(JPEG), "photo.png")},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 302
    assert _fresh(agency).logo_filename == f"logos/{agency.id}.jpg"


def test_only_owners_and_managers_open_settings(client, auth, database_url):
    agency = make_agency()
    manager = make_member(agency, Role.MANAGER)
    auth.login(manager.email)
    assert client.get(f"/a/{agency.slug}/settings").status_code == 200
    staff_client = client.application.test_client()
    from tests.helpers import AuthActions

    AuthActions(staff_client).login(make_member(agency, Role.FINANCE).email)
    assert staff_client.get(f"/a/{agency.slug}/settings").status_code == 403

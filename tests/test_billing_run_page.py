"""The invoice run page says where the run is in the reader's words, never RQ's job status
names ("finished", "queued", "failed"), both on the page and in the status its script polls."""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale

from billing.labels import run_message
from tenants.models import Role
from tests.billing_helpers import add_usage, make_rate_card
from tests.factories import make_agency, make_client, make_member
from tests.helpers import form_post
from tests.world import sign_in

RQ_NAMES = re.compile(r"\b(finished|queued|started|failed|deferred|scheduled)\b")


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("en", "Finished: 2 of 2 clients done."), ("it", "Finito: 2 su 2 clienti elaborati.")],
)
def test_a_finished_run_reads_as_words_on_the_page_and_in_its_status(client, lang, expected):
    agency = make_agency()
    acme = make_client(agency, "Acme")
    make_client(agency, "Northwind")  # no rate card: counted, not billed
    make_rate_card(agency, acme)
    add_usage(agency, acme, "2026-10", posts=1)
    finance = make_member(agency, Role.FINANCE)
    finance.locale = lang
    sign_in(client, finance)
    started = form_post(
        client,
        f"/a/{agency.slug}/billing/runs",
        {"period": "2026-10", "client_id": ""},
        page=f"/a/{agency.slug}/billing/",
    )
    assert started.status_code == 302
    page = client.get(started.headers["Location"]).get_data(as_text=True)
    text = page.split("data-run-text>")[1].split("</p>")[0]
    assert text == expected and not RQ_NAMES.search(text)
    status = client.get(started.headers["Location"] + "/status").get_json()
    assert status["status"] == "finished"  # the script's machine-readable state stays
    assert status["message"] == expected


@pytest.mark.parametrize(
    ("status", "done", "total", "english", "italian"),
    [
        ("queued", 0, 0, "Waiting for a worker", "In attesa"),
        ("started", 1, 3, "Working: 1 of 3 clients done.", "In corso: 1 su 3 clienti elaborati."),
        ("failed", 2, 3, "stopped with an error after 2 of 3", "si è interrotta"),
        ("finished", 0, 0, "no client to bill", "nessun cliente"),
    ],
)
def test_every_run_state_has_words_in_both_languages(app, status, done, total, english, italian):
    for lang, words in (("en", english), ("it", italian)):
        with app.test_request_context(), force_locale(lang):
            message = run_message(status, done, total)
        assert words in message and not RQ_NAMES.search(message), (lang, message)

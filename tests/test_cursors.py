"""A tampered pagination cursor is a 422 on ``cursor`` (under ``errors.query``), never a 500:
swept over every list operation of the app's own OpenAPI document."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from agency.pagination import BadCursor, decode_cursor, encode_cursor
from tests.factories import make_agency, make_client, owner_of, token_for
from tests.helpers import AuthActions, bearer


def _b64(raw: bytes | str) -> str:
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


SOME_ID = str(uuid.uuid4())
TAMPERED = {
    "nul inside": _b64(json.dumps(["a\x00b", SOME_ID])),
    "escaped lone surrogate": _b64('["\\ud800", "' + SOME_ID + '"]'),
    "utf-8 encoded surrogate": _b64(b'["\xed\xa0\x80", "' + SOME_ID.encode() + b'"]'),
    "not utf-8": _b64(b"\xff\xfe\xfd"),
    "deeply nested": _b64("[" * 100_000 + "]" * 100_000),
    "nested within the length limit": _b64("[" * 300 + "]" * 300),
    "numbers": _b64("[1, 2]"),
    "object": _b64('{"name": "a", "id": "b"}'),
    "string": _b64('"a"'),
    "null": _b64("null"),
    "too short": _b64('["a"]'),
    "too long": _b64(json.dumps(["a", SOME_ID, "c"])),
    "id not a uuid": _b64('["a", "not-a-uuid"]'),
    "id a number": _b64('["a", 5]'),
    "name a list": _b64(json.dumps([["a"], SOME_ID])),
    "not base64": "!!!***",
    "bad padding": "A",
    "empty array": _b64("[]"),
    "huge": "A" * 20_000,
}


def _list_operations(spec: dict) -> list[tuple[str, bool]]:
    """``(path, takes_cursor)`` of every GET answering ``{items, next_cursor}``."""
    schemas = spec["components"]["schemas"]
    found = []
    for path, item in spec["paths"].items():
        get = item.get("get")
        if not get:
            continue
        schema = get["responses"].get("200", {}).get("content", {})
        schema = schema.get("application/json", {}).get("schema", {})
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        if "next_cursor" not in schema.get("properties", {}):
            continue
        params = get.get("parameters", []) + item.get("parameters", [])
        takes_cursor = any(p["in"] == "query" and p["name"] == "cursor" for p in params)
        found.append((path, takes_cursor))
    return found


@pytest.fixture
def owner_api(client, database_url):
    agency = make_agency()
    first, second = make_client(agency, "Alfa"), make_client(agency, "Beta")
    headers = bearer(token_for(owner_of(agency), agency))
    return client, headers, {"client_id": str(first.id)}, (first, second)


def test_every_list_operations_cursor_refuses_tampering_with_a_422(owner_api):
    client, headers, ids, _ = owner_api
    spec = client.get("/api/v1/openapi.json").json
    operations = _list_operations(spec)
    with_cursor = [path for path, takes in operations if takes]
    assert len(operations) >= 4 and with_cursor, operations

    seen = 0
    for path, takes_cursor in operations:
        url = path.format(**ids)  # a new path parameter: add a real id for it above
        for name, cursor in TAMPERED.items():
            response = client.get(url, query_string={"cursor": cursor}, headers=headers)
            seen += 1
            assert response.status_code < 500, (path, name)
            if takes_cursor:
                assert response.status_code == 422, (path, name, response.json)
                body = response.json
                assert body["code"] == 422
                assert list(body["errors"]) == ["query"], (path, name, body)
                assert list(body["errors"]["query"]) == ["cursor"], (path, name, body)
    assert seen == len(operations) * len(TAMPERED)


def test_a_real_cursor_still_pages(owner_api):
    client, headers, _, (first, second) = owner_api

    page1 = client.get("/api/v1/clients", query_string={"limit": 1}, headers=headers)
    page2 = client.get(
        "/api/v1/clients",
        query_string={"limit": 1, "cursor": page1.json["next_cursor"]},
        headers=headers,
    )

    assert [c["name"] for c in page1.json["items"]] == ["Alfa"]
    assert [c["name"] for c in page2.json["items"]] == ["Beta"]
    assert page2.json["next_cursor"] is None


@pytest.mark.parametrize("name", sorted(TAMPERED))
def test_the_web_client_list_survives_a_tampered_cursor(client, database_url, name):
    agency = make_agency()
    make_client(agency, "Alfa")
    AuthActions(client).login(owner_of(agency).email)

    response = client.get(f"/a/{agency.slug}/clients/", query_string={"cursor": TAMPERED[name]})

    assert response.status_code in (302, 400), response.status_code


@pytest.mark.parametrize("name", sorted(TAMPERED))
def test_decode_cursor_raises_only_bad_cursor(name):
    with pytest.raises(BadCursor):
        decode_cursor(TAMPERED[name], (str, uuid.UUID))


def test_decode_cursor_round_trips_what_encode_made():
    cid = uuid.uuid4()
    assert decode_cursor(encode_cursor("Caffè ☕", cid), (str, uuid.UUID)) == ("Caffè ☕", cid)

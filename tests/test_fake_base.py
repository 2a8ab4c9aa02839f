"""The fakes' base server does what the publishing tests rely on: routes, log and faults."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.base import FakeService, route


class Counter(FakeService):
    def __init__(self) -> None:
        super().__init__()
        self.created: list[dict] = []

    @route("POST", "/things")
    def create(self, request):  # noqa: ANN001, ANN201
        self.created.append(request.json())
        return 201, {"id": str(len(self.created))}, {"x-thing": "yes"}

    @route("GET", "/things/{thing_id}")
    def show(self, request):  # noqa: ANN001, ANN201
        return 200, {"id": request.params["thing_id"]}


@pytest.fixture
def fake():
    with Counter() as service:
        yield service


def test_routes_answer_and_every_request_is_recorded(fake):
    created = httpx.post(f"{fake.url}/things", json={"a": 1})
    shown = httpx.get(f"{fake.url}/things/42?x=1")
    assert (created.status_code, created.json(), created.headers["x-thing"]) == (
        201,
        {"id": "1"},
        "yes",
    )
    assert shown.json() == {"id": "42"}
    assert [(r.method, r.path) for r in fake.requests] == [
        ("POST", "/things"),
        ("GET", "/things/42"),
    ]
    assert fake.calls("GET")[0].arg("x") == "1"


def test_a_scripted_failure_answers_instead_of_the_handler_once(fake):
    fake.fail("POST", "/things", 429, {"error": "slow down"}, {"Retry-After": "3"})
    refused = httpx.post(f"{fake.url}/things", json={})
    accepted = httpx.post(f"{fake.url}/things", json={})
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "3")
    assert accepted.status_code == 201
    assert len(fake.created) == 1


def test_drop_after_commit_commits_but_never_answers(fake):
    fake.drop_after_commit("POST", "/things")
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{fake.url}/things", json={"b": 2})
    assert fake.created == [{"b": 2}]


def test_unknown_paths_are_404(fake):
    assert httpx.get(f"{fake.url}/nowhere").status_code == 404

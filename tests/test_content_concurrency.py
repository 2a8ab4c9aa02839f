"""Concurrent decisions end consistent: real concurrent PostgreSQL transactions, two threads.

Each thread has its own app context, session and connection. A pause inside the service
(after the post's state is read) makes the two transactions overlap, so without the row
lock on the post both would act on the same stale state.
"""

from __future__ import annotations

import threading
import time
import uuid
from types import ModuleType

import pytest
from sqlalchemy import select

from agency.audit import AuditEvent
from agency.content import decisions as content_decisions
from agency.content import service
from agency.content.models import Approval, Decision, Post, PostStatus
from agency.db import db
from agency.errors import IllegalTransition
from tenants.context import tenant_context
from tenants.models import Agency, User
from tenants.service import load_access
from tests.content_helpers import act, draft, make_desk

pytestmark = pytest.mark.postgresql

PAUSE = 0.4


def _slow(monkeypatch, module: ModuleType, name: str) -> None:
    """Pause after ``<module>.<name>`` reads: the other transaction runs meanwhile."""
    real = getattr(module, name)

    def slow(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        result = real(*args, **kwargs)
        time.sleep(PAUSE)
        return result

    monkeypatch.setattr(module, name, slow)


def _in_thread(
    app, agency_id: uuid.UUID, user_id: str, work, errors: list, start
) -> threading.Thread:  # noqa: ANN001, E501
    def run() -> None:
        with app.app_context(), tenant_context(agency_id):
            try:
                user = db.session.scalar(select(User).where(User.id == uuid.UUID(user_id)))
                agency = db.session.scalar(select(Agency).where(Agency.id == agency_id))
                access = load_access(user, agency)
                start.wait(5)
                work(access)
            except Exception as exc:  # noqa: BLE001 - the test reports it
                errors.append(exc)
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _run_together(app, desk, jobs: list[tuple[str, object]]) -> list[Exception]:
    errors: list[Exception] = []
    start = threading.Barrier(len(jobs))
    threads = [
        _in_thread(app, desk.ids["agency"], desk.ids[who], work, errors, start)
        for who, work in jobs
    ]
    for thread in threads:
        thread.join(30)
    db.session.rollback()
    return errors


def _post_row(desk, post_id: str) -> Post:
    with tenant_context(desk.ids["agency"]):
        return db.session.scalar(
            select(Post).where(Post.id == post_id).execution_options(populate_existing=True)
        )


def test_two_all_policy_approvers_at_once_end_approved_exactly_once(
    app, client, database_url, monkeypatch
):
    desk = make_desk(client_approval="all")
    post = draft(client, desk)
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "approve", "manager")
    _slow(monkeypatch, content_decisions, "live_decisions")
    post_id = uuid.UUID(post["id"])

    def approve(access) -> None:  # noqa: ANN001
        content_decisions.decide(access, post_id, Decision.APPROVE, revision=1, via="web")

    errors = _run_together(app, desk, [("cm", approve), ("cm2", approve)])
    assert errors == []
    row = _post_row(desk, post["id"])
    assert row.status == PostStatus.APPROVED.value
    assert row.approved_revision == 1
    with tenant_context(desk.ids["agency"]):
        decisions = db.session.scalars(
            select(Approval.user_id).where(Approval.step == "client", Approval.voided_at.is_(None))
        ).all()
        approved_moves = [
            e
            for e in db.session.scalars(select(AuditEvent).where(AuditEvent.subject_id == post_id))
            if e.action == "post.status_changed" and e.data["new"] == "approved"
        ]
    assert sorted(map(str, decisions)) == sorted([desk.ids["cm"], desk.ids["cm2"]])
    assert len(approved_moves) == 1


def test_approve_racing_an_edit_never_approves_an_unapproved_revision(
    app, client, database_url, monkeypatch
):
    desk = make_desk(client_approval="any")
    post = draft(client, desk)
    act(client, desk, post["id"], "submit", "staff")
    act(client, desk, post["id"], "approve", "manager")
    _slow(monkeypatch, service, "current_revision")  # decide and update_post read it
    post_id = uuid.UUID(post["id"])

    def approve(access) -> None:  # noqa: ANN001
        content_decisions.decide(access, post_id, Decision.APPROVE, via="web")

    def edit(access) -> None:  # noqa: ANN001
        service.update_post(access, post_id, {"body": "Changed at the last second"}, via="web")

    errors = _run_together(app, desk, [("cm", approve), ("staff", edit)])
    # Whichever came second may be refused (409), but the end state is consistent.
    assert all(isinstance(e, IllegalTransition) for e in errors), errors
    row = _post_row(desk, post["id"])
    with tenant_context(desk.ids["agency"]):
        live = db.session.scalars(
            select(Approval).where(
                Approval.post_id == post_id,
                Approval.step == "client",
                Approval.decision == "approve",
                Approval.voided_at.is_(None),
            )
        ).all()
    if row.status in (PostStatus.APPROVED.value, PostStatus.SCHEDULED.value):
        assert row.approved_revision == row.revision
        assert [a.revision_number for a in live] == [row.revision]
    else:
        assert row.approved_revision is None
        assert row.revision == 2 and row.status == PostStatus.IN_REVIEW.value
        assert live == []

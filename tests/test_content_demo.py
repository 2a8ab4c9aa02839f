"""The demo seeds a week of posts in every state of the workflow."""

from __future__ import annotations

from sqlalchemy import select

from agency.content.models import InboxItem, Post
from agency.db import db
from agency.demo import DEMO_SLUG
from tenants.context import tenant_context
from tenants.models import Agency


def test_demo_seeds_posts_in_every_state_and_a_replied_inbox_item(runner, database_url):
    assert runner.invoke(args=["demo", "--force"]).exit_code == 0
    agency = db.session.scalar(select(Agency).where(Agency.slug == DEMO_SLUG))
    with tenant_context(agency.id):
        statuses = set(db.session.scalars(select(Post.status)))
        items = db.session.scalars(select(InboxItem)).all()
    assert {
        "draft", "in_review", "awaiting_client", "changes_requested", "scheduled",
        "published", "rejected", "archived", "approved",
    } <= statuses  # fmt: skip
    assert [i.status for i in items] == ["replied"]

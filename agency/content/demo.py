"""Demo content: a realistic week of posts in every state, so a newcomer sees the product."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from agency.channels.models import Channel
from agency.content import decisions, discussion, inbox, service
from agency.content.models import Decision, Post, PostStatus, PostTarget, TargetStatus
from agency.db import db, utcnow
from agency.workflow.models import ApprovalPolicy
from tenants.context import tenant_context
from tenants.models import Agency, ClientCompany
from tenants.service import find_user_by_email, load_access

TEXTS = [
    "🍝 Lunedì si riparte: il menù del giorno è online. Prenota al 02 1234567!",
    "Nuova carta dei vini: 12 etichette lombarde da scoprire con il nostro sommelier.",
    "Giovedì sera musica dal vivo in terrazza dalle 20:30. Posti limitati!",
    "Dietro le quinte: la nostra pasta fresca, fatta a mano ogni mattina alle 7.",
    "Weekend di primavera: menù degustazione a 45 € con asparagi e risotto allo zafferano.",
    "Grazie a tutti per le 500 recensioni ⭐⭐⭐⭐⭐ su Google!",
    "Domenica brunch dalle 11 alle 15: prenotazioni aperte.",
    "La ricetta della nonna: tiramisù classico, solo per questa settimana.",
    "Chiusura straordinaria martedì per inventario: ci vediamo mercoledì!",
    "Cerchiamo un aiuto cuoco per la stagione estiva: scrivici in privato!",
]


def seed_demo_posts(agency: Agency, client: ClientCompany, emails: dict[str, str]) -> None:
    """Channels, a policy and posts in every state for ``client``; ``emails`` by role."""
    with tenant_context(agency.id):
        facebook = Channel(client_id=client.id, network="manual", name="Facebook")
        instagram = Channel(client_id=client.id, network="manual", name="Instagram")
        db.session.add_all([facebook, instagram])
        db.session.add(ApprovalPolicy(client_id=client.id, internal_review=True))
        db.session.commit()
        people = {
            role: load_access(find_user_by_email(email), agency) for role, email in emails.items()
        }
        staff, manager, cm = people["staff"], people["manager"], people["client_manager"]
        now = utcnow().replace(minute=0, second=0, microsecond=0)

        def make(i: int, day: int, hour: int = 12) -> Post:
            return service.create_post(
                staff,
                {
                    "client_id": client.id,
                    "body": TEXTS[i],
                    "channel_ids": [facebook.id, instagram.id] if i % 2 else [facebook.id],
                    "scheduled_at": now + timedelta(days=day, hours=hour - now.hour),
                },
                via="web",
            )

        make(0, 6)  # draft
        service.submit(staff, make(1, 5).id, via="web")  # in internal review
        waiting = make(2, 4)
        service.submit(staff, waiting.id, via="web")
        decisions.decide(manager, waiting.id, Decision.APPROVE, via="web")  # awaiting client
        discussion.add_comment(
            cm, waiting.id, {"body": "Possiamo aggiungere l'orario?", "visibility": "shared"}
        )
        redo = make(3, 3)
        service.submit(staff, redo.id, via="web")
        decisions.decide(
            manager, redo.id, Decision.REQUEST_CHANGES, comment="Foto più luminosa", via="web"
        )
        for i, day in ((4, 2), (6, 1)):  # scheduled (approved by the client via link)
            post = make(i, day)
            service.submit(staff, post.id, via="web")
            decisions.decide(manager, post.id, Decision.APPROVE, via="web")
            decisions.decide(cm, post.id, Decision.APPROVE, via="link")
        rejected = make(7, 2, 18)
        service.submit(staff, rejected.id, via="web")
        decisions.decide(manager, rejected.id, Decision.APPROVE, via="web")
        decisions.decide(
            cm, rejected.id, Decision.REJECT, comment="Non questa settimana", via="web"
        )
        service.archive(staff, make(8, 1, 9).id, via="web")
        _published_yesterday(staff, manager, cm, make(5, 1, 10))
        unscheduled = service.create_post(  # approved, waiting for a publishing time
            staff, {"client_id": client.id, "body": TEXTS[9], "channel_ids": [facebook.id]}
        )
        service.submit(staff, unscheduled.id, via="web")
        decisions.decide(manager, unscheduled.id, Decision.APPROVE, via="web")
        decisions.decide(cm, unscheduled.id, Decision.APPROVE, via="web")
        item = inbox.create_item(
            staff,
            {"channel_id": facebook.id, "author": "Giulia R.", "body": "Siete aperti a Pasquetta?"},
        )
        inbox.reply(staff, item["id"], {"body": "Sì, Giulia! Pranzo dalle 12:30."})


def _published_yesterday(staff, manager, cm, post: Post) -> None:  # noqa: ANN001
    """As the publishing jobs will leave a post once it is out (they do not exist yet)."""
    service.submit(staff, post.id, via="web")
    decisions.decide(manager, post.id, Decision.APPROVE, via="web")
    decisions.decide(cm, post.id, Decision.APPROVE, via="web")
    row = db.session.scalar(select(Post).where(Post.id == post.id))
    row.status = PostStatus.PUBLISHED.value
    row.scheduled_at = utcnow() - timedelta(days=1)
    for target in db.session.scalars(select(PostTarget).where(PostTarget.post_id == post.id)):
        target.status = TargetStatus.PUBLISHED.value
        target.published_at = row.scheduled_at
    db.session.commit()


def demo_emails(users: list) -> dict[str, str]:  # noqa: ANN001 - (Role, email, name) tuples
    return {role.value: email for role, email, _name in users}

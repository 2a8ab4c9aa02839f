"""Post content: merging a change, validating it, writing it as an immutable revision, and
checking each target network's limits before submit."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from agency.channels.models import Channel, ChannelStatus
from agency.content import limits
from agency.content.media import unknown_refs
from agency.content.models import Post, PostTarget, Revision, aware
from agency.db import db, utcnow
from agency.errors import ValidationFailed
from tenants.models import ClientCompany
from tenants.permissions import Access

MAX_BODY = 100_000
MAX_MEDIA = 10


def content_hash(content: Mapping[str, object]) -> str:
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def merge_content(rev: Revision | None, data: Mapping[str, object]) -> dict[str, object]:
    """The content after applying ``data`` (absent keys keep ``rev``'s values)."""
    base = {
        "body": rev.body if rev else "",
        "variants": dict(rev.variants) if rev else {},
        "media": list(rev.media) if rev else [],
        "channel_ids": list(rev.channel_ids) if rev else [],
        "scheduled_at": aware(rev.scheduled_at).isoformat() if rev and rev.scheduled_at else None,
    }
    for key in base:
        if key in data:
            value = data[key]
            if key == "scheduled_at" and isinstance(value, datetime):
                value = value.isoformat()
            base[key] = value
    return base


def validate_content(client: ClientCompany, content: dict[str, object], changed: set[str]) -> dict:
    """Normalised content or ValidationFailed with every field error at once."""
    errors: dict[str, list[str]] = {}
    body = content["body"]
    if not isinstance(body, str) or len(body) > MAX_BODY:
        errors["body"] = [_("Write at most %(n)d characters.", n=MAX_BODY)]
    raw_ids = content["channel_ids"]
    try:
        ids = list(dict.fromkeys(uuid.UUID(str(c)) for c in raw_ids))  # type: ignore[union-attr]
    except (TypeError, ValueError):
        ids = []
        errors["channel_ids"] = [_("Give a list of channel ids.")]
    channels = {}
    if ids:
        channels = {
            c.id: c
            for c in db.session.scalars(
                select(Channel).where(Channel.client_id == client.id, Channel.id.in_(ids))
            )
        }
        if set(channels) != set(ids):
            errors["channel_ids"] = [_("Choose channels of this client.")]
        elif "channel_ids" in changed and any(
            c.status == ChannelStatus.DISABLED.value for c in channels.values()
        ):
            errors["channel_ids"] = [_("A disabled channel cannot be chosen.")]
    elif "channel_ids" not in errors:
        errors["channel_ids"] = [_("Choose at least one channel.")]
    variants: dict[str, str] = {}
    for key, text in dict(content["variants"] or {}).items():  # type: ignore[call-overload]
        if str(key) not in {str(i) for i in ids}:
            if "variants" in changed:
                errors["variants"] = [_("Variants must be for the post's channels.")]
            # else: the channel was dropped from the post, and its variant with it
        elif not isinstance(text, str) or len(text) > MAX_BODY:
            errors["variants"] = [_("Write at most %(n)d characters.", n=MAX_BODY)]
        elif text.strip():
            variants[str(key)] = text
    media = content["media"] or []
    if not isinstance(media, list) or len(media) > MAX_MEDIA:
        errors["media"] = [_("Attach at most %(n)d media.", n=MAX_MEDIA)]
    elif "media" in changed and unknown_refs(client, media):
        errors["media"] = [_("Attach images uploaded for this client.")]
    scheduled = content["scheduled_at"]
    when = datetime.fromisoformat(str(scheduled)) if scheduled else None
    if when is not None and when.tzinfo is None:
        errors["scheduled_at"] = [_("Give a time with its time zone.")]
    elif when is not None and "scheduled_at" in changed and when <= utcnow():
        errors["scheduled_at"] = [_("Choose a time in the future.")]
    if errors:
        raise ValidationFailed(errors)
    return {
        "body": body,
        "variants": variants,
        "media": media,
        "channel_ids": [str(i) for i in ids],
        "scheduled_at": when.isoformat() if when else None,
    }


def add_revision(access: Access, post: Post, content: dict) -> Revision:
    when = datetime.fromisoformat(content["scheduled_at"]) if content["scheduled_at"] else None
    rev = Revision(
        id=uuid.uuid4(),
        post_id=post.id,
        number=post.revision,
        body=content["body"],
        variants=content["variants"],
        media=content["media"],
        channel_ids=content["channel_ids"],
        scheduled_at=when,
        author_id=access.user.id,
        content_hash=content_hash(content),
    )
    db.session.add(rev)
    post.scheduled_at = when
    post.updated_at = utcnow()
    _sync_targets(post, [uuid.UUID(c) for c in content["channel_ids"]])
    return rev


def _sync_targets(post: Post, channel_ids: list[uuid.UUID]) -> None:
    existing = {
        t.channel_id: t
        for t in db.session.scalars(select(PostTarget).where(PostTarget.post_id == post.id))
    }
    for cid, target in existing.items():
        if cid not in channel_ids:
            db.session.delete(target)
    for cid in channel_ids:
        if cid not in existing:
            db.session.add(PostTarget(post_id=post.id, channel_id=cid))


def check_limits(rev: Revision, *, reply: bool = False) -> None:
    """Every target's text within its network's limit; ValidationFailed naming channel and limit.
    A reply (to a comment) carries no image, so Instagram's image rule is for posts only."""
    ids = [uuid.UUID(c) for c in rev.channel_ids]
    channels = db.session.scalars(select(Channel).where(Channel.id.in_(ids))).all()
    problems: dict[str, list[str]] = {}
    for channel in channels:
        text = rev.variants.get(str(channel.id)) or rev.body
        counted = limits.count(channel.network, text, channel.settings)
        messages = []
        if not text.strip() and not rev.media:
            messages.append(_("%(channel)s: write the text.", channel=channel.name))
        if not counted.ok:
            messages.append(
                _(
                    "%(channel)s (%(network)s): %(used)d characters, the limit is %(limit)d.",
                    channel=channel.name,
                    network=channel.network,
                    used=counted.used,
                    limit=counted.limit,
                )  # fmt: skip
            )
        if not reply and limits.needs_image(channel.network) and not rev.media:
            messages.append(_("%(channel)s (instagram) needs an image.", channel=channel.name))
        if messages:
            problems[str(channel.id)] = messages
    if problems:
        raise ValidationFailed({"channels": problems})  # type: ignore[dict-item]

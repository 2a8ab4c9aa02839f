"""Post images: checked by decoding them (Pillow), stored under ``MEDIA_ROOT``, served only to
users who may see a post whose revision uses them.

A reference is ``<uuid>.<ext>``; the file lives in ``posts/<agency>/<client>/``, so a reference
only ever resolves inside the client it was uploaded for.
"""

from __future__ import annotations

import io
import re
import uuid
import warnings
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError

from agency import audit
from agency.content import access as seen
from agency.content.models import Revision
from agency.db import db
from agency.errors import NotFound, PermissionDenied, ValidationFailed
from tenants.models import ClientCompany
from tenants.permissions import Access, Permission

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000
FORMATS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}
MIMETYPES = {"jpg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}
REF_RE = re.compile(r"^[0-9a-f]{32}\.(jpg|png|gif|webp)$")


def _folder(agency_id: uuid.UUID, client_id: uuid.UUID) -> Path:
    return current_app.config["REGIA"].media_root / "posts" / agency_id.hex / client_id.hex


def image_kind(content: bytes) -> str:
    """The file extension of a JPEG/PNG/GIF/WebP image, or ValidationFailed."""
    if not content:
        raise ValidationFailed({"file": [_("Choose an image file.")]})
    if len(content) > MAX_BYTES:
        raise ValidationFailed({"file": [_("An image may be at most 8 MB.")]})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:
                kind = image.format
                width, height = image.size
                image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Warning) as exc:
        raise ValidationFailed(
            {"file": [_("This is not a JPEG, PNG, GIF or WebP image.")]}
        ) from exc
    if kind not in FORMATS:
        raise ValidationFailed({"file": [_("This is not a JPEG, PNG, GIF or WebP image.")]})
    if width * height > MAX_PIXELS:
        raise ValidationFailed({"file": [_("This image is too large.")]})
    return FORMATS[kind]


def save_image(access: Access, client: ClientCompany, content: bytes) -> str:
    """Store an image for ``client``'s posts; returns its reference."""
    if not access.can(Permission.DRAFT_CONTENT, client.id):
        raise PermissionDenied(_("Your role does not allow this."))
    ext = image_kind(content)
    folder = _folder(client.agency_id, client.id)
    folder.mkdir(parents=True, exist_ok=True)
    ref = f"{uuid.uuid4().hex}.{ext}"
    tmp = folder / f".{ref}.part"
    tmp.write_bytes(content)
    tmp.replace(folder / ref)
    audit.record_by(
        access, "media.uploaded", subject_type="client", subject_id=client.id,
        client_id=client.id, ref=ref, bytes=len(content),
    )  # fmt: skip
    db.session.commit()
    return ref


def unknown_refs(client: ClientCompany, refs: list) -> list[str]:
    """The references that are not images uploaded for ``client``."""
    folder = _folder(client.agency_id, client.id)
    return [
        str(r)
        for r in refs
        if not (isinstance(r, str) and REF_RE.match(r) and (folder / r).is_file())
    ]


def image_file(access: Access, post_id: uuid.UUID, ref: str) -> tuple[Path, str]:
    """The file and type of ``ref`` if a revision of the post this user may see uses it."""
    from sqlalchemy import select

    from agency.content.service import get_post

    post = get_post(access, post_id)
    stmt = select(Revision.media).where(Revision.post_id == post.id)
    if not seen.agency_view(access, post.client_id):
        stmt = stmt.where(Revision.number.in_(post.shown_revisions or []))
    used = any(ref in (media or []) for media in db.session.scalars(stmt))
    path = _folder(post.agency_id, post.client_id) / ref
    if not REF_RE.match(ref) or not used or not path.is_file():
        raise NotFound(_("No such image."))
    return path, MIMETYPES[ref.rsplit(".", 1)[1]]

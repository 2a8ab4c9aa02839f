"""The approval record of a client (DESIGN.md §6): who approved which exact text, when, how.

One CSV row per decision, with the revision's content hash and text, streamed in constant
memory. Client users get only the client step (internal reviews are the agency's business).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator

from flask_babel import gettext as _
from sqlalchemy import and_, select

from agency import audit
from agency.clients.service import get_client
from agency.content import access as seen
from agency.content.models import Approval, Post, Revision, Step, aware
from agency.db import db
from agency.errors import PermissionDenied
from tenants.models import User
from tenants.permissions import Access, Permission

COLUMNS = (
    "decided_at_utc", "post_id", "kind", "revision", "content_hash", "step", "decision",
    "via", "person", "email", "comment", "superseded", "text",
)  # fmt: skip
BATCH = 500


def _decisions(access: Access, client_id: uuid.UUID, *, via: str, fmt: str):  # noqa: ANN202
    """(client, rows of every decision this user may see); the export itself is audited."""
    client = get_client(access, client_id)
    if not access.can(Permission.SEE_CONTENT, client.id):
        raise PermissionDenied(_("Your role does not allow this."))
    agency_side = seen.agency_view(access, client.id)
    stmt = (
        select(Approval, Post.kind, Revision.content_hash, Revision.body, User.name, User.email)
        .join(Post, and_(Post.agency_id == Approval.agency_id, Post.id == Approval.post_id))
        .join(
            Revision,
            and_(Revision.agency_id == Approval.agency_id, Revision.id == Approval.revision_id),
        )
        .outerjoin(User, User.id == Approval.user_id)
        .where(Post.client_id == client.id)
        .order_by(Approval.created_at, Approval.id)
        .execution_options(yield_per=BATCH)
    )
    if not agency_side:
        stmt = stmt.where(Approval.step == Step.CLIENT.value)
    audit.record_by(
        access, "approval_record.exported", subject_type="client", subject_id=client.id,
        client_id=client.id, via=via, format=fmt,
    )  # fmt: skip
    db.session.commit()
    return client, db.session.execute(stmt)


def approval_record_csv(access: Access, client_id: uuid.UUID, *, via: str = "web") -> Iterator[str]:
    """CSV lines of every decision on the client's posts; the export itself is audited."""
    _client, rows = _decisions(access, client_id, via=via, fmt="csv")
    return _lines(rows)


def approval_record_pdf(access: Access, client_id: uuid.UUID, *, via: str = "web") -> bytes:
    """The same record as a PDF document, in the reader's language (agency/content/record_pdf)."""
    from agency.content.record_pdf import render

    client, rows = _decisions(access, client_id, via=via, fmt="pdf")
    return render(access.agency.name, client.name, rows)


def _lines(rows) -> Iterator[str]:  # noqa: ANN001
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return value

    writer.writerow(COLUMNS)
    yield "\ufeff" + flush()  # a BOM, so Excel reads the file as UTF-8
    for approval, kind, content_hash, body, name, email in rows:
        writer.writerow(
            [
                aware(approval.created_at).isoformat(), approval.post_id, kind,
                approval.revision_number, content_hash, approval.step, approval.decision,
                approval.via, _safe(name or ""), email or "", _safe(approval.comment or ""),
                "yes" if approval.voided_at else "no", _safe(body),
            ]
        )  # fmt: skip
        yield flush()


def _safe(text: str) -> str:
    # A cell starting with = + - @ is a formula to spreadsheets: neutralise it.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text

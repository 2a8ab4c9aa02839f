"""Reading ``multipart/form-data`` bodies in fakes (X media upload, Graph ``source`` photos)."""

from __future__ import annotations

from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP

from tests.fakes.base import Request


@dataclass(frozen=True)
class Part:
    value: bytes
    filename: str | None
    content_type: str

    @property
    def text(self) -> str:
        return self.value.decode()


def parse(request: Request) -> dict[str, Part] | None:
    """The parts by field name, or None when the body is not multipart/form-data."""
    content_type = request.header("content-type", "") or ""
    if not content_type.startswith("multipart/form-data"):
        return None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.body)
    parts: dict[str, Part] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            parts[str(name)] = Part(
                value=part.get_payload(decode=True) or b"",
                filename=part.get_filename(),
                content_type=part.get_content_type(),
            )
    return parts


def fields(request: Request) -> dict[str, str]:
    """Form fields from a urlencoded or multipart body, plus the query string (Graph style)."""
    values = {k: v[0] for k, v in request.query.items()}
    parts = parse(request)
    if parts is not None:
        values.update({k: p.text for k, p in parts.items() if p.filename is None})
    elif (request.header("content-type") or "").startswith("application/x-www-form-urlencoded"):
        values.update({k: v[0] for k, v in request.form().items()})
    return values

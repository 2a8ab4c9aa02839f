"""Small pieces the connector tests share: a client for loopback fakes, a checkpoint store
that behaves like the engine's (persisted before the call, handed back on retry), an image."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

from PIL import Image

from agency.outbound import OutboundClient
from agency.publishing.connectors.base import MediaFile, Outgoing


def loopback_client() -> OutboundClient:
    return OutboundClient(allow_private=True, timeout=5.0)


class Checkpoints(dict):
    """``checkpoint`` for a connector; ``retry(outgoing)`` is the engine's next attempt."""

    def __call__(self, key: str, value: str) -> None:
        self[key] = value

    def retry(self, outgoing: Outgoing) -> Outgoing:
        return dataclasses.replace(outgoing, state=dict(self))


def png(tmp_path: Path, name: str = "picture.png", alt: str = "") -> MediaFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="PNG")
    path = tmp_path / name
    path.write_bytes(buffer.getvalue())
    return MediaFile(path=path, content_type="image/png", alt_text=alt)


def outgoing(text: str, **kwargs) -> Outgoing:
    kwargs.setdefault("target_id", "t-1")
    kwargs.setdefault("idempotency_key", "key-1")
    return Outgoing(text=text, **kwargs)

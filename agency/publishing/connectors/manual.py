"""Manual channels: a person publishes by hand and records the post's URL in Regia.

There is nothing to call. The engine leaves a manual target waiting (``by_hand``) and the
post page offers staff and managers a form to mark it published with its link
(``agency.channels.manual``).
"""

from __future__ import annotations

from typing import ClassVar

import httpx

from agency.publishing.connectors.base import (
    AccountInfo,
    Connector,
    ErrorClass,
    InboundItem,
    Outgoing,
    Published,
    PublishError,
    register,
)

WAITING = "Waiting for someone to publish this by hand and record its link."


@register
class ManualConnector(Connector):
    network = "manual"
    supports_inbound = False
    #: The engine must not call publish(): the target waits for a person.
    by_hand: ClassVar[bool] = True

    def verify(self) -> AccountInfo:
        return AccountInfo(handle="")

    def publish(self, outgoing: Outgoing) -> Published:
        raise PublishError(ErrorClass.PERMANENT, WAITING)

    def publish_reply(self, outgoing: Outgoing) -> Published:
        raise PublishError(ErrorClass.PERMANENT, WAITING)

    def find_existing(self, outgoing: Outgoing) -> Published | None:
        return None  # only the person who published it knows the link

    def fetch_inbound(self, cursor: str | None) -> tuple[list[InboundItem], str | None]:
        return [], cursor

    def classify(self, result: httpx.Response | BaseException) -> PublishError:
        return PublishError(ErrorClass.PERMANENT, WAITING)

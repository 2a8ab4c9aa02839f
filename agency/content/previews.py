"""Network previews: how a target will look in the feed before anyone taps "more".

Feeds cut long text at a few lines (approximated here by characters) and crop images to the
network's ratio; the reviewer should judge what the audience actually sees first.
"""

from __future__ import annotations

from dataclasses import dataclass

# (characters shown before "… more", the feed's image crop as a regia.css class)
FEED: dict[str, tuple[int | None, str]] = {
    "instagram": (125, "crop-4x5"),
    "facebook_page": (477, "crop-191x100"),
    "linkedin": (210, "crop-191x100"),
    "x": (None, "crop-16x9"),
    "mastodon": (None, "crop-16x9"),
    "bluesky": (None, "crop-16x9"),
}
DEFAULT = (None, "crop-none")


@dataclass(frozen=True)
class Preview:
    network: str
    visible: str
    truncated: bool
    ratio: str


def preview(network: str, text: str) -> Preview:
    cut, ratio = FEED.get(network, DEFAULT)
    if cut is None or len(text) <= cut:
        return Preview(network, text, False, ratio)
    visible = text[:cut].rsplit(" ", 1)[0] if " " in text[:cut] else text[:cut]
    return Preview(network, visible.rstrip(), True, ratio)

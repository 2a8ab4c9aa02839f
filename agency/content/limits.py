"""Per-network text limits (DESIGN.md §6): how each network counts a text, and its maximum.

The counting follows each network's own rules closely enough that a text we accept is not
refused for length: X weighs code points as twitter-text v3 does (URLs 23, CJK and emoji 2),
Mastodon counts graphemes with URLs as 23 and remote mentions by their local part, Bluesky
counts graphemes, the Meta and LinkedIn networks count characters.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import regex

URL_LENGTH = 23
X_LIMIT = 280
MASTODON_DEFAULT_LIMIT = 500
BLUESKY_LIMIT = 300
LINKEDIN_LIMIT = 3000
INSTAGRAM_LIMIT = 2200
FACEBOOK_LIMIT = 63206
# Networks without a documented limit still get a sane ceiling.
GENERIC_LIMIT = 100_000

# http(s) URLs and bare www. hosts, up to whitespace; trailing punctuation is not part of a URL.
URL_RE = regex.compile(r"(?:https?://|www\.)[^\s<>\"]+?(?=[.,;:!?)\]]*(?:\s|$))", regex.IGNORECASE)
MASTODON_MENTION_RE = regex.compile(r"(@[\w.]+)@[\w.-]+\w", regex.UNICODE)
EMOJI_CLUSTER_RE = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}")
GRAPHEME_RE = regex.compile(r"\X")  # compiled once: counting runs for every target of a list

# twitter-text v3: code points in these ranges weigh 100 (1 char), all others 200 (2 chars).
_X_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))


@dataclass(frozen=True)
class Count:
    used: int
    limit: int

    @property
    def ok(self) -> bool:
        return self.used <= self.limit

    @property
    def capped(self) -> bool:
        """A real network limit, worth showing (the generic ceiling is not one)."""
        return self.limit < GENERIC_LIMIT


def _graphemes(text: str) -> int:
    return len(GRAPHEME_RE.findall(text))


def _light(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _X_LIGHT_RANGES)


def _x_weight(cluster: str) -> int:
    # An emoji sequence, however many code points, weighs 200; a bare (c) sign stays light.
    if EMOJI_CLUSTER_RE.search(cluster) and (len(cluster) > 1 or not _light(cluster)):
        return 2
    return sum(1 if _light(ch) else 2 for ch in cluster)


def x_length(text: str) -> int:
    """Weighted length as X counts it (twitter-text v3, URLs 23)."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    pos = 0
    for match in URL_RE.finditer(text):
        total += sum(_x_weight(c) for c in GRAPHEME_RE.findall(text[pos : match.start()]))
        total += URL_LENGTH
        pos = match.end()
    total += sum(_x_weight(c) for c in GRAPHEME_RE.findall(text[pos:]))
    return total


def mastodon_length(text: str) -> int:
    """Graphemes, each URL as 23, ``@user@host`` as ``@user`` (Mastodon's validator)."""
    text = URL_RE.sub("x" * URL_LENGTH, text)
    text = MASTODON_MENTION_RE.sub(r"\1", text)
    return _graphemes(text)


def count(network: str, text: str, settings: dict | None = None) -> Count:
    """How ``network`` counts ``text`` and its limit (channel ``settings`` may lower Mastodon's)."""
    used = _used(network, text) if len(text) <= MEMO_MAX_TEXT else _length(network, text)
    return Count(used, _limit(network, settings or {}))


#: Lists count every target of every row again on each request, and a revision's text never
#: changes: counts are memoized by (network, the text itself), texts up to this long (so the
#: memo holds at most ~4096 x 5,000 characters).
MEMO_MAX_TEXT = 5000


@functools.lru_cache(maxsize=4096)
def _used(network: str, text: str) -> int:
    return _length(network, text)


def _length(network: str, text: str) -> int:
    if network == "x":
        return x_length(text)
    if network == "mastodon":
        return mastodon_length(text)
    if network == "bluesky":
        return _graphemes(text)
    return len(text)


def _limit(network: str, settings: dict) -> int:
    if network == "mastodon":
        limit = settings.get("max_characters") or MASTODON_DEFAULT_LIMIT
        try:
            return int(limit)
        except (TypeError, ValueError):
            return MASTODON_DEFAULT_LIMIT
    return LIMITS.get(network, GENERIC_LIMIT)


LIMITS = {
    "x": X_LIMIT,
    "bluesky": BLUESKY_LIMIT,
    "linkedin": LINKEDIN_LIMIT,
    "instagram": INSTAGRAM_LIMIT,
    "facebook_page": FACEBOOK_LIMIT,
}


def needs_image(network: str) -> bool:
    """Instagram publishes media with a caption, never text alone."""
    return network == "instagram"

"""Feed previews cut the text where the network does."""

from __future__ import annotations

from agency.content.previews import preview


def test_instagram_shows_125_characters_then_more_cutting_at_a_word():
    text = "word " * 40
    shown = preview("instagram", text)
    assert shown.truncated and len(shown.visible) <= 125 and not shown.visible.endswith(" ")
    assert shown.ratio == "crop-4x5"


def test_short_text_and_networks_without_a_fold_are_shown_whole():
    assert not preview("linkedin", "short").truncated
    assert preview("mastodon", "x" * 480).visible == "x" * 480
    assert preview("manual", "y" * 5000).ratio == "crop-none"

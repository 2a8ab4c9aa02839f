"""What changed between two versions of a text, word by word, for readers who do not read
unified diffs (client users and link reviewers): the text before with the removed words in
``<del>``, the text now with the added words in ``<ins>``; every word is escaped."""

from __future__ import annotations

import difflib
import re

from markupsafe import Markup, escape

_WORDS = re.compile(r"\s+|\S+")


def word_changes(before: str, after: str) -> dict[str, Markup]:
    """``before`` and ``after`` as safe HTML, the changed words marked."""
    old, new = _WORDS.findall(before), _WORDS.findall(after)
    left: list[Markup] = []
    right: list[Markup] = []
    matcher = difflib.SequenceMatcher(None, old, new)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        gone, came = "".join(old[i1:i2]), "".join(new[j1:j2])
        if op == "equal":
            left.append(escape(gone))
            right.append(escape(came))
            continue
        if gone:
            left.append(Markup("<del>%s</del>") % gone)
        if came:
            right.append(Markup("<ins>%s</ins>") % came)
    return {"before": Markup("").join(left), "after": Markup("").join(right)}


def with_word_changes(revisions: list[dict]) -> list[dict]:
    """Revisions newest first (as ``discussion.list_revisions`` gives them), each with
    ``changes`` against the one after it in the list (the version this reader saw before)."""
    for newer, older in zip(revisions, revisions[1:], strict=False):
        newer["unchanged"] = older["body"] == newer["body"]
        if not newer["unchanged"]:
            newer["changes"] = word_changes(older["body"], newer["body"])
    return revisions

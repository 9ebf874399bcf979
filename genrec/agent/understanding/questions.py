"""Questions about items ("why did you pick the first one?", "is Fargo any good?", "who directed
Blade Runner?") found in a message; they are answered (`item_answers`), never kept as a preference.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from genrec.agent.state import DialogueState
from genrec.agent.understanding.acts import question_tag
from genrec.agent.understanding.polarity import list_references
from genrec.agent.understanding.text import blank
from genrec.agent.understanding.title_mentions import FindTitles

Kind = Literal["why", "which", "credits", "good", "about"]

_SENTENCE = re.compile(r"[^.?!\n]+[.?!]*")
_STARTS_A_QUESTION = re.compile(
    r"^\s*(?:and\s+|so\s+|but\s+|also\s+)?(?:why|who|what|what's|whats|is|was|are|how|when|"
    r"tell me)\b",
    re.IGNORECASE,
)
_KINDS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (
        "which",
        re.compile(
            r"\b(?:what|which)\b.*\b(?:you|u)\b.*\b(?:recommend|recommended|suggest|suggested|show|"
            r"showed|shown|pick|picked|list|listed)\b",
            re.IGNORECASE,
        ),
    ),
    ("why", re.compile(r"\bwhy\b", re.IGNORECASE)),
    (
        "credits",
        re.compile(
            r"\bwho\b.*\b(?:direct\w*|made|make|wrote|written|writer|star\w*|act\w*|plays?|"
            r"cast|in it|composed)\b|\bwho(?:'s|s| is| was| are| were)? in\b|"
            r"\b(?:director|cast|actors?|stars?) of\b",
            re.IGNORECASE,
        ),
    ),
    ("good", re.compile(r"\b(?:good|worth|great|decent|okay|ok|rated|popular)\b", re.IGNORECASE)),
    (
        "about",
        re.compile(
            r"\babout\b|\bwhat kind of\b|\bwhat genre\b|\bwhen was\b|\bhow old\b|\bwhat year\b",
            re.IGNORECASE,
        ),
    ),
)
"""Checked in order; a question sentence naming an item but matching none is not an item
question."""
_REQUEST = re.compile(
    r"\b(?:anything|something|similar|like|likes|others?|else|recommend|suggest|any(?! good))\b",
    re.IGNORECASE,
)
"""Words of a request ("anything good like Fargo?"): such a sentence asks for items, not about
one."""


_PICKED = re.compile(
    r"\b(?:pick\w*|chose|choose\w*|recommend\w*|suggest\w*|show\w*|includ\w*|list\w*)\b",
    re.IGNORECASE,
)
"""Why-question verbs about the agent's choice ("why did you pick ...")."""
_ASKED_BEFORE = re.compile(r"\b(?:is|was|are|were|how|would|will|should)\b", re.IGNORECASE)
"""A question's verb before the title ("is Fargo any good?"); after it, it is a verdict."""


class ItemQuestion(BaseModel):
    """One question about one item: its kind, the item, and where the question was in the
    message."""

    kind: Kind
    item_id: int
    start: int
    end: int
    position: int | None = None
    """The position in the last list the question referred to ("the first one": 0), if any."""


def find_item_questions(
    text: str, state: DialogueState, find_titles: FindTitles
) -> list[ItemQuestion]:
    """The item questions in `text`: question sentences ("?" or a question word first) of a known
    kind that name one item, by title or by its place in the last list shown.

    `find_titles` is the extractor's title finder (text -> TitleMentions).
    """
    out: list[ItemQuestion] = []
    for m in _SENTENCE.finditer(text):
        sentence = m.group(0)
        cut = question_tag(sentence)
        body = (
            sentence if cut is None else sentence[:cut]
        )  # "I loved Alien, what about you?" asks nothing of Alien
        if not body.strip() or not (body.rstrip().endswith("?") or _STARTS_A_QUESTION.match(body)):
            continue
        kind = next((k for k, rx in _KINDS if rx.search(sentence)), None)
        if kind is None or (
            _REQUEST.search(sentence) and (kind != "why" or not _PICKED.search(sentence))
        ):
            continue  # "why not something like Fargo?" asks for items
        item, position = _item_of(sentence, state, find_titles, kind)
        if item is not None:
            out.append(
                ItemQuestion(
                    kind=kind, item_id=item, start=m.start(), end=m.end(), position=position
                )
            )
    return out


def _item_of(
    sentence: str, state: DialogueState, find_titles: FindTitles, kind: Kind
) -> tuple[int | None, int | None]:
    """The one item a question sentence is about: a title (one shown earlier wins a tie), else a
    place in the last list ("the first one")."""
    mentions = find_titles(sentence)
    outside = sentence
    for t in mentions:
        outside = blank(outside, t.start, t.end)
    shown = state.last_recommended
    refs = list_references(outside) if shown else []
    if refs and (kind in ("why", "which") or not mentions):
        pos = refs[0].positions[0]
        if -len(shown) <= pos < len(shown):
            return shown[pos], pos
    if mentions:
        if kind == "good" and not _ASKED_BEFORE.search(sentence[:mentions[0].start]):
            return (
                None,
                None,
            )  # "Absolute Power was good" is a verdict, not "is Absolute Power good?"
        ids = mentions[0].ids
        earlier = [i for i in ids if i in state.recommended]
        if len(ids) == 1 or earlier:
            return (earlier or ids)[0], None
    return None, None


__all__ = ["ItemQuestion", "Kind", "find_item_questions"]

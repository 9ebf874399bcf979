"""Polarity: whether each title a message names is liked, disliked, seen or excluded (cue words
before it, the verdict after it, the list it stands in), and what a reference to the last list shown
("the third one sounds good", "not #2") says about those items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import cast

from genrec.agent.preferences import Polarity
from genrec.agent.text import SENTENCE_END
from genrec.agent.titles import TitleMention
from genrec.agent.vocabulary import (
    CONTRAST,
    LIST_MORE_REF,
    ORDINAL_REF,
    ORDINALS,
    PLURAL,
    POLARITY_AFTER,
    POLARITY_BEFORE,
    REFERENCE_CUES,
)

_LIST_GAP = re.compile(r"[\s,\"“”']*(?:and|or|&|,)?[\s\"“”']*")


def polarities(text: str, mentions: list[TitleMention]) -> list[Polarity]:
    """The polarity of each mention (in text order) in `text`.

    A cue since the previous title decides ("I hated X"); with none, a title in the same sentence
    shares the previous one's polarity unless a contrast word ("but") stands between; a verdict
    right after it ("X was boring") overrides; a list of titles shares the verdict after its last
    one ("seen A, B and C and liked them"). No cue means liked.
    """
    low = text.lower()
    out: list[Polarity] = []
    plural: set[int] = set()  # mentions followed by a verdict on several ("liked them")
    for k, m in enumerate(mentions):
        prev = mentions[k - 1] if k else None
        gap = low[prev.end if prev else 0:m.start]
        sent = list(SENTENCE_END.finditer(gap))
        if sent:
            gap = gap[sent[-1].end():]
            same_sentence = False
        else:
            same_sentence = prev is not None
        cues = list(POLARITY_BEFORE.finditer(gap))
        if cues:
            pol = _group(cues[-1])
        elif same_sentence and k and not CONTRAST.search(gap):
            pol = out[-1]
        else:
            pol = "liked"
        nxt = mentions[k + 1].start if k + 1 < len(mentions) else len(text)
        tail = low[m.end:nxt]
        stop = SENTENCE_END.search(tail)
        tail = tail[: stop.start()] if stop else tail
        post = list(POLARITY_AFTER.finditer(tail[:60]))
        if post:
            pol = _group(post[0])
            if PLURAL.search(tail[:60]):
                plural.add(k)
        out.append(pol)
    # a list of titles shares the verdict after its last one
    group: list[int] = []
    for j in [*range(len(mentions)), None]:
        if j is not None and group and _LIST_GAP.fullmatch(
                low[mentions[group[-1]].end:mentions[j].start]):
            group.append(j)
            continue
        if len(group) > 1 and group[-1] in plural:
            for g in group[:-1]:
                out[g] = out[group[-1]]
        group = [j] if j is not None else []
    return out


@dataclass(frozen=True)
class ListReference:
    """Positions (0-based; -1 is the last) of the last list shown that one phrase refers to.

    >>> list_references("I'd watch #5 and 7, but not the last one")
    [ListReference(positions=(4, 6), start=10, end=18), ListReference(positions=(-1,), start=28, end=40)]
    """

    positions: tuple[int, ...]
    start: int
    end: int


def _position(word: str | None, digits: str | None) -> int | None:
    if digits:
        return int(digits) - 1
    return ORDINALS.get((word or "").lower())


def list_references(text: str) -> list[ListReference]:
    """Every reference to the last list in `text`, a list of positions counting as one ("#5 and 7",
    "numbers 1, 4 and 9", "the ninth and the tenth one")."""
    out: list[ListReference] = []
    done = 0
    for m in ORDINAL_REF.finditer(text):
        if m.start() < done:
            continue
        first = _position(m.group(1), m.group(2))
        positions = [first] if first is not None else []
        end = m.end()
        while (more := LIST_MORE_REF.match(text, end)) is not None:
            pos = _position(more.group(2), more.group(1))
            if pos is not None:
                positions.append(pos)
            end = more.end()
        if positions:
            out.append(ListReference(tuple(positions), m.start(), end))
        done = end
    return out


_CLAUSE_END = re.compile(CONTRAST.pattern + r"|:")
"""Where a reference's clause ends: a sentence end, a colon or a contrast word ("but")."""
_RIGHT_BEFORE = re.compile(r"\b(?:not|no to|except|skip|pass on)\s*$", re.IGNORECASE)


def reference_verdict(text: str, start: int, end: int) -> Polarity:
    """The verdict on a list reference at text[start:end], read from its clause (sentence, up to a
    colon): a user who has seen it (seen cues, or a verdict only watching gives: "was so-so", "bored
    me") liked, disliked or just saw it; otherwise it is a reaction to an item not seen yet:
    interested ("sounds good", "I'd watch", or no cue at all) or rejected ("not that one", "skip",
    "too old").

    >>> t = "The first one sounds good. I'd skip the second one. I saw the third one, loved it."
    >>> [reference_verdict(t, r.start, r.end) for r in list_references(t)]
    ['interested', 'rejected', 'liked']
    >>> t = "I know the third one already: the fourth one was so-so, not the fifth, loved the sixth."
    >>> [reference_verdict(t, r.start, r.end) for r in list_references(t)]
    ['seen', 'seen', 'rejected', 'liked']
    """
    stops = list(_CLAUSE_END.finditer(text, 0, start))
    lo = stops[-1].end() if stops else 0
    nxt = _CLAUSE_END.search(text, end)
    hi = nxt.start() if nxt else len(text)
    if _RIGHT_BEFORE.search(text[lo:start]):
        return "rejected"
    # its own comma-separated part of the clause when that says something, else the whole clause
    a, b = text.rfind(",", lo, start), text.find(",", end, hi)
    part = text[a + 1 if a >= 0 else lo: b if b >= 0 else hi]
    cue = {name: bool(rx.search(part)) for name, rx in REFERENCE_CUES.items()}
    whole = {name: bool(rx.search(text[lo:hi])) for name, rx in REFERENCE_CUES.items()}
    if not any(cue.values()):
        cue = whole
    elif cue["seen"] and not (cue["liked"] or cue["disliked"] or cue["neutral"]):
        cue.update({v: whole[v] for v in ("liked", "disliked", "neutral")})  # "I saw #3, loved it"
    if not cue["seen"]:
        if cue["interested"]:
            return "interested"
        if cue["rejected"]:
            return "rejected"
    if cue["disliked"]:
        return "disliked"
    if cue["neutral"]:
        return "seen"
    if cue["seen"]:
        return "liked" if cue["liked"] else "seen"
    return "liked" if cue["liked"] else "interested"


def _group(m: re.Match[str]) -> Polarity:
    return cast(Polarity, m.lastgroup)

"""Polarity: whether each title a message names is liked, disliked, seen or excluded, read from
the cue words before it, the verdict after it and the list it stands in.
"""

from __future__ import annotations

import re
from typing import cast

from genrec.agent.preferences import Polarity
from genrec.agent.text import SENTENCE_END
from genrec.agent.titles import TitleMention
from genrec.agent.vocabulary import CONTRAST, PLURAL, POLARITY_AFTER, POLARITY_BEFORE

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


def reference_polarity(text: str, start: int, end: int) -> Polarity:
    """The verdict on a reference at text[start:end] ("I hated the second one"): the last cue in
    its clause before it, else the last verdict after it; excluded counts as disliked; default liked.
    """
    before = text[:start].lower()
    cut = list(CONTRAST.finditer(before))
    before = before[cut[-1].end():] if cut else before
    after = text[end:].lower()
    stop = CONTRAST.search(after)
    after = after[: stop.start()] if stop else after
    cues = list(POLARITY_BEFORE.finditer(before)) or list(POLARITY_AFTER.finditer(after))
    pol = _group(cues[-1]) if cues else "liked"
    return "disliked" if pol in ("disliked", "excluded") else pol


def _group(m: re.Match[str]) -> Polarity:
    return cast(Polarity, m.lastgroup)

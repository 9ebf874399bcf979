"""Polarity: whether each title a message names is liked, disliked, seen or excluded (cues, the
list it stands in), and what a reference to the last list shown ("not #2") says about its items.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, cast

from genrec.agent.preferences import Polarity
from genrec.agent.understanding.text import SENTENCE_END
from genrec.agent.understanding.vocabulary import (
    CONTRAST,
    LIST_MORE_REF,
    ORDINAL_REF,
    ORDINALS,
    OTHER_PEOPLE,
    PLURAL,
    POLARITY_AFTER,
    POLARITY_BEFORE,
    REFERENCE_CUES,
)

_LIST_GAP = re.compile(r"[\s,\"“”']*(?:and|or|&|,)?[\s\"“”']*(?:(?:the|a|an)\s+)?")
_CONJUNCTION = re.compile(r"\b(?:and|or)\b|&")
_PLURAL_VERB = re.compile(r"(?:were|are)\b")
_BUT_NOT = re.compile(r"^\W*(?:but|and|though)\s+not(?:\s+the)?\W*$")
_NEW_SUBJECT = re.compile(
    r"\b(?:but|though|although|however|whereas)\s+(?:the|those|these|his|her|their|my)\s+\w+"
)
"""A contrast that turns to something else ("liked X but the sequels not so much"): the verdict
after it is not the title's."""
_SOMEONE_ELSE = re.compile(r"\b" + OTHER_PEOPLE + r"\s+$")
"""The subject of a verdict that is not the writer's ("with my dad, he hated it"; not "they",
which is the films as often as people: "Seen A and B, they were good")."""


class _Span(Protocol):
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


@dataclass(frozen=True)
class ListVerdicts:
    """The verdict on each span (titles and list references, in text order) and whether it stands
    in a list of several ("A, B and the third one")."""

    verdicts: list[Polarity]
    listed: list[bool]
    judged: list[bool]
    """Whether a cue gave the verdict (before or after the span, or shared from a neighbour's);
    False where it is only the default."""


def list_verdicts(text: str, spans: Sequence[_Span], default: Polarity = "liked") -> ListVerdicts:
    """The polarity of each span (titles, and references like "the third one", in text order).

    A cue since the previous span decides ("I hated X"); with none, a span in the same sentence
    shares the previous one's polarity unless a contrast word ("but") stands between; a verdict
    right after it ("X was boring") overrides. A list ("A, B and C"; a new list starts after
    "and C,") shares the verdict after its last member when that verdict is plural ("seen A and B
    and liked them") or nothing before the list gives one ("A, B and C I really liked"); after a
    cue, a plural verb shares it with all but the first ("loved A, B and C were meh").
    No cue at all means `default`.
    """
    low = text.lower()
    out: list[Polarity] = []
    judged: list[bool] = []
    plural: set[int] = set()  # spans followed by a verdict on several ("liked them")
    post_verdict: set[int] = set()  # spans followed by a verdict of their own
    cued: set[int] = set()  # spans with a cue of their own before them
    plural_verb: set[int] = set()  # spans whose verdict has a plural verb ("B and C were meh")
    said_to = 0  # where the previous span's own verdict ends
    for k, m in enumerate(spans):
        prev = spans[k - 1] if k else None
        gap = low[max(prev.end, said_to) if prev else 0:m.start]
        sent = list(SENTENCE_END.finditer(gap))
        if sent:
            gap = gap[sent[-1].end():]
            same_sentence = False
        else:
            same_sentence = prev is not None
        cues = list(POLARITY_BEFORE.finditer(gap))
        if cues and same_sentence and out[-1] in ("liked", "disliked") and _BUT_NOT.search(gap):
            # "I liked A but not B": B takes the opposite verdict of the verb "not" leaves out
            pol = cast(Polarity, "disliked" if out[-1] == "liked" else "liked")
            by_cue = True
            cued.add(k)
        elif cues:
            pol = _group(cues[-1])
            by_cue = pol != "seen"  # "watched X": seen, its verdict may come later in the sentence
            cued.add(k)
        elif same_sentence and k and not CONTRAST.search(gap):
            pol, by_cue = out[-1], judged[-1]
        else:
            pol, by_cue = default, False
        nxt = spans[k + 1].start if k + 1 < len(spans) else len(text)
        tail = low[m.end:nxt]
        stop = SENTENCE_END.search(tail)
        tail = tail[: stop.start()] if stop else tail
        post = [v for v in POLARITY_AFTER.finditer(tail[:60])
                if not (_SOMEONE_ELSE.search(tail[:v.start()])
                        or _NEW_SUBJECT.search(tail[:v.start()]))]
        said_to = m.end
        if post:
            pol, by_cue = _group(post[0]), True
            post_verdict.add(k)
            said_to = m.end + post[0].end()
            if PLURAL.search(tail[:60]):
                plural.add(k)
            if _PLURAL_VERB.match(post[0].group(0)):
                plural_verb.add(k)
        out.append(pol)
        judged.append(by_cue)
    listed = [False] * len(spans)
    for group in _lists(low, spans):
        if len(group) < 2:
            continue
        for g in group:
            listed[g] = True
        last = group[-1]
        if last in plural or (last in post_verdict and group[0] not in cued):
            share = group[:-1]
        elif last in plural_verb:  # "loved A, B and C were meh": B and C were meh
            share = group[1:-1]
        else:
            share = []
        for g in share:
            out[g], judged[g] = out[last], judged[last]
    return ListVerdicts(out, listed, judged)


def _lists(low: str, spans: Sequence[_Span]) -> list[list[int]]:
    """Spans joined by commas and "and" into lists; "A, B and C, D and E" is two lists."""
    groups: list[list[int]] = []
    joined_by: list[str] = []  # the gap that joined each group's last member
    for j, m in enumerate(spans):
        if groups:
            gap = low[spans[groups[-1][-1]].end:m.start]
            closed = bool(
                joined_by and _CONJUNCTION.search(joined_by[-1])
            ) and not _CONJUNCTION.search(gap)
            if _LIST_GAP.fullmatch(gap) and not closed:
                groups[-1].append(j)
                joined_by.append(gap)
                continue
        groups.append([j])
        joined_by = []
    return groups


@dataclass(frozen=True)
class ListReference:
    """Positions (0-based; -1 is the last) of the last list shown that one phrase refers to.

    >>> refs = list_references("I'd watch #5 and 7, but not the last one")
    >>> refs  # doctest: +NORMALIZE_WHITESPACE
    [ListReference(positions=(4, 6), start=10, end=18),
     ListReference(positions=(-1,), start=28, end=40)]
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
    >>> t = ("I know the third one already: the fourth one was so-so, not the fifth, "
    ...      "loved the sixth.")
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

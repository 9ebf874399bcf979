"""Misspelt titles framed as titles ("loved shawshenk redemption", "termnator 2 was awesome",
"goodfelas and pulp fiction"): the spans of a message a typo of a catalog title could be.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from genrec.agent.understanding.text import SENTENCE_END
from genrec.agent.understanding.titles import NO_PRIOR, TitleIndex, TitlePrior
from genrec.agent.understanding.vocabulary import (
    ARTICLES,
    COMMON_TITLE_WORDS,
    STOP_WORDS,
    VERDICT_AFTER,
    VOCABULARY,
)

Token = tuple[str, int, int]
_CUE_BEFORE = re.compile(r"\b(?:" + "|".join(VOCABULARY.title_cue_words) + r")\s+$")
_SEQUEL_AFTER = re.compile(r"\s+(?:[2-9]|ii|iii|iv|part)\b")
CUTOFF = 88
"""The least fuzzy ratio (0-100) a span needs to a title or franchise name."""


@dataclass(frozen=True)
class Typo:
    """Tokens start..start+n of the message are a misspelling of the title `key`."""

    start: int
    n: int
    key: str


def find_typos(
    index: TitleIndex,
    text: str,
    toks: list[Token],
    covered: list[bool],
    not_titles: Collection[str] = (),
    prior: TitlePrior = NO_PRIOR,
) -> list[Typo]:
    """Typos framed as titles, among the tokens not `covered` by a title found: spans of 2-6 words
    after a cue word, and spans of 1-4 words (one word: 6 letters or more) that open a sentence
    before a verdict or stand in a list with a title found. A title every film of which is rare
    is never the answer to one word, nor is a title to a capitalised name mid-sentence ("Walter"
    is not Water (2005)). Marks what it takes in `covered`."""
    out = []
    i = 0
    low = text.lower()
    while i < len(toks):
        if covered[i]:
            i += 1
            continue
        cued = bool(_CUE_BEFORE.search(low[max(0, toks[i][1] - 12):toks[i][1]]))
        before = low[max(0, toks[i - 1][2] if i else 0):toks[i][1]]
        opens = i == 0 or bool(re.search(r"[.!?]", before)) or text[toks[i][1]].isupper()
        if not cued and not opens:
            i += 1
            continue
        start = i + 1 if toks[i][0] in ARTICLES else i
        if start > i and re.search(r"\blike\s+$", low[:toks[i][1]]):
            i += 1  # "like a million times": a comparison, not a misspelt title
            continue
        best = _best_typo_at(index, text, toks, covered, start, cued, not_titles, prior)
        if best is None:
            i += 1
            continue
        out.append(best)
        for j in range(i, start + best.n):
            covered[j] = True
        i = start + best.n
    return out


def _best_typo_at(
    index: TitleIndex,
    text: str,
    toks: list[Token],
    covered: list[bool],
    start: int,
    cued: bool,
    not_titles: Collection[str],
    prior: TitlePrior,
) -> Typo | None:
    """The closest title to a span starting at toks[start] (the longest span first), or None."""
    low = text.lower()
    best: tuple[str, float, int] | None = None
    for n in range(6 if cued else 4, 0, -1):
        span = toks[start:start + n]
        if len(span) < n or any(covered[start:start + n]):
            continue
        key = " ".join(t for t, _, _ in span)
        if SENTENCE_END.search(text[span[0][1]:span[-1][2]]):
            continue  # a title does not run across sentences ("Hi. Good morning")
        if span[0][0] in STOP_WORDS or span[-1][0] in STOP_WORDS:
            continue  # a typo of a title does not start or end on a function word ("wanting to")
        if len(key) < (8 if n > 1 else 6) or all(
            w in STOP_WORDS or w in not_titles or w.rstrip("s") in not_titles
            or w in COMMON_TITLE_WORDS for w in key.split()
        ):
            continue
        if not (cued and (n > 1 or len(key) >= 7)) and not _framed(low, toks, covered, start + n):
            continue
        hit = process.extractOne(key, index.fuzzy_keys, scorer=fuzz.ratio, score_cutoff=CUTOFF)
        if hit and hit[1] >= 100 and not (cued and n > 1):
            hit = None  # written exactly: the exact matcher already judged it ("Good morning")
        if hit and re.findall(r"\d+", key) != re.findall(r"\d+", str(hit[0])):
            hit = None  # "toy story 4" is not Toy Story 2: numbers are not typos
        if hit and n == 1 and all(prior.rare(o) for o in index.options(hit[0])):
            hit = None  # one word close to a film few people know is more likely another word
        if hit and n == 1 and not cued and text[span[0][1]].isupper() and not (
                _opens_sentence(text, span[0][1]) or VERDICT_AFTER.match(low[span[0][2]:])):
            hit = None  # a capitalised word mid-sentence is a name written as meant ("Walter")
        if hit and _SEQUEL_AFTER.match(low, span[-1][2]) and not re.search(r"\d", str(hit[0])):
            hit = None  # "conjouring 2" is the sequel, not The Conjuring
        if hit and (best is None or hit[1] > best[1]):
            best = (hit[0], hit[1], n)
    return Typo(start, best[2], best[0]) if best else None


def _opens_sentence(text: str, start: int) -> bool:
    return not text[:start].strip() or bool(re.search(r"[.!?]\s*$", text[:start]))


def _framed(low: str, toks: list[Token], covered: list[bool], nxt: int) -> bool:
    """Does what follows the span toks[..nxt] frame it as a title: a verdict, the end of the
    message, or a list with a title found ("goodfelas and pulp fiction", "goodfelas, heat")?"""
    after = low[toks[nxt - 1][2]:]
    return bool(
        VERDICT_AFTER.match(after)
        or (
            re.match(r"\s*(?:,|and|&)\s*", after)
            and nxt + 1 < len(toks)
            and covered[nxt + 1]
            and toks[nxt][0] == "and"
        )
        or (re.match(r"\s*(?:,|&)\s*", after) and nxt < len(toks) and covered[nxt])
        or not after.strip(" .!?")
    )

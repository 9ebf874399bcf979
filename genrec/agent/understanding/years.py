"""Years: the year range a message asks for (ranges, decades, "after 1990", "recent") and a
decade said as a matter of taste ("most of my favourites are from the 90s").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genrec.agent.understanding.text import fold
from genrec.agent.understanding.vocabulary import DECADE_WORDS, VOCABULARY, any_word, is_taste

YEAR_LO, YEAR_HI = 1870, 2035

_B = VOCABULARY.year_bounds
_RANGE = re.compile(r"\b(?:between|from)?\s*(\d{4})\s*(?:-|–|to|and|until|through)\s*(\d{4})\b")
_DECADE = re.compile(r"\b(?:(early|mid|late)[\s-]+)?(?:the\s+)?['’]?(\d{2}|\d{4})['’]?s\b")
_DECADE_WORD = re.compile(r"\b(?:(early|mid|late)[\s-]+)?(" + "|".join(DECADE_WORDS) + r")\b")
_DECADE_NEGATED = re.compile(any_word(VOCABULARY.decade_negations).pattern + r"[^.]{0,20}$")
_BOUND = re.compile(
    r"\b("
    + "|".join(f"{w} " for w in _B.negations)
    + r")?("
    + "|".join(_B.after + _B.at + _B.before)
    + r")[\s-]+(\d{4})(\s+(?:"
    + "|".join(_B.and_later + _B.and_earlier)
    + r"))?\b"
)
_NARRATIVE = re.compile(
    r"\b(?:back in|back then in|grew up in|growing up in|as a kid in|"
    r"when i was young in)\s+(?:the\s+)?"
    r"(?:early\s+|late\s+|mid\s+)?(?:(?:nineteen|twenty)\s+)?\w+"
)
"""A time of the speaker's life ("back in the early eighties"), not years asked for."""
_RECENT = re.compile(
    any_word(VOCABULARY.recent_words).pattern
    + r"(?!\s+(?:favou?rites?|one|ones?\b(?!\s+(?:please|pls))|trailer|episode|season))"
)
""""something recent", "newest films" (not "my recent favorite", "the newest one" of two shown)."""
_RECENT_TOLD = re.compile(r"\b(?:(?:is|was)n'?t|(?:is|was) not|not)\s+(?:the\s+)?(?:most\s+)?$"
                          r"|^\s+(?:movies?|films?|ones?)\s+(?:(?:that|which)\s+(?:has|have|had|"
                          r"came)\b"
                          r"|(?:i|we)(?:\s+have|'ve)?\s+(?:watched|saw|seen)\b)")
"""Recency told, not asked for: "isn't the most recent movie", "the latest film I watched"."""


def _asks_recent(t: str) -> bool:
    """Does `t` ask for recent films (a "recent" not told about something the speaker saw)?

    >>> _asks_recent(" something recent please ")
    True
    >>> _asks_recent(" while isn't the most recent movie that has come out ")
    False
    >>> _asks_recent(" the most recent one i have watched is ransom ")
    False
    >>> _asks_recent(" the latest film i saw was heat ")
    False
    >>> _asks_recent(" recent movies that i might not have seen ")
    True
    """
    return any(
        not (_RECENT_TOLD.search(t[: m.start()][-40:]) or _RECENT_TOLD.search(t[m.end() :][:30]))
        for m in _RECENT.finditer(t)
    )


@dataclass
class YearsSaid:
    """The years one message states: a range (either side may be open) and a decade of taste."""

    year_min: int | None = None
    year_max: int | None = None
    given: bool = False
    taste_decade: int | None = None


def plausible(year: int) -> bool:
    """Is `year` a plausible release year (YEAR_LO..YEAR_HI)?"""
    return YEAR_LO <= year <= YEAR_HI


def read_years(text: str, *, latest: int = YEAR_HI) -> YearsSaid:
    """The years `text` states. `latest` is the catalog's newest year ("recent" = its last 4 years).

    >>> read_years("something from the late 80s")
    YearsSaid(year_min=1985, year_max=1989, given=True, taste_decade=None)
    >>> read_years("not after 1990, most of my favourites are from the 70s")
    YearsSaid(year_min=None, year_max=1990, given=True, taste_decade=1970)
    """
    t = " " + _NARRATIVE.sub(" ", fold(text)) + " "
    for m in _RANGE.finditer(t):
        a, b = int(m.group(1)), int(m.group(2))
        if plausible(a) and plausible(b) and a <= b and (
                "between" in m.group(0) or "from" in m.group(0)
                or re.search(r"-|–|to|through", m.group(0))):
            return YearsSaid(a, b, True)
    out = YearsSaid()
    decade = _DECADE.search(t)
    word = _DECADE_WORD.search(t)
    hit = decade or word
    start = None
    part = None
    if decade:
        d = decade.group(2)
        if len(d) == 4 and d.endswith("0"):
            start = int(d)
        elif len(d) == 2 and d.endswith("0"):
            start = (1900 if int(d) >= 20 else 2000) + int(d)
        part = decade.group(1)
    elif word:
        start, part = DECADE_WORDS[word.group(2)], word.group(1)
    if hit is not None and start is not None and plausible(start):
        negated = _DECADE_NEGATED.search(t[: hit.start()])
        if not negated and part is None and is_taste(t, hit.start(), hit.end()):
            out.taste_decade = start
        elif not negated:
            return YearsSaid(*_decade_part(start, part), True)
    lo, hi = out.year_min, out.year_max
    for m in _BOUND.finditer(t):
        neg, bound, y, suffix = m.group(1), m.group(2), int(m.group(3)), (m.group(4) or "").strip()
        if not plausible(y):
            continue
        out.given = True
        if bound in _B.at and not suffix:
            lo, hi = y, y
        elif bound in _B.at or suffix in _B.and_later:
            if suffix in _B.and_earlier:
                hi = y
            else:
                lo = y
        elif bound in _B.after:
            if neg:
                hi = y
            else:
                lo = y + 1 if bound in _B.exclusive else y
        elif bound in _B.before:
            if neg:
                lo = y
            else:
                hi = y - 1 if bound in _B.exclusive else y
    if lo is None and _asks_recent(t):
        lo, out.given = latest - 3, True
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    out.year_min, out.year_max = lo, hi
    return out


def _decade_part(start: int, part: str | None) -> tuple[int, int]:
    """The years of a decade, or of its early / mid / late part."""
    if part == "early":
        return start, start + 4
    if part == "late":
        return start + 5, start + 9
    if part == "mid":
        return start + 3, start + 7
    return start, start + 9

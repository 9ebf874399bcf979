"""The LLM's structured reading of one message: the JSON it is asked for, grounded in the catalog
(titles, genres, plausible years), and `decide`, by which it, not the rules, says what is meant.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, ValidationError
from rapidfuzz import fuzz

from genrec.agent.preferences import POLARITIES, Polarity
from genrec.agent.understanding.extraction import CatalogExtractor, Extraction
from genrec.agent.understanding.text import normalize
from genrec.agent.understanding.years import plausible


class LLMExtraction(BaseModel):
    """The JSON an LLM is asked for; validated and grounded before it touches the state.

    An extraction that gives none of these keys ("{}") is no reading at all: the rules' reading
    stands. One that gives any key is the LLM's reading, and it decides (see `decide`)."""

    liked_titles: list[str] = Field(default_factory=list)
    disliked_titles: list[str] = Field(default_factory=list)
    seen_titles: list[str] = Field(default_factory=list)
    mentioned_titles: list[str] = Field(
        default_factory=list,
        description="Titles named without a verdict (asked about, not seen yet).",
    )
    wanted_genres: list[str] = Field(default_factory=list)
    avoided_genres: list[str] = Field(default_factory=list)
    taste_genres: list[str] = Field(
        default_factory=list, description="Genres liked in general (a boost)."
    )
    dropped_genres: list[str] = Field(
        default_factory=list, description="Genres the user takes back."
    )
    year_min: int | None = None
    year_max: int | None = None
    wishes: str | None = None


def ground_llm(extractor: CatalogExtractor, raw: dict | str, message: str) -> Extraction:
    """Validate an LLM's JSON extraction: titles must be catalog items named in the message,
    genres must map onto the catalog's vocabulary, years must be plausible. Invalid parts drop."""
    try:
        data = LLMExtraction.model_validate_json(raw) if isinstance(raw, str) else (
            LLMExtraction.model_validate(raw))
    except ValidationError:
        return Extraction()
    ex = Extraction()
    norm_msg = normalize(message)
    said: tuple[tuple[Polarity, list[str]], ...] = (
        ("liked", data.liked_titles), ("disliked", data.disliked_titles),
        ("seen", data.seen_titles))
    for pol, titles in said:
        for title in titles[:10]:
            if not isinstance(title, str):
                continue
            iid = extractor.index.resolve(title)
            if iid is None:
                continue  # not in this catalog: nothing to record
            name = normalize(re.sub(r"\(\d{4}\)", "", extractor.catalog[iid].title))
            if fuzz.partial_ratio(name, norm_msg) < 85:
                ex.ungrounded_titles.append(title[:100])
                continue  # not grounded in what the user wrote
            ex.set_verdict(iid, pol)
    for title in data.mentioned_titles[:10]:
        iid = extractor.index.resolve(title) if isinstance(title, str) else None
        if iid is not None and iid not in ex.mentioned():
            ex.asked_about.append(iid)
    for names, kept in (
        (data.wanted_genres, ex.wanted_genres),
        (data.avoided_genres, ex.avoided_genres),
        (data.taste_genres, ex.preferred_genres),
        (data.dropped_genres, ex.dropped_genres),
    ):
        for g in names[:10]:
            cg = extractor.genre_of(str(g))
            if cg and cg not in kept:
                kept.append(cg)
    ex.wanted_genres = [g for g in ex.wanted_genres if g not in ex.avoided_genres]
    ex.preferred_genres = [
        g for g in ex.preferred_genres if g not in ex.avoided_genres + ex.wanted_genres
    ]
    lo, hi = data.year_min, data.year_max
    lo = lo if lo is not None and plausible(lo) else None
    hi = hi if hi is not None and plausible(hi) else None
    if lo is not None and hi is not None and lo > hi:
        lo = hi = None
    ex.year_min, ex.year_max, ex.years_given = lo, hi, lo is not None or hi is not None
    if data.wishes and isinstance(data.wishes, str) and data.wishes.strip():
        ex.wishes = [data.wishes.strip()[:200]]
    return ex


def read_something(raw: dict | str) -> bool:
    """Did the LLM give a reading (any known key), rather than "{}" or unrelated JSON?"""
    try:
        data = (
            LLMExtraction.model_validate_json(raw)
            if isinstance(raw, str)
            else LLMExtraction.model_validate(raw)
        )
    except ValidationError:
        return False
    return bool(data.model_fields_set)


def decide(rules: Extraction, llm: Extraction) -> Extraction:
    """The LLM's grounded reading decides polarity, genres, years and the wish; the rules keep only
    what is about the message itself (item questions, references to the last list, the answer to
    a pending question, reset, repeat, injection cues, ids and user ids) and add nothing of their
    own. An LLM that names a title the message does not hold has misread it: for titles the rules
    decide."""
    out = llm.model_copy(deep=True)
    if llm.ungrounded_titles:
        # the LLM named titles the user never wrote: its reading of titles is not trusted, the
        # rules' reading of them stands (its genres, years and wish still decide)
        for pol in POLARITIES:
            setattr(out, pol, list(getattr(rules, pol)))
        out.asked_about, out.anchors, out.alternatives = (
            list(rules.asked_about),
            list(rules.anchors),
            dict(rules.alternatives),
        )
    for name in (
        "item_questions",
        "reset",
        "allow_repeats",
        "injection",
        "user_id",
        "unknown_item_refs",
        "interested",
        "rejected",
        "ambiguous",
    ):
        setattr(out, name, getattr(rules, name))
    for iid in rules.chosen:  # an explicit "item 50" or the answer to "which one did you mean?"
        if iid not in out.mentioned() and iid in rules.mentioned():
            out.set_verdict(iid, _polarity_of(rules, iid))
    return out


def _polarity_of(ex: Extraction, iid: int) -> Polarity:
    return next(p for p in POLARITIES if iid in getattr(ex, p))


__all__ = ["LLMExtraction", "decide", "ground_llm", "read_something"]

"""Rationales: an evidence pack per recommended item, templated text, and a checker for LLM text.

The checker accepts an LLM rationale only if every title it names is a recommended or liked item,
every genre, year or decade it states is true, and every rating it quotes matches the prediction.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from genrec.agent.operations import Toolkit
from genrec.agent.state import DialogueState
from genrec.agent.understanding.extraction import CatalogExtractor, normalize
from genrec.llm.safe_text import plain_text


class Evidence(BaseModel):
    """Facts about one recommended item, all from the catalog and the ranker."""

    item_id: int
    title: str
    year: int | None = None
    genres: list[str] = Field(default_factory=list)
    matched_genres: list[str] = Field(
        default_factory=list, description="Genres the user asked for."
    )
    in_year_range: bool | None = None
    nearest_liked_id: int | None = None
    nearest_liked_title: str | None = None
    nearest_liked_similarity: float | None = None
    predicted_rating: float | None = None
    ratings_count: int | None = None
    search_match: bool = False
    matched_tags: list[tuple[str, int]] = Field(
        default_factory=list,
        description="Viewer tags of the item that the user's wishes name, with "
        "how many viewers gave each.",
    )
    kind: str = Field("movie", description="The catalog's item noun (movie, book ...).")
    kind_plural: str = "movies"
    popularity_rank: int | None = Field(None, description="1 = the most-rated item of the catalog.")
    below_middle: bool = Field(False, description="Predicted below the middle of the rating scale.")

    def for_prompt(self) -> dict[str, Any]:
        d = self.model_dump(
            exclude_none=True,
            exclude={
                "nearest_liked_id",
                "search_match",
                "kind_plural",
                "popularity_rank",
                "below_middle",
            },
        )
        if self.predicted_rating is not None:
            d["predicted_rating"] = float(shown_rating(self.predicted_rating))
        if self.nearest_liked_similarity is not None:
            d["nearest_liked_similarity"] = round(self.nearest_liked_similarity, 2)
        return d


def build_evidence(toolkit: Toolkit, state: DialogueState, candidates: list[Any]) -> list[Evidence]:
    """One Evidence per candidate (with `item_id`, `predicted_rating`, `sources`)."""
    out = []
    liked = [i for i in state.liked if toolkit.ranker.knows_item(i)][-5:]
    rec_ids = [c.item_id for c in candidates if toolkit.ranker.knows_item(c.item_id)]
    # nearest liked item per candidate: one similar_items call per liked item (few), not per rec
    nearest: dict[int, tuple[int, float]] = {}
    for li in liked:
        cands = [i for i in rec_ids if i != li]
        if not cands:
            continue
        try:
            sims = toolkit.ranker.similar_items(li, k=len(cands), candidates=cands)
        except Exception:  # noqa: BLE001 - evidence is best effort
            continue
        for s in sims:
            if s.score > 0 and (s.item_id not in nearest or s.score > nearest[s.item_id][1]):
                nearest[s.item_id] = (li, float(s.score))
    noun, nouns = item_nouns(toolkit.catalog)
    lo, hi = getattr(toolkit.ranker, "scale", (1.0, 5.0))
    counts = None  # every item's ratings count, for the rank of picks without a prediction
    for c in candidates:
        it = toolkit.catalog[c.item_id]
        n = toolkit.popularity.get(it.item_id) or None
        rank = None
        if c.predicted_rating is None and n:
            counts = (
                np.fromiter(toolkit.popularity.values(), dtype=np.int64)
                if counts is None
                else counts
            )
            rank = int((counts > n).sum()) + 1
        ev = Evidence(
            item_id=it.item_id,
            title=it.title,
            year=it.year,
            genres=list(it.genres),
            matched_genres=[g for g in it.genres if g in state.taste_genres()],
            predicted_rating=c.predicted_rating,
            ratings_count=n,
            popularity_rank=rank,
            below_middle=c.predicted_rating is not None and c.predicted_rating < (lo + hi) / 2,
            search_match="search" in getattr(c, "sources", ()),
            matched_tags=matched_tags(it.tags, state.wishes),
            kind=noun,
            kind_plural=nouns,
        )
        if state.year_min is not None or state.year_max is not None:
            ev.in_year_range = it.year is not None
        if c.item_id in nearest:
            li, sim = nearest[c.item_id]
            ev.nearest_liked_id, ev.nearest_liked_title = li, toolkit.catalog[li].label
            ev.nearest_liked_similarity = sim
        out.append(ev)
    return out


def matched_tags(tags: Any, wishes: list[str]) -> list[tuple[str, int]]:
    """The (tag, viewers) pairs whose tag the user's wishes say in so many words.

    >>> matched_tags((("mind-bending", 12), ("dreams", 3)), ["something Mind-Bending please"])
    [('mind-bending', 12)]
    """
    said = f" {normalize(' '.join(wishes))} "
    return [(t, n) for t, n in tags or () if normalize(t) and f" {normalize(t)} " in said]


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def item_nouns(catalog: Any) -> tuple[str, str]:
    """The catalog's item noun, singular and plural (`Catalog.item_noun`, e.g. "book", "books").

    A catalog that declares none is a movie catalog (every catalog was, before nouns existed).

    >>> item_nouns(object())
    ('movie', 'movies')
    """
    noun = str(getattr(catalog, "item_noun", "") or "movie").strip() or "movie"
    plural = str(getattr(catalog, "item_noun_plural", "") or "").strip()
    return noun, plural or noun + "s"


def shown_rating(value: float) -> str:
    """A predicted rating as every front door shows it, rounded once (a card's star and its
    reason agree; `Recommendation.predicted_rating` keeps 3 decimals).

    >>> shown_rating(4.2504), shown_rating(round(4.2504, 3)), shown_rating(3.0)
    ('4.2', '4.2', '3.0')
    """
    return f"{round(float(value), 3):.1f}"


def _top(rank: int | None) -> int | None:
    """The round "top N" a popularity rank falls in (10, 25, 50, 100 or 250), else None."""
    return next((top for top in (10, 25, 50, 100, 250) if rank is not None and rank <= top), None)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _a(word: str) -> str:
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


# Phrasings per kind of evidence; a list's items take them in turn, and a sentence already used
# in the same list is never used again (each item's facts differ, or another phrasing is taken).
_LIKE = ("People who liked {liked} tend to like this one too.",
         "Close to {liked} in how people rate it.",
         "Rated much like {liked}, which you liked.",
         "Fans of {liked} rate it highly as well.",
         "The same people who enjoy {liked} enjoy this one.")
_TAGGED = ("Tagged {tag} by {viewers}.",
           "{Viewers} tagged it {tag}.",
           "{Viewers} gave it the tag {tag}.")
_ASKED = ("{Genres}, as you asked.",
          "It fits your request for {genres}.",
          "One of the {genres} {nouns} you asked for.",
          "{A_genres} {noun}, which is what you asked for.",
          "It meets your {genres} request.",
          "You asked for {genres}; this one is from {year}.",
          "For your {genres} request: {a_noun} from {year}.",
          "{Genres} as you asked, released in {year}.")
_ASKED_YEARS = ("{A_genres} {noun} from {year}, as you asked.",
                "A {year} pick for your {genres} request.",
                "From {year}, and {genres} as requested.")
_YEARS = ("From {year}, inside the years you asked for.",
          "Released in {year}, within your years.",
          "{year} fits the years you gave.")
_TASTE = ("{Genres} suits your taste.",
          "It leans to {genres}, which you enjoy.",
          "{A_genres} {noun}, in line with what you usually enjoy.")
_PREDICTED = ("People who rate {nouns} the way you do give it about {r}/5.",
              "Going by what you liked, I'd guess you would rate it {r}/5.",
              "Viewers with tastes like yours rate it about {r} out of 5.",
              "From your favourites, my guess is you'd give it {r}/5.")
_BELOW_ASKED = ("It's here for your {genres} request more than your own taste: my guess for you "
                "is only {r}/5.",
                "Picked for your {genres} request, though viewers with your taste rate it lower "
                "({r}/5).")
_BELOW = ("A long shot for your taste: my guess for you is only {r}/5.",
          "Viewers with your taste rate it lower than the rest ({r}/5).")
_POPULAR_TOP = ("One of the {top} most-rated {nouns} here: {n} people rated it.",
                "{n} people rated it here, among the {top} most-rated {nouns}.",
                "Among the {top} {nouns} rated most often here ({n} ratings).")
_POPULAR = ("{n} people rated it in this catalog.",
            "Rated by {n} people in this catalog.")
_PLAIN = ("{A_genres} {noun} from {year}.", "{Title} is {a_genres} {noun} from {year}.")


def template_rationales(evidence: list[Evidence], state: DialogueState) -> list[str]:
    """One or two sentences per item, built only from its evidence (so always true), in varied
    words: the liked item it resembles, the viewer tag it carries that the user asked for ("tagged
    mind-bending by 12 viewers"), the request it meets, its predicted rating (else how many people
    rated it); no sentence is repeated within the list."""
    used: set[str] = set()
    out = []
    for n, ev in enumerate(evidence):
        noun, nouns = ev.kind, ev.kind_plural
        request = ev.matched_genres and [g for g in ev.matched_genres if g in state.wanted_genres]
        genres = request or ev.matched_genres or ev.genres[:2]
        words = {
            "liked": ev.nearest_liked_title or "",
            "genres": _join(genres),
            "Genres": _cap(_join(genres)),
            "A_genres": _cap(_a(_join(genres))) if genres else "A",
            "a_genres": _a(_join(genres)) if genres else "a",
            "noun": noun,
            "nouns": nouns,
            "a_noun": _a(noun),
            "year": str(ev.year or ""),
            "Title": ev.title,
            "r": shown_rating(ev.predicted_rating) if ev.predicted_rating is not None else "",
            "n": f"{ev.ratings_count:,}" if ev.ratings_count else "",
            "top": str(_top(ev.popularity_rank) or ""),
        }
        if ev.matched_tags:
            tag, tagged_by = ev.matched_tags[0]
            viewers = f"{tagged_by:,} viewer{'s' if tagged_by != 1 else ''}"
            words.update(tag=tag, viewers=viewers, Viewers=_cap(viewers))
        kinds: list[tuple[str, ...]] = []
        if ev.below_middle:  # a pick the user may not like says first why it is here
            kinds.append(_BELOW_ASKED if request else _BELOW)
        if ev.nearest_liked_title:
            kinds.append(_LIKE)
        if ev.matched_tags:
            kinds.append(_TAGGED)
        if request:
            kinds.append(_ASKED_YEARS if ev.in_year_range and ev.year else _ASKED)
        elif ev.in_year_range and ev.year:
            kinds.append(_YEARS)
        elif ev.matched_genres:
            kinds.append(_TASTE)
        if ev.predicted_rating is not None and not ev.below_middle:
            kinds.append(_PREDICTED)
        elif ev.predicted_rating is None and ev.ratings_count:
            kinds.append(_POPULAR_TOP if _top(ev.popularity_rank) else _POPULAR)
        sentences: list[str] = []
        for phrasings in kinds:
            if len(sentences) == 2:
                break
            for k in range(len(phrasings)):
                phrasing = phrasings[(n + k) % len(phrasings)]
                if "{year}" in phrasing and not ev.year:
                    continue
                text = phrasing.format(**words)
                if text not in used:
                    sentences.append(text)
                    used.add(text)
                    break
        if len(sentences) < 2:  # what it is, after the one fact (a title makes it unique)
            for plain in _PLAIN if ev.year else ("{Title} is {a_genres} {noun}.",):
                text = plain.format(**words)
                if text not in used:
                    sentences.append(text)
                    used.add(text)
                    break
        out.append(" ".join(sentences))
    return out


def template_rationale(ev: Evidence, state: DialogueState) -> str:
    """One item's templated rationale (see `template_rationales`)."""
    return template_rationales([ev], state)[0]


# genre synonyms that are ordinary words in prose ("a family drama", "space to breathe")
_VAGUE_GENRE_WORDS = {"space", "family", "laugh", "explosions", "docs", "sf", "kid", "kids",
                      "children", "creepy", "dramatic", "suspense", "funny", "humor", "humour"}
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_DECADE = re.compile(r"\b(?:(1[89]\d0|20\d0)s|['’]?([1-9]0)s)\b")
_RATING = re.compile(r"\b([0-5](?:\.\d+)?)\s*(?:/\s*5|out of (?:5|five)|stars?\b)", re.IGNORECASE)
_QUOTED = re.compile(r"[\"“«]([^\"”»]{2,80})[\"”»]")
_TITLE_YEAR = re.compile(r"\((\d{4})\)")


class FactChecker:
    """`check_text` with the catalog's extractor and the prompt-leak guard bound in."""

    def __init__(self, extractor: CatalogExtractor, forbidden: list[str]) -> None:
        self.extractor = extractor
        self.forbidden = forbidden

    def check(self, text: str, allowed: set[int], evidence: Evidence | None = None,
              state: DialogueState | None = None) -> CheckResult:
        """A rationale (with `evidence`, at most 600 characters) or a reply text (1500)."""
        return check_text(text, self.extractor, allowed_ids=allowed, evidence=evidence,
                          state=state, forbidden=self.forbidden,
                          max_chars=600 if evidence is not None else 1500)


class CheckResult(BaseModel):
    ok: bool
    problems: list[str] = Field(default_factory=list)


def check_text(text: str, extractor: CatalogExtractor, *, allowed_ids: set[int],
               evidence: Evidence | None = None, state: DialogueState | None = None,
               max_chars: int = 600, forbidden: list[str] = ()) -> CheckResult:  # type: ignore[assignment]
    """Check LLM text against the data, after reducing it to plain text (`plain_text`).

    Text that held links, images, HTML, URLs or other removable markup fails the check.

    Args:
        text: the LLM's rationale (with `evidence`) or reply text (without).
        allowed_ids: items the text may name (the recommended and liked items).
        evidence: the item a rationale is about; its genres/year/prediction bound the claims.
        forbidden: snippets that must never appear (the system prompt).
    """
    problems: list[str] = []
    cat = extractor.catalog
    if not text or not text.strip():
        return CheckResult(ok=False, problems=["empty text"])
    safe = plain_text(text)
    if safe.changed:
        problems.append(f"contains {', '.join(safe.removed)} (LLM text must be plain text)")
        text = safe.text or " "
    if len(text) > max_chars:
        problems.append(f"too long ({len(text)} > {max_chars} characters)")
    low = text.lower()
    for snippet in forbidden:
        if snippet and snippet.lower() in low:
            problems.append("repeats the system prompt")
            break
    # titles: every catalog title named must be allowed
    named: set[int] = set()
    for mention in extractor.find_titles(text):
        raw = text[mention.start:mention.end]
        if len(raw.split()) == 1 and raw.islower():
            continue  # a lower-case common word, not a title reference
        if any(i in allowed_ids for i in mention.ids):
            named.update(i for i in mention.ids if i in allowed_ids)
        else:
            problems.append(f"names {raw!r}, which is not a recommended or liked item")
    for m in _QUOTED.finditer(text):
        iid = extractor.index.resolve(m.group(1))
        if iid is None or iid not in allowed_ids:
            problems.append(f"names {m.group(0)!r}, which is not a recommended or liked item")
        else:
            named.add(iid)
    for m in _TITLE_YEAR.finditer(text):
        words = text[max(0, m.start() - 120):m.start()].split()[-8:]
        if not words or not words[-1][:1].isupper() and not words[-1][:1].isdigit():
            continue
        found = None
        for size in range(1, len(words) + 1):
            iid = extractor.index.resolve(" ".join(words[-size:]) + f" ({m.group(1)})", cutoff=95)
            if iid is not None and cat[iid].year == int(m.group(1)):
                found = iid
                if iid in allowed_ids:
                    break
        if found is None or found not in allowed_ids:
            problems.append(f"names {' '.join(words[-3:])} ({m.group(1)}), which is not a "
                            "recommended or liked item")
        else:
            named.add(found)
    if evidence is not None:
        subject = {evidence.item_id, *named}
        years: set[int] = {y for i in subject if cat.get(i) is not None
                           and (y := cat[i].year) is not None and y}
        genres = {g for i in subject if cat.get(i) is not None for g in cat[i].genres}
        if state is not None:
            years |= {y for y in (state.year_min, state.year_max) if y}
        for y in _YEAR.findall(text):
            if int(y) not in years:
                problems.append(f"states the year {y}, which is not the item's year")
        for m in _DECADE.finditer(text):
            start = int(m.group(1)) if m.group(1) else (1900 + int(m.group(2)))
            if not any(start <= y <= start + 9 for y in years):
                problems.append(f"states the {m.group(0)}, which does not hold for the item")
        norm = " " + normalize(text) + " "
        for phrase in sorted(extractor.genre_map, key=len, reverse=True):
            if f" {phrase} " in norm:
                g = extractor.genre_map[phrase]
                if g not in genres and phrase not in _VAGUE_GENRE_WORDS:
                    problems.append(f"calls it {phrase!r} ({g}), which is not one of its genres")
                norm = norm.replace(f" {phrase} ", " ")
        for m in _RATING.finditer(text):
            val = float(m.group(1))
            if evidence.predicted_rating is None or abs(val - evidence.predicted_rating) > 0.25:
                problems.append(f"quotes a rating of {m.group(0)!r}, which is not the prediction")
    return CheckResult(ok=not problems, problems=problems)

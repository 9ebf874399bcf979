"""Evidence: the facts about one recommended item (catalog, ranker, viewer tags) that every
rationale may state, the catalog's item nouns and the rating as every front door shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np
from pydantic import BaseModel, Field

from genrec.agent.operations import Toolkit
from genrec.agent.state import DialogueState
from genrec.agent.understanding.extraction import normalize


def item_nouns(catalog: object) -> tuple[str, str]:
    """The catalog's item noun, singular and plural (`Catalog.item_noun`, e.g. "book", "books").

    A catalog that declares none is a movie catalog.

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

    def for_prompt(self) -> dict[str, object]:
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


class ScoredItem(Protocol):
    """What evidence needs of a candidate: its id and predicted rating (`sources`, when it has
    them, say whether the search found it)."""

    @property
    def item_id(self) -> int: ...

    @property
    def predicted_rating(self) -> float | None: ...


def build_evidence(
    toolkit: Toolkit, state: DialogueState, candidates: Sequence[ScoredItem]
) -> list[Evidence]:
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


def matched_tags(
    tags: Iterable[tuple[str, int]] | None, wishes: list[str]
) -> list[tuple[str, int]]:
    """The (tag, viewers) pairs whose tag the user's wishes say in so many words.

    >>> matched_tags((("mind-bending", 12), ("dreams", 3)), ["something Mind-Bending please"])
    [('mind-bending', 12)]
    """
    said = f" {normalize(' '.join(wishes))} "
    return [(t, n) for t, n in tags or () if normalize(t) and f" {normalize(t)} " in said]

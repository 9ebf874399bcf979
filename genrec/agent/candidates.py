"""Candidate generation and fusion: Chroma results united with the ranker's top-N, one fused score.

Fused score of item i over the candidate pool P (every term lies in [0, 1]):

    score(i) = w_rank   * minmax_P(ranker score of i)          # personal CF signal
             + w_search * minmax_P(cosine similarity of i)     # meaning of the user's words
             + w_genre  * |genres(i) ∩ taste| / |taste|        # asked-for and preferred genres
             + w_decade * [year(i) in a preferred decade]      # "most of my favourites are 90s"
             + w_pop    * log(1 + n_ratings(i)) / log(1 + max n)  # popularity prior

Items missing from one source get 0 for that term (the ranker term is filled by predicting
every pool item when a profile exists). The weights depend on what is known: with a profile
(a known user or at least one liked item) `FusionWeights.personal`, else `FusionWeights.cold`;
with few liked items the personal weights are shrunk towards popularity (`CandidateConfig.shrink`);
a term whose source is absent (no query text, no genres, no decades) has its weight dropped
and the rest renormalised. The default weights were chosen on a validation split carved from
u1.base (`benchmarks/tune_agent.py`), never on a test split. Hard constraints (asked-for
genres as any-of, avoided genres, year bounds, blocked items) are applied before scoring, so
no weight can break them; genres and decades of the user's general taste only boost. Optional MMR
re-ranking (lambda < 1) trades relevance for diversity using genre-set Jaccard similarity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genrec.agent.models import ToolCallRecord
from genrec.agent.state import DialogueState
from genrec.agent.tools import Toolkit
from genrec.components import CandidateConfig, FusionWeights

__all__ = ["Candidate", "CandidateConfig", "FusionWeights", "fuse", "gather", "mmr", "query_text", "satisfies"]


@dataclass
class Candidate:
    """One pool item with each source's raw score and the fused score."""

    item_id: int
    ranker_score: float | None = None
    predicted_rating: float | None = None
    search_score: float | None = None
    genre_match: float = 0.0
    popularity: int = 0
    score: float = 0.0
    sources: set[str] = field(default_factory=set)


def query_text(state: DialogueState, catalog: Any, message: str | None = None) -> str:
    """The text to search Chroma with: wishes, wanted genres and liked titles."""
    parts = list(state.wishes[-2:])
    if message and message not in parts:
        parts.append(message)
    if state.taste_genres():
        parts.append(" ".join(state.taste_genres()) + " movie")
    for iid in state.liked[-3:]:
        it = catalog.get(iid)
        if it is not None:
            parts.append(f"like {it.title}")
    return ". ".join(p for p in parts if p)[:500]


def _minmax(values: dict[int, float]) -> dict[int, float]:
    if not values:
        return {}
    lo, hi = min(values.values()), max(values.values())
    if hi - lo < 1e-12:
        return {k: 1.0 for k in values}
    return {k: (v - lo) / (hi - lo) for k, v in values.items()}


def fuse(pool: dict[int, Candidate], state: DialogueState, weights: FusionWeights,
         catalog: Any, popularity: dict[int, int]) -> list[Candidate]:
    """Score every pool candidate with the fused score; best first (ties by item id)."""
    rank_n = _minmax({i: c.ranker_score for i, c in pool.items() if c.ranker_score is not None})
    search_n = _minmax({i: c.search_score for i, c in pool.items() if c.search_score is not None})
    max_pop = max(popularity.values(), default=0)
    taste = set(state.taste_genres())
    decades = set(state.preferred_decades)
    w = {"rank": weights.rank if rank_n else 0.0, "search": weights.search if search_n else 0.0,
         "genre": weights.genre if taste else 0.0, "decade": weights.decade if decades else 0.0,
         "pop": weights.pop if max_pop else 0.0}
    total = sum(w.values()) or 1.0
    w = {k: v / total for k, v in w.items()}
    for i, c in pool.items():
        it = catalog[i]
        c.genre_match = len(taste & set(it.genres)) / len(taste) if taste else 0.0
        in_decade = float(it.year is not None and (it.year // 10) * 10 in decades)
        c.popularity = popularity.get(i, 0)
        pop = math.log1p(c.popularity) / math.log1p(max_pop) if max_pop else 0.0
        c.score = (w["rank"] * rank_n.get(i, 0.0) + w["search"] * search_n.get(i, 0.0)
                   + w["genre"] * c.genre_match + w["decade"] * in_decade + w["pop"] * pop)
    return sorted(pool.values(), key=lambda c: (-c.score, c.item_id))


def mmr(ranked: list[Candidate], k: int, lam: float, catalog: Any) -> list[Candidate]:
    """Maximal marginal relevance over genre-set Jaccard similarity; lam=1 keeps the order."""
    if lam >= 1.0 or len(ranked) <= 1:
        return ranked[:k]
    genres = {c.item_id: set(catalog[c.item_id].genres) for c in ranked}

    def sim(a: int, b: int) -> float:
        ga, gb = genres[a], genres[b]
        return len(ga & gb) / len(ga | gb) if ga | gb else 0.0

    chosen: list[Candidate] = []
    rest = list(ranked[: max(k * 5, 50)])
    while rest and len(chosen) < k:
        best = max(rest, key=lambda c: lam * c.score - (1 - lam) * max(
            (sim(c.item_id, s.item_id) for s in chosen), default=0.0))
        chosen.append(best)
        rest.remove(best)
    return chosen


def satisfies(item: Any, state: DialogueState) -> bool:
    """True when an item obeys every hard constraint of the state (genres and years)."""
    g = set(item.genres)
    if state.wanted_genres and not g & set(state.wanted_genres):
        return False
    if g & set(state.avoided_genres):
        return False
    if state.year_min is not None and (item.year is None or item.year < state.year_min):
        return False
    if state.year_max is not None and (item.year is None or item.year > state.year_max):
        return False
    return True


def gather(toolkit: Toolkit, state: DialogueState, *, config: CandidateConfig, k: int,
           query: str | None, trace: list[ToolCallRecord], allow_repeats: bool = False,
           extra: dict[int, Candidate] | None = None) -> list[Candidate]:
    """Pool = Chroma search (when there is query text) ∪ ranker top-N ∪ `extra`, constrained,
    fused and (optionally) MMR-diversified; at most k, best first."""
    pool: dict[int, Candidate] = dict(extra or {})
    blocked = state.blocked(allow_repeats=allow_repeats)
    if query:
        res = toolkit.run("search_items", {"query": query, "k": config.search_n},
                          state, trace=trace, allow_repeats=allow_repeats)
        for h in res.hits:
            c = pool.setdefault(h.item_id, Candidate(h.item_id))
            c.search_score = h.score if c.search_score is None else max(c.search_score, h.score)
            c.sources.add("search")
    res = toolkit.run("rank_for_user", {"k": config.ranker_n}, state, trace=trace,
                      allow_repeats=allow_repeats)
    prof = toolkit.profile(state)
    for h in res.hits:
        c = pool.setdefault(h.item_id, Candidate(h.item_id))
        if h.source == "ranker":
            c.ranker_score, c.predicted_rating = h.score, h.predicted_rating
            c.sources.add("ranker")
        else:
            c.sources.add("popularity")
    if prof is not None and config.popular_n:
        # popular allowed items join the pool, so the popularity prior can act on them too
        f = toolkit.filters(None, state, allow_repeats=allow_repeats)
        pop = toolkit.popularity
        allowed = toolkit.allowed_ids(f)
        for i in sorted(allowed, key=lambda i: (-pop.get(i, 0), i))[: config.popular_n]:
            pool.setdefault(i, Candidate(i)).sources.add("popular")
    if prof is not None:
        missing = [i for i, c in pool.items() if c.ranker_score is None and i not in blocked
                   and toolkit.ranker.knows_item(i)]
        if missing:
            preds = np.asarray(toolkit.ranker.predict(prof, missing), dtype=float)
            for i, p in zip(missing, preds):
                pool[i].predicted_rating = float(p)
        # items only the search found: put their predicted rating on the ranker-score scale
        _align_scores(pool)
    pool = {i: c for i, c in pool.items()
            if i not in blocked and i in toolkit.catalog and satisfies(toolkit.catalog[i], state)}
    weights = config.weights_for(state, prof)
    ranked = fuse(pool, state, weights, toolkit.catalog, toolkit.popularity)
    return mmr(ranked, k, config.mmr_lambda, toolkit.catalog)


def _align_scores(pool: dict[int, Candidate]) -> None:
    """Put predicted-rating-only candidates on the ranker-score scale (linear fit on the rest)."""
    both = [(c.predicted_rating, c.ranker_score) for c in pool.values()
            if "ranker" in c.sources and c.predicted_rating is not None and c.ranker_score is not None]
    only = [c for c in pool.values() if "ranker" not in c.sources and c.predicted_rating is not None]
    if not only:
        return
    if len(both) >= 2 and np.std([b[0] for b in both]) > 1e-9:
        a, b = np.polyfit([x for x, _ in both], [y for _, y in both], 1)
        for c in only:
            c.ranker_score = float(a * c.predicted_rating + b)  # type: ignore[operator]
    else:
        for c in only:
            c.ranker_score = c.predicted_rating

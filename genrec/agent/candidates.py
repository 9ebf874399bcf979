"""Candidate generation and fusion: Chroma results united with the ranker's top-N, one fused score.

Fused score of item i over the candidate pool P (every term lies in [0, 1]):

    score(i) = w_rank   * minmax_P(ranker score of i)          # personal CF signal
             + w_search * minmax_P(cosine similarity of i)     # meaning of the user's words
             + w_genre  * |genres(i) ∩ taste| / |taste|        # asked-for and preferred genres
             + w_decade * [year(i) in a preferred decade]      # "most of my favourites are 90s"
             + w_pop    * log(1 + n_ratings(i)) / log(1 + max n)  # popularity prior

For "something like X" the pool also holds X's nearest items, the ranker term becomes the mean of
the two min-max scores (the user's predicted score and the cosine of the ranker's item codes to X),
and X's genres join the taste the genre term counts, with half the weight (`ANCHOR_GENRE_WEIGHT`).

Items missing from one source get 0 for that term (the ranker term is filled by predicting
every pool item when a profile exists). The weights depend on what is known: with a profile
(a known user or at least one liked item) `FusionWeights.personal`, else `FusionWeights.cold`;
with few liked items the personal weights are shrunk towards popularity (`CandidateConfig.shrink`);
a term whose source is absent (no query text, no genres, no decades) has its weight dropped
and the rest renormalised. The default weights were chosen on a validation split carved from
u1.base (`benchmarks/tune_agent.py`), never on a test split. Hard constraints (the state's
`constraints()` plus its blocked items, as one SearchFilters) select what retrieval returns and
guard the pool item by item (`SearchFilters.allows`) before scoring, so no weight can break
them; genres and decades of the user's general taste only boost. Optional MMR re-ranking
(lambda < 1) trades relevance for diversity using genre-set Jaccard similarity.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

import numpy as np

from genrec.agent.operations import Hit, Profile, Toolkit
from genrec.agent.rationales.evidence import item_nouns
from genrec.agent.replies import Recommendation, ToolCallRecord
from genrec.agent.state import DialogueState
from genrec.data import Catalog
from genrec.knobs import CandidateConfig, FusionWeights
from genrec.retrieval.filters import InvalidFilterError, SearchFilters

__all__ = [
    "Candidate",
    "CandidateConfig",
    "CandidatePool",
    "FusionWeights",
    "fuse",
    "gather",
    "mmr",
    "query_text",
    "score_pool",
    "standing_list",
]


@dataclass
class Candidate:
    """One pool item with each source's raw score and the fused score."""

    item_id: int
    ranker_score: float | None = None
    predicted_rating: float | None = None
    search_score: float | None = None
    genre_match: float = 0.0
    popularity: int = 0
    similarity: float | None = None
    """Cosine of the ranker's item codes to the item the user asked for more like ("like Toy
    Story")."""
    score: float = 0.0
    sources: set[str] = field(default_factory=set)

    def add_hit(self, hit: Hit) -> None:
        """Take a listing's scores: a ranker hit's score and prediction, the best search score."""
        if hit.source == "ranker":
            self.ranker_score, self.predicted_rating = hit.score, hit.predicted_rating
        elif hit.source == "search":
            self.search_score = hit.score if self.search_score is None else max(self.search_score,
                                                                                 hit.score)


@dataclass
class CandidatePool:
    """The ranked candidates of a turn (best first) and the ranker profile they were scored with,
    with the operations run to find them (`trace`) and the milliseconds it took (`ms`)."""

    candidates: list[Candidate]
    profile: Profile | None
    ranked: list[Candidate] = field(default_factory=list)
    """Every allowed pool item, fused and best first (what a question splits)."""
    trace: list[ToolCallRecord] = field(default_factory=list)
    ms: float = 0.0


ANCHOR_GENRE_WEIGHT = 0.5
"""Share of the fused weight the genre term gets when the user asked for more like one item: its
genres ("like Toy Story": Animation, Children's, Comedy) steer the list as much as the ranker."""

QUERY_CHARS = 200
"""The longest search query: embedding it is most of a turn's cost (about 20 ms + 0.07 ms a
character for MiniLM on one CPU thread), and the newest wish says what the user wants now."""


_QUOTED = re.compile(r'"[^"]*"|“[^”]*”')


def query_text(state: DialogueState, catalog: Catalog, message: str | None = None) -> str:
    """The text to search Chroma with: the wanted genres, the newest wish (without the titles it
    quotes: the ranker has those), the last liked title."""
    parts = []
    if state.taste_genres():
        parts.append(" ".join(state.taste_genres()) + " " + item_nouns(catalog)[0])
    parts += [" ".join(_QUOTED.sub(" ", w).split()) for w in state.wishes[-1:]]
    if message and message not in parts:
        parts.append(message)
    for iid in state.liked[-1:]:
        it = catalog.get(iid)
        if it is not None:
            parts.append(f"like {it.title}")
    return ". ".join(p for p in parts if p)[:QUERY_CHARS]


def _minmax(values: dict[int, float]) -> dict[int, float]:
    if not values:
        return {}
    lo, hi = min(values.values()), max(values.values())
    if hi - lo < 1e-12:
        return {k: 1.0 for k in values}
    return {k: (v - lo) / (hi - lo) for k, v in values.items()}


def fuse(pool: dict[int, Candidate], state: DialogueState, weights: FusionWeights,
         catalog: Catalog, popularity: dict[int, int]) -> list[Candidate]:
    """Score every pool candidate with the fused score; best first (ties by item id).

    With several genres asked for, items having more of them come first ("a comedy ... I'd like a
    romance" is a romantic comedy before a plain comedy); the fused score orders within."""
    rank_n = _minmax({i: c.ranker_score for i, c in pool.items() if c.ranker_score is not None})
    similar_n = _minmax({i: c.similarity for i, c in pool.items() if c.similarity is not None})
    if (
        similar_n
    ):  # "something like X": the personal term is half the user's taste, half likeness to X
        rank_n = {
            i: 0.5 * rank_n.get(i, 0.0) + 0.5 * similar_n.get(i, 0.0)
            for i in set(rank_n) | set(similar_n)
        }
    search_n = _minmax({i: c.search_score for i, c in pool.items() if c.search_score is not None})
    max_pop = max(popularity.values(), default=0)
    taste = set(state.taste_genres())
    anchor = next((catalog[a] for a in reversed(state.anchors) if a in catalog), None)
    if anchor is not None and similar_n:  # "like Toy Story": its genres count as asked-for taste
        taste |= set(anchor.genres)
    decades = set(state.preferred_decades)
    w = {"rank": weights.rank if rank_n else 0.0, "search": weights.search if search_n else 0.0,
         "genre": weights.genre if taste else 0.0, "decade": weights.decade if decades else 0.0,
         "pop": weights.pop if max_pop else 0.0}
    if (
        anchor is not None and similar_n
    ):  # likeness to X is what was asked: its genres weigh as much as taste
        w["genre"] = max(w["genre"], ANCHOR_GENRE_WEIGHT * sum(w.values()))
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
    wanted = set(state.wanted_genres)
    if len(wanted) > 1:  # "a comedy" then "I'd like a romance": both first, then either
        return sorted(pool.values(), key=lambda c: (-len(wanted & set(catalog[c.item_id].genres)),
                                                    -c.score, c.item_id))
    return sorted(pool.values(), key=lambda c: (-c.score, c.item_id))


def mmr(ranked: list[Candidate], k: int, lam: float, catalog: Catalog) -> list[Candidate]:
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


def _record(name: str, arguments: dict[str, object], started: float, hits: list[Hit] | None,
            error: str = "") -> ToolCallRecord:
    """A trace entry for an operation the pipeline ran (named like the LLM tool it matches)."""
    return ToolCallRecord(
        name=name, arguments=arguments, ok=hits is not None,
        summary=f"{len(hits)} items" if hits is not None else error,
        ms=round((time.perf_counter() - started) * 1000, 3))


def gather(toolkit: Toolkit, state: DialogueState, *, config: CandidateConfig, k: int,
           allow_repeats: bool = False, profile: Profile | None = None,
           extra: dict[int, Candidate] | None = None) -> CandidatePool:
    """Pool = Chroma search (when the state has words to search with) ∪ ranker top-N ∪ `extra`,
    constrained, fused and (optionally) MMR-diversified; at most k, best first.

    `profile` is the state's ranker profile (`toolkit.profile(state)`), computed once a turn.
    """
    started_all = time.perf_counter()
    trace: list[ToolCallRecord] = []
    pool: dict[int, Candidate] = dict(extra or {})
    query = query_text(state, toolkit.catalog) if (
        state.wishes or state.taste_genres() or state.liked) else None
    try:
        filters: SearchFilters | None = toolkit.constraints(state, allow_repeats=allow_repeats)
    except InvalidFilterError as exc:  # the state's own years conflict: nothing can match
        filters, problem = None, str(exc)
    anchor = next((a for a in reversed(state.anchors) if a in toolkit.catalog), None)
    if anchor is not None and filters is not None:
        # "something like Toy Story": X's neighbours join the pool, rated alike and alike in content
        trace.append(_neighbours(toolkit, anchor, filters, config, pool))
    if query:
        started = time.perf_counter()
        hits = toolkit.search(query, config.search_n, filters) if filters is not None else None
        trace.append(_record("search_items", {"query": query, "k": config.search_n}, started,
                             hits, f"search_items: {problem}" if filters is None else ""))
        for h in hits or []:
            c = pool.setdefault(h.item_id, Candidate(h.item_id))
            c.add_hit(h)
            c.sources.add("search")
    started = time.perf_counter()
    allowed = toolkit.allowed_array(filters) if filters is not None else np.zeros(0, np.int64)
    hits = toolkit.rank(profile, allowed, config.ranker_n) if filters is not None else None
    trace.append(_record("rank_for_user", {"k": config.ranker_n}, started, hits,
                         f"rank_for_user: {problem}" if filters is None else ""))
    for h in hits or []:
        c = pool.setdefault(h.item_id, Candidate(h.item_id))
        c.add_hit(h)
        c.sources.add("ranker" if h.source == "ranker" else "popularity")
    if filters is None:
        return CandidatePool([], profile, trace=trace, ms=_ms_since(started_all))
    if profile is not None and config.popular_n:
        # popular allowed items join the pool, so the popularity prior can act on them too
        for i, _ in toolkit.most_popular(allowed, config.popular_n):
            pool.setdefault(i, Candidate(i)).sources.add("popular")
    if profile is not None:
        blocked = set(filters.exclude_ids)
        missing = [i for i, c in pool.items() if c.ranker_score is None and i not in blocked]
        for i, p in toolkit.predict(profile, missing).items():
            pool[i].predicted_rating = p
        # items only the search found: put their predicted rating on the ranker-score scale
        _align_scores(pool)
    pool = _allowed(pool, filters, toolkit)
    ranked = fuse(pool, state, config.weights_for(state, profile), toolkit.catalog,
                  toolkit.popularity)
    chosen = mmr(ranked, k, config.mmr_lambda, toolkit.catalog)
    return CandidatePool(chosen, profile, ranked, trace=trace, ms=_ms_since(started_all))


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _neighbours(toolkit: Toolkit, anchor: int, filters: SearchFilters, config: CandidateConfig,
                pool: dict[int, Candidate]) -> ToolCallRecord:
    """Add the anchor's nearest items to `pool`: rated alike (the ranker's item codes: `similarity`,
    blended into the ranker term by `fuse`) and alike in content (the item's embedding, as the
    search term)."""
    started = time.perf_counter()
    hits = toolkit.similar(anchor, config.ranker_n, filters)
    for h in hits:
        c = pool.setdefault(h.item_id, Candidate(h.item_id))
        if h.source == "ranker-similar":
            c.similarity = h.score
        else:
            c.search_score = h.score if c.search_score is None else max(c.search_score, h.score)
        c.sources.add("similar")
    content = [Hit(r.item.item_id, float(r.score), None, "content-similar")
               for r in toolkit.store.similar(anchor, k=config.search_n, filters=filters)]
    for h in content:
        c = pool.setdefault(h.item_id, Candidate(h.item_id))
        c.search_score = h.score if c.search_score is None else max(c.search_score, h.score)
        c.sources.add("similar")
    return _record(
        "similar_items", {"item_id": anchor, "k": config.ranker_n}, started, [*hits, *content]
    )


def score_pool(toolkit: Toolkit, state: DialogueState, pool: dict[int, Candidate], *,
               config: CandidateConfig, profile: Profile | None,
               allow_repeats: bool = False) -> list[Candidate]:
    """Constrain and fuse items found elsewhere (the LLM's tool calls, the last list shown)."""
    try:
        filters = toolkit.constraints(state, allow_repeats=allow_repeats)
    except InvalidFilterError:
        return []
    pool = _allowed(pool, filters, toolkit)
    if profile is not None and pool:
        for i, p in toolkit.predict(profile, list(pool)).items():
            pool[i].predicted_rating = p
            if pool[i].ranker_score is None:
                pool[i].ranker_score = p
    return fuse(pool, state, config.weights_for(state, profile), toolkit.catalog,
                toolkit.popularity)


def _allowed(pool: dict[int, Candidate], filters: SearchFilters, toolkit: Toolkit
             ) -> dict[int, Candidate]:
    """The final guard: only catalog items the filters allow stay in the pool."""
    cat = toolkit.catalog
    return {i: c for i, c in pool.items() if i in cat and filters.allows(cat[i])}


def standing_list(toolkit: Toolkit, config: CandidateConfig, state: DialogueState,
                  k: int) -> list[Recommendation]:
    """The state's best k now (`Recommender.shortlist`): `gather` with repeats allowed, so
    constraints and dislikes hold, items reacted to or named stay out, shown items may return.

    Nothing is written to `state`.
    """
    from genrec.agent.rationales.evidence import build_evidence
    from genrec.agent.rationales.reasons import template_rationale

    tk = toolkit
    pool = gather(tk, state, config=config, k=k, allow_repeats=True, profile=tk.profile(state))
    cands = pool.candidates[:k]
    out = []
    for c, ev in zip(cands, build_evidence(tk, state, cands)):
        it = tk.catalog[c.item_id]
        out.append(Recommendation(
            item_id=it.item_id, title=it.title, year=it.year, genres=list(it.genres),
            score=round(float(c.score), 6),
            predicted_rating=None if c.predicted_rating is None else round(c.predicted_rating, 3),
            rationale=template_rationale(ev, state), evidence=ev.model_dump(exclude_none=True)))
    return out


def _align_scores(pool: dict[int, Candidate]) -> None:
    """Put predicted-rating-only candidates on the ranker-score scale (linear fit on the rest)."""
    both = [
        (c.predicted_rating, c.ranker_score)
        for c in pool.values()
        if "ranker" in c.sources and c.predicted_rating is not None and c.ranker_score is not None
    ]
    only = [
        c for c in pool.values() if "ranker" not in c.sources and c.predicted_rating is not None
    ]
    if not only:
        return
    if len(both) >= 2 and np.std([b[0] for b in both]) > 1e-9:
        a, b = np.polyfit([x for x, _ in both], [y for _, y in both], 1)
        for c in only:
            c.ranker_score = float(a * c.predicted_rating + b)
    else:
        for c in only:
            c.ranker_score = c.predicted_rating

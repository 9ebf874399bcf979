"""Typed operations over one catalog, ranker and store: search, rank, similar, details, profiles.

Candidate generation calls these directly; the LLM-facing tools (`genrec.agent.llm_tools`) wrap them
in argument schemas and JSON. No JSON, no trace and no string dispatch here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from genrec.agent.state import DialogueState
from genrec.data import Catalog
from genrec.ranking.interfaces import RatingRanker
from genrec.ranking.types import ScoredItem, UserProfile
from genrec.retrieval.filters import FilterTable, InvalidFilterError, SearchFilters, validate

if TYPE_CHECKING:
    from genrec.retrieval.store import ChromaStore

Profile = int | UserProfile
"""What the ranker personalises on: a known user id or a fold-in `UserProfile`."""


class AgentRanker(RatingRanker, Protocol):
    """What the agent asks of its ranker: a `RatingRanker` that also finds items rated alike."""

    def similar_items(self, item: int, k: int = 10, *, candidates: Iterable[int] | None = None
                      ) -> list[ScoredItem]:
        """Items whose learned codes are closest to `item`'s, best first, `item` left out."""
        ...


@dataclass(frozen=True)
class Hit:
    """One item an operation returned, with whatever scores that operation knows.

    `source` says which: "search", "ranker", "popularity", "ranker-similar", "content-similar".
    """

    item_id: int
    score: float
    predicted_rating: float | None = None
    source: str = ""


@dataclass(frozen=True)
class ItemDetails:
    """One catalog item's facts: title, year, genres, description and training rating count."""

    item_id: int
    title: str
    year: int | None
    genres: list[str]
    description: str | None
    ratings_count: int | None


def constrain(requested: SearchFilters | None, state: DialogueState | None, genres: list[str], *,
              exclude: Iterable[int] = (), allow_repeats: bool = False) -> SearchFilters:
    """Filters a call asked for, intersected with the state's constraints and blocked items.

    The requested filters are validated first, as given. Then the state's avoided genres are
    added, its wanted genres apply when the call asked for none, the year range is narrowed to
    the state's, and the state's blocked items are excluded.

    Raises:
        InvalidFilterError: unknown genre, implausible year, or years that cannot both hold.

    >>> s = DialogueState(avoided_genres=["Horror"], year_min=1980, liked=[1])
    >>> f = constrain(SearchFilters(year_min=1950), s, ["Comedy", "Horror"])
    >>> f.genres_none, f.year_min, f.exclude_ids
    (['Horror'], 1980, [1])
    """
    f = validate(requested, genres)
    excluded = set(exclude)
    if state is not None:
        wanted = state.constraints()
        for g in wanted.genres_none:
            if g not in f.genres_none:
                f.genres_none.append(g)
        if wanted.genres_any and not f.genres_any:
            f.genres_any = list(wanted.genres_any)
        if wanted.year_min is not None:
            f.year_min = max(f.year_min or wanted.year_min, wanted.year_min)
        if wanted.year_max is not None:
            f.year_max = min(f.year_max or wanted.year_max, wanted.year_max)
        excluded |= state.blocked(allow_repeats=allow_repeats)
    f.genres_any = [g for g in f.genres_any if g not in f.genres_none]
    f.exclude_ids = sorted(excluded)
    if f.year_min is not None and f.year_max is not None and f.year_min > f.year_max:
        raise InvalidFilterError(
            f"the years asked for ({f.year_min}..{f.year_max}) conflict with the user's "
            f"year range ({state.year_min if state else None}..{state.year_max if state else None})"
        )
    return validate(f, genres)


def _id_array(ids: Iterable[int]) -> np.ndarray:
    """Item ids as an int64 array (an array is taken as it is, without a Python int per id)."""
    if isinstance(ids, np.ndarray):
        return ids.astype(np.int64, copy=False)
    return np.fromiter((int(i) for i in ids), dtype=np.int64)


SEEN_LEVEL = 0.5
"""Where on the rating scale a fold-in puts an item seen without a verdict (the middle: 3 on
1-5)."""
INTERESTED_LEVEL = 0.75
"""Where on the rating scale a fold-in puts a shown item not seen yet that the user would watch
(4 on 1-5: below a like, which counts as the scale's top)."""


class Toolkit:
    """Typed operations over one catalog, ranker and Chroma store.

    >>> # tk = Toolkit(catalog, ranker, store); tk.search("space opera", 5, SearchFilters())
    """

    def __init__(self, catalog: Catalog, ranker: AgentRanker, store: ChromaStore) -> None:
        self.catalog = catalog
        self.ranker = ranker
        self.store = store
        self.table = FilterTable.from_catalog(catalog)
        self.genres = catalog.genres
        self._popularity: dict[int, int] | None = None
        self._pop_sorted: tuple[np.ndarray, np.ndarray] | None = None
        self._known: np.ndarray | None = None
        years = [it.year for it in catalog if it.year]
        self.year_span = (min(years), max(years)) if years else (None, None)

    @property
    def popularity(self) -> dict[int, int]:
        """Training rating count per item id ({} when the ranker has none)."""
        if self._popularity is None:
            try:
                self._popularity = {int(k): int(v) for k, v in self.ranker.popularity().items()}
            except Exception:  # noqa: BLE001 - a ranker without popularity: none known
                self._popularity = {}
        return self._popularity

    def _pop_of(self, ids: np.ndarray) -> np.ndarray:
        """Training rating counts of `ids` (0 for ids without one), from arrays built once."""
        if self._pop_sorted is None:
            pop = self.popularity
            keys = np.fromiter(pop.keys(), dtype=np.int64, count=len(pop))
            vals = np.fromiter(pop.values(), dtype=np.int64, count=len(pop))
            order = np.argsort(keys)
            self._pop_sorted = keys[order], vals[order]
        keys, vals = self._pop_sorted
        if not len(keys):
            return np.zeros(len(ids), dtype=np.int64)
        at = np.minimum(np.searchsorted(keys, ids), len(keys) - 1)
        return np.where(keys[at] == ids, vals[at], 0)

    def most_popular(self, ids: Iterable[int], k: int) -> list[tuple[int, int]]:
        """The k most rated of `ids` (unique), as (id, count), most first and ties by smaller id."""
        arr = _id_array(ids)
        if not len(arr) or k < 1:
            return []
        if len(arr) > k:  # only ids at least as popular as the k-th can be in the top k
            pop = self._pop_of(arr)
            top = np.unique(arr[pop >= np.partition(pop, len(pop) - k)[len(pop) - k]])
            arr = top if len(top) >= k else np.unique(arr)  # fewer: ids were repeated
        else:
            arr = np.unique(arr)
        pop = self._pop_of(arr)
        order = np.lexsort((arr, -pop))[:k]
        return list(zip(arr[order].tolist(), pop[order].tolist()))

    def constraints(self, state: DialogueState | None, requested: SearchFilters | None = None, *,
                    exclude: Iterable[int] = (), allow_repeats: bool = False) -> SearchFilters:
        """`constrain` over this catalog's genres (raises InvalidFilterError)."""
        return constrain(
            requested, state, self.genres, exclude=exclude, allow_repeats=allow_repeats
        )

    def allowed_ids(self, filters: SearchFilters) -> list[int]:
        """Catalog ids that satisfy (validated) filters, in catalog order."""
        return self.allowed_array(filters).tolist()

    def allowed_array(self, filters: SearchFilters) -> np.ndarray:
        """`allowed_ids` as an int64 array (no Python int per catalog item)."""
        return self.table.ids[self.table.mask(filters)]

    def profile(self, state: DialogueState | None, *, user_id: int | None = None,
                liked: Iterable[int] = (), disliked: Iterable[int] = ()) -> Profile | None:
        """A known user id when the ranker knows it, else a fold-in of what the user said about
        items, else None (nothing to personalise on).

        The fold-in takes liked and disliked items, items seen without a verdict ("it was so-so":
        `SEEN_LEVEL` of the rating scale) and shown items not seen yet that sounded good
        (`INTERESTED_LEVEL`, below a like); it needs a liked or interested item."""
        uid = user_id if user_id is not None else (state.user_id if state else None)
        if uid is not None and self.ranker.knows_user(uid):
            return uid
        known = self.ranker.knows_item
        likes = [i for i in dict.fromkeys([*(state.liked if state else []), *liked]) if known(i)]
        dislikes = [i for i in dict.fromkeys([*(state.disliked if state else []), *disliked])
                    if known(i) and i not in likes]
        rated: dict[int, float] = {}
        interested = [i for i in (state.interested if state else []) if known(i) and i not in likes]
        if state is not None:
            lo, hi = getattr(self.ranker, "scale", (1.0, 5.0))
            said = set(likes) | set(dislikes)
            rated = {
                i: lo + SEEN_LEVEL * (hi - lo) for i in state.seen if known(i) and i not in said
            }
            rated.update(
                {i: lo + INTERESTED_LEVEL * (hi - lo) for i in interested if i not in said}
            )
        if not likes and not interested:
            return None
        return self.ranker.fold_in(liked=likes, disliked=dislikes, rated=rated)

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        """Items closest in meaning to `query` under (validated) filters, best first."""
        return [Hit(r.item.item_id, float(r.score), None, "search")
                for r in self.store.search(query, k=k, filters=filters)]

    def rank(self, profile: Profile | None, allowed: Iterable[int], k: int) -> list[Hit]:
        """The top k of `allowed` for a profile (by the ranker), or by popularity without one."""
        ids = _id_array(allowed)
        if not len(ids):
            return []
        if profile is None:
            return [Hit(i, float(n), None, "popularity") for i, n in self.most_popular(ids, k)]
        return [Hit(s.item_id, float(s.score), s.predicted_rating, "ranker")
                for s in self._recommend(profile, ids, k)]

    def _recommend(self, profile: Profile, ids: np.ndarray, k: int) -> list[ScoredItem]:
        """`ranker.recommend` over `ids`: as candidates, or (the same items, when the ranker knows
        them all and they are most of its items) as the exclusion of the rest."""
        rest = self._rest_of_ranker(ids) if 2 * len(ids) > len(self._ranker_ids()) else None
        if rest is not None:
            return list(self.ranker.recommend(profile, k=k, exclude=rest.tolist()))
        return list(self.ranker.recommend(profile, k=k, candidates=ids.tolist()))

    def _ranker_ids(self) -> np.ndarray:
        """The ranker's item ids, sorted (empty when it does not expose them as an array)."""
        if self._known is None:
            known = getattr(self.ranker, "item_ids", None)
            self._known = np.sort(known.astype(np.int64)) if isinstance(known, np.ndarray) else \
                np.zeros(0, dtype=np.int64)
        return self._known

    def _rest_of_ranker(self, ids: np.ndarray) -> np.ndarray | None:
        """The ranker's items not in `ids`; None when some id is unknown to it."""
        known = self._ranker_ids()
        if not len(known):
            return None
        at = np.minimum(np.searchsorted(known, ids), len(known) - 1)
        if not np.array_equal(known[at], ids):
            return None
        rest = np.ones(len(known), dtype=bool)
        rest[at] = False
        return known[rest]

    def predict(self, profile: Profile, item_ids: list[int]) -> dict[int, float]:
        """Predicted ratings of the items the ranker knows (others are left out)."""
        known = [i for i in item_ids if self.ranker.knows_item(i)]
        if not known:
            return {}
        return {i: float(p) for i, p in zip(known, self.ranker.predict(profile, known))}

    def similar(self, item_id: int, k: int, filters: SearchFilters) -> list[Hit]:
        """Items rated alike (when the ranker knows the item), else alike in content."""
        if self.ranker.knows_item(item_id):
            ids = self.allowed_array(filters)
            ids = ids[ids != item_id]
            rest = self._rest_of_ranker(ids) if len(ids) else None
            every = rest is not None and rest.tolist() == [item_id]  # all but the item itself
            scored = self.ranker.similar_items(
                item_id, k=k, candidates=None if every else ids.tolist()) if len(ids) else []
            return [Hit(s.item_id, float(s.score), None, "ranker-similar") for s in scored]
        return [Hit(r.item.item_id, float(r.score), None, "content-similar")
                for r in self.store.similar(item_id, k=k, filters=filters)]

    def details(self, item_id: int) -> ItemDetails:
        """One item's facts (raises genrec.data.UnknownItemError for an unknown id)."""
        it = self.catalog[item_id]
        return ItemDetails(it.item_id, it.title, it.year, list(it.genres), it.description,
                           self.popularity.get(it.item_id))

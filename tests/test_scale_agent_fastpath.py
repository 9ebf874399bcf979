"""The agent toolkit's vectorised paths give exactly what the per-item code gave, on MovieLens 100K.

The references below are the toolkit's code before it was vectorised for 62k-item catalogs
(one Python step per catalog item); a real MFRanker, real filters, real fold-in profiles.
"""

from __future__ import annotations

import numpy as np
import pytest

from genrec.agent.operations import Hit, Toolkit
from genrec.agent.state import DialogueState
from genrec.retrieval.filters import SearchFilters

pytestmark = pytest.mark.slow  # a ranker trained on ML-100K u1


@pytest.fixture(scope="module")
def toolkit(ml100k) -> Toolkit:
    from genrec.data import movielens_fold
    from genrec.ranking import MFRanker, RankerConfig

    split = movielens_fold(ml100k.ratings, 1)
    cfg = RankerConfig(embedding_size=32, epochs=3, device="cpu", seed=3)
    ranker = MFRanker(cfg).fit(split.train, items=ml100k.catalog.ids, progress=False)
    return Toolkit(ml100k.catalog, ranker, store=None)  # no search in these tests


def ref_rank(tk: Toolkit, profile, allowed, k: int) -> list[Hit]:
    ids = set(allowed)
    if not ids:
        return []
    if profile is None:
        pop = tk.popularity
        return [Hit(i, float(pop.get(i, 0)), None, "popularity")
                for i in sorted(ids, key=lambda i: (-pop.get(i, 0), i))[:k]]
    return [Hit(s.item_id, float(s.score), s.predicted_rating, "ranker")
            for s in tk.ranker.recommend(profile, k=k, candidates=sorted(ids))]


def ref_similar(tk: Toolkit, item_id: int, k: int, filters: SearchFilters) -> list[Hit]:
    allowed = [int(i) for i in tk.table.ids[tk.table.mask(filters)] if i != item_id]
    scored = tk.ranker.similar_items(item_id, k=k, candidates=allowed) if allowed else []
    return [Hit(s.item_id, float(s.score), None, "ranker-similar") for s in scored]


def seeded_cases(tk: Toolkit, n: int):
    """(filters, profile) pairs: wide and narrow filters; no profile, fold-ins, a known user."""
    rng = np.random.default_rng(11)
    ids = tk.catalog.ids
    for c in range(n):
        g = [str(x) for x in rng.choice(tk.genres, int(rng.integers(0, 3)), replace=False)]
        kw: dict = {"genres_any": g[:1] if c % 3 == 0 else [], "genres_none": g[1:],
                    "exclude_ids": [int(x) for x in rng.choice(ids, int(rng.integers(0, 40)))]}
        if c % 4 == 1:
            kw["year_min"] = int(rng.integers(1940, 1990))
            kw["year_max"] = kw["year_min"] + int(rng.integers(0, 15))
        liked = [int(x) for x in rng.choice(ids, int(rng.integers(0, 4)), replace=False)]
        state = DialogueState(liked=liked, interested=[int(rng.choice(ids))] if c % 5 == 2 else [],
                              user_id=int(c + 1) if c % 7 == 3 else None)
        yield tk.constraints(None, SearchFilters(**kw)), tk.profile(state)


def test_rank_matches_the_per_item_code_with_and_without_a_profile(toolkit: Toolkit) -> None:
    paths = set()
    for filters, profile in seeded_cases(toolkit, 60):
        allowed = toolkit.allowed_ids(filters)
        assert allowed == [int(i) for i in toolkit.table.ids[toolkit.table.mask(filters)]]
        assert toolkit.rank(profile, allowed, 50) == ref_rank(toolkit, profile, allowed, 50)
        assert toolkit.rank(profile, set(allowed[::3]), 7) == ref_rank(
            toolkit, profile, allowed[::3], 7
        )
        twice = np.asarray(allowed + allowed[:100])  # repeated ids count once
        assert toolkit.rank(profile, twice, 20) == ref_rank(toolkit, profile, allowed, 20)
        paths.add((profile is None, 2 * len(allowed) > len(toolkit.catalog)))
    assert paths == {(True, True), (True, False), (False, True), (False, False)}  # every branch ran


def test_most_popular_breaks_ties_by_the_smaller_id_like_a_full_sort(toolkit: Toolkit) -> None:
    pop = toolkit.popularity
    rng = np.random.default_rng(5)
    ids = list(toolkit.catalog.ids) + [10**6, 10**6 + 1]  # two ids nobody rated (count 0)
    for n, k in [(1684, 50), (300, 50), (40, 50), (900, 1), (5, 0)]:
        some = [int(x) for x in rng.choice(ids, n, replace=False)]
        want = sorted(set(some), key=lambda i: (-pop.get(i, 0), i))[:k]
        assert toolkit.most_popular(some, k) == [(i, pop.get(i, 0)) for i in want]
        assert toolkit.most_popular(np.asarray(some), k) == [(i, pop.get(i, 0)) for i in want]
        popular_twice = some + sorted(some, key=lambda i: -pop.get(i, 0))[:60]  # repeated ids
        assert toolkit.most_popular(popular_twice, k) == [(i, pop.get(i, 0)) for i in want]
    unrated = sorted(i for i in ids if pop.get(i, 0) == 0)
    assert [i for i, _ in toolkit.most_popular(unrated, 3)] == unrated[:3]  # all tied at 0


def test_similar_matches_the_per_item_code_for_wide_and_narrow_filters(toolkit: Toolkit) -> None:
    for c, (filters, _) in enumerate(seeded_cases(toolkit, 20)):
        item = int(toolkit.catalog.ids[c * 37])
        assert toolkit.similar(item, 10, filters) == ref_similar(toolkit, item, 10, filters)
    everything = SearchFilters()
    assert toolkit.similar(1, 10, everything) == ref_similar(toolkit, 1, 10, everything)


def test_a_rank_over_unknown_ids_still_says_which_id_is_unknown(toolkit: Toolkit) -> None:
    from genrec.data import UnknownItemError

    profile = toolkit.profile(DialogueState(liked=[1, 2]))
    with pytest.raises(UnknownItemError, match="999999"):
        toolkit.rank(profile, [*toolkit.catalog.ids, 999999], 10)

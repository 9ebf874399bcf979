"""The popularity baseline: the most-rated items a user has not rated, behind the same `Ranker`
verbs.

It predicts no ratings; `fold_in` only records the items a user named, so they are never returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from genrec.data import Ratings, UnknownItemError
from genrec.ranking._train import training_frame
from genrec.ranking.types import ScoredItem, UnknownUserError, UserProfile

__all__ = ["PopularityRanker"]


class PopularityRanker:
    """Baseline: recommends the most-rated items the user has not rated (same verbs as MFRanker).

    >>> import pandas as pd
    >>> df = pd.DataFrame({"user": [1, 1, 2], "item": [10, 11, 10], "rating": [5.0, 4.0, 3.0],
    ...                    "timestamp": [0, 0, 0]})
    >>> pop = PopularityRanker().fit(Ratings(df))
    >>> [s.item_id for s in pop.recommend(2, k=5)]
    [11]
    >>> [s.item_id for s in pop.recommend(pop.fold_in(), k=1)]
    [10]
    """

    def __init__(self) -> None:
        self.item_ids = np.zeros(0, dtype=np.int64)
        self.scale: tuple[float, float] = (1.0, 5.0)
        self._count = np.zeros(0, dtype=np.float64)
        self._seen: dict[int, set[int]] = {}

    def fit(self, ratings: Ratings, **_: object) -> PopularityRanker:
        """Count the training ratings per item (other MFRanker.fit options are accepted and
        ignored)."""
        df = training_frame(ratings, "training ratings")
        counts = df.groupby("item").size()
        self.item_ids = counts.index.to_numpy(np.int64)
        self._count = counts.to_numpy(np.float64)
        self._seen = {int(u): set(g["item"].tolist()) for u, g in df.groupby("user")}
        self.scale = (float(ratings.scale[0]), float(ratings.scale[1]))
        return self

    def knows_user(self, user: int) -> bool:
        """Whether `user` rated anything in training."""
        return int(user) in self._seen

    def knows_item(self, item: int) -> bool:
        """Whether `item` was rated in training (only those are ever recommended)."""
        return bool(np.isin(int(item), self.item_ids))

    def popularity(self) -> dict[int, int]:
        """Training rating count per item id (items nobody rated are absent)."""
        return {int(i): int(c) for i, c in zip(self.item_ids, self._count)}

    def fold_in(self, liked: Iterable[int] = (), disliked: Iterable[int] = (),
                rated: Mapping[int, float] | None = None) -> UserProfile:
        """A profile that only remembers the named items (popularity has no taste to fit).

        Raises UnknownItemError for items nobody rated in training and ValueError for ratings
        outside the scale, as MFRanker.fold_in does.
        """
        lo, hi = self.scale
        for it, val in (rated or {}).items():
            if not (lo <= float(val) <= hi) or not np.isfinite(float(val)):
                raise ValueError(
                    f"rating {val!r} for item {it} is outside the scale {lo:g}..{hi:g}"
                )
        ids = {int(i) for i in liked} | {int(i) for i in disliked} | {int(i) for i in (rated or {})}
        unknown = sorted(i for i in ids if not self.knows_item(i))
        if unknown:
            raise UnknownItemError(
                f"item id {unknown[0]!r} is unknown to the popularity baseline "
                f"(nobody rated it in training; {len(self.item_ids)} items known)"
            )
        empty = np.zeros(0, dtype=np.float32)
        return UserProfile(empty, 0.0, empty, frozenset(ids))

    def recommend(self, user: int | UserProfile, k: int = 10, *, exclude: Iterable[int] = (),
                  candidates: Iterable[int] | None = None) -> list[ScoredItem]:
        """The k most-rated items `user` has not rated, best first (ties: smaller id first)."""
        if int(k) < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if isinstance(user, UserProfile):
            seen = set(user.seen)
        elif int(user) in self._seen:
            seen = self._seen[int(user)]
        else:
            raise UnknownUserError(
                f"user id {user!r} is not in the popularity baseline's training data"
            )
        skip = seen | {int(x) for x in exclude}
        allowed = np.array([int(i) not in skip for i in self.item_ids])
        if candidates is not None:
            allowed &= np.isin(
                self.item_ids, np.fromiter((int(c) for c in candidates), dtype=np.int64)
            )
        idx = np.flatnonzero(allowed)
        order = idx[np.lexsort((self.item_ids[idx], -self._count[idx]))][: int(k)]
        return [ScoredItem(int(self.item_ids[j]), float(self._count[j]), None) for j in order]

"""The `Ranker` protocol: the verbs every ranker answers (the CF model and the popularity baseline).

`RatingRanker` adds rating prediction, which only a model of taste (MFRanker) can do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from genrec.ranking.types import ScoredItem, UserProfile

__all__ = ["Ranker", "RatingRanker"]


@runtime_checkable
class Ranker(Protocol):
    """A trained ranker. Users are training user ids or `UserProfile`s from `fold_in`.

    >>> from genrec.ranking import MFRanker, PopularityRanker
    >>> isinstance(PopularityRanker(), Ranker), isinstance(MFRanker(), RatingRanker)
    (True, True)
    >>> isinstance(PopularityRanker(), RatingRanker)
    False
    """

    def knows_user(self, user: int) -> bool:
        """Whether `user` was in the training data."""
        ...

    def knows_item(self, item: int) -> bool:
        """Whether the ranker can rank `item`."""
        ...

    def popularity(self) -> dict[int, int]:
        """Training rating count per item id."""
        ...

    def fold_in(self, liked: Iterable[int] = (), disliked: Iterable[int] = (),
                rated: Mapping[int, float] | None = None) -> UserProfile:
        """A user known only from a few items (no items: the average user); they are never
        returned."""
        ...

    def recommend(self, user: int | UserProfile, k: int = 10, *, exclude: Iterable[int] = (),
                  candidates: Iterable[int] | None = None) -> list[ScoredItem]:
        """The k best items for `user`, best first, never their training (or folded-in) items."""
        ...


@runtime_checkable
class RatingRanker(Ranker, Protocol):
    """A ranker that also predicts ratings on the dataset's scale."""

    def predict(self, user: int | UserProfile, items: Sequence[int]) -> np.ndarray:
        """Predicted ratings of `items` for `user`, in the given order."""
        ...

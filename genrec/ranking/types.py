"""What rankers take and return: `ScoredItem`, `UserProfile`, and their errors
(`UnknownUserError`, `ModelFileError`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["ModelFileError", "ScoredItem", "UnknownUserError", "UserProfile"]


class UnknownUserError(KeyError):
    """A user id the ranker was not trained on (fold the user in from their items instead)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown user"


class ModelFileError(ValueError):
    """A saved ranker that cannot be used here: missing, corrupt, or from another
    dataset/version."""


@dataclass(frozen=True)
class ScoredItem:
    """One ranked item: `score` orders the list; `predicted_rating` is on the dataset's scale."""

    item_id: int
    score: float
    predicted_rating: float | None = None


@dataclass(frozen=True)
class UserProfile:
    """A user known only from what they said (liked, disliked, rated items); see `Ranker.fold_in`.

    Accepted wherever a user id is. `factors`/`bias` live in the CF model's rating space;
    `implicit` is its EASE input row (1 for liked or rated items); `seen` are the items the user
    named, which a ranker never returns. A ranker without factors leaves them empty.
    """

    factors: np.ndarray
    bias: float
    implicit: np.ndarray
    seen: frozenset[int] = field(default_factory=frozenset)

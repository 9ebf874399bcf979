"""The ranker's one config model, its errors, and the small types it takes and returns.

Defaults were chosen on a validation split carved from MovieLens 100K u1.base (see benchmarks/).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from genrec.knobs import RankerConfig

__all__ = ["RankerConfig", "effective_reg", "UnknownUserError", "ModelFileError", "ScoredItem",
           "UserProfile"]


def effective_reg(config: RankerConfig, n_ratings: int) -> float:
    """The autoencoder's L2 weight for a training set of `n_ratings` ratings (see `reg`)."""
    return config.reg * min(1.0, math.sqrt(max(n_ratings, 1) / config.reg_full_size))


class UnknownUserError(KeyError):
    """A user id the ranker was not trained on (fold the user in from their items instead)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown user"


class ModelFileError(ValueError):
    """A saved ranker that cannot be used here: missing, corrupt, or from another dataset/version."""


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

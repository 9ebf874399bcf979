"""The ranker's one config model, its errors, and the small types it returns.

Defaults were chosen on a validation split carved from MovieLens 100K u1.base (see benchmarks/).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from genrec.components import RankerConfig

__all__ = ["RankerConfig", "effective_reg", "UnknownUserError", "ModelFileError", "ScoredItem"]


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

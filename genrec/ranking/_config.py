"""The ranker's one config model, its errors, and the small types it returns.

Defaults were chosen on a validation split carved from MovieLens 100K u1.base (see benchmarks/).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class RankerConfig(BaseModel):
    """Hyperparameters of `MFRanker` (every field can be written in TOML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    embedding_size: int = Field(500, ge=1, description="Item code / user factor size (hidden units).")
    epochs: int = Field(150, ge=1, description="Most training epochs (the lr schedule spans them).")
    learning_rate: float = Field(0.03, gt=0, description="Peak Adam learning rate (one-cycle schedule).")
    reg: float = Field(50.0, ge=0, description=(
        "L2 weight of the autoencoder weights (sum-of-squares loss) for a training set of at least "
        "`reg_full_size` ratings; smaller sets get reg * sqrt(n / reg_full_size)."))
    reg_full_size: int = Field(70_000, ge=1, description=(
        "Ratings at and above which `reg` applies unscaled (the defaults were tuned on ML-100K's "
        "72k-rating validation-train part); below it the weight shrinks so small data is not "
        "over-regularised."))
    ease_reg: float = Field(400.0, gt=0, description="L2 weight of the EASE item-item model.")
    blend: float = Field(
        0.4, ge=0, description="Weight of the (centred) predicted rating in the recommend() score."
    )
    eval_every: int = Field(5, ge=1, description="Epochs between validation checks.")
    patience: int = Field(6, ge=1, description="Validation checks without improvement before stopping.")
    batch_ratings: int = Field(
        200_000, ge=1, description="Ratings per optimisation step (items are batched whole)."
    )
    dense: bool | None = Field(
        None, description="Dense (items x users) blocks or observed cells only; None picks by size."
    )
    ease_max_items: int = Field(
        20_000, ge=0, description="Skip the EASE component above this many items (memory is items^2)."
    )
    seed: int = Field(42, description="Seed for initialisation; same seed and data give the same model.")
    device: str = Field("auto", description="Torch device: auto (CUDA when present), cpu or cuda.")


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

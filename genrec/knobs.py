"""Component configs: the knobs of the ranker, the candidate fusion and the agent, in one place.

`Settings` carries them (`[ranker]`, `[agent]` tables in genrec.toml); the components import
them from here, so configuration sits below everything it configures.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class RankerConfig(BaseModel):
    """Hyperparameters of `MFRanker` (every field can be written in TOML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    embedding_size: int = Field(
        500, ge=1, description="Item code / user factor size (hidden units)."
    )
    epochs: int = Field(150, ge=1, description="Most training epochs (the lr schedule spans them).")
    learning_rate: float = Field(
        0.03, gt=0, description="Peak Adam learning rate (one-cycle schedule)."
    )
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
    patience: int = Field(
        6, ge=1, description="Validation checks without improvement before stopping."
    )
    batch_ratings: int = Field(
        200_000, ge=1, description="Ratings per optimisation step (items are batched whole)."
    )
    dense: bool | None = Field(
        None, description="Dense (items x users) blocks or observed cells only; None picks by size."
    )
    ease_max_items: int = Field(
        20_000,
        ge=0,
        description="Skip the EASE component above this many items (memory is items^2).",
    )
    seed: int = Field(
        42, description="Seed for initialisation; same seed and data give the same model."
    )
    device: str = Field("auto", description="Torch device: auto (CUDA when present), cpu or cuda.")


class FusionWeights(BaseModel):
    """Weights of the fused score's five terms (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    rank: float = Field(0.85, ge=0)
    search: float = Field(0.0, ge=0)
    genre: float = Field(0.05, ge=0)
    decade: float = Field(0.05, ge=0)
    pop: float = Field(0.05, ge=0)


class LikedSoFar(Protocol):
    """What the fusion weights read of a dialogue state: the items liked so far."""

    @property
    def liked(self) -> Sized: ...


class CandidateConfig(BaseModel):
    """How many candidates each source gives and how they are fused."""

    model_config = ConfigDict(extra="forbid")

    ranker_n: int = Field(50, ge=1, le=50, description="Ranker top-N taken into the pool.")
    search_n: int = Field(50, ge=1, description="Chroma results taken into the pool.")
    popular_n: int = Field(50, ge=0, description="Most popular allowed items added to the pool.")
    personal: FusionWeights = Field(default_factory=FusionWeights)
    cold: FusionWeights = Field(default_factory=lambda: FusionWeights(rank=0.0, search=0.25,
                                                                      genre=0.15, decade=0.1,
                                                                      pop=0.5))
    shrink: float = Field(1.0, ge=0.0, description=(
        "Liked items at which a conversation-only profile and the popularity prior weigh the same: "
        "with n liked items the personal weights get n / (n + shrink), popularity the rest. "
        "0 = always the personal weights."))
    mmr_lambda: float = Field(1.0, ge=0.0, le=1.0,
                              description="1.0 = no diversity re-ranking; 0.7 is a good MMR value.")

    def weights_for(self, state: LikedSoFar, profile: object) -> FusionWeights:
        """The fusion weights for what is known: none -> cold; a known user -> personal; a
        profile folded in from n liked items (an item that only sounded good counts half) ->
        personal shrunk towards popularity by `shrink`."""
        if profile is None:
            return self.cold
        n = len(state.liked) + 0.5 * len(getattr(state, "interested", ()))
        if isinstance(profile, int) or not self.shrink or not n:
            return self.personal
        a = n / (n + self.shrink)
        p = self.personal
        return FusionWeights(rank=a * p.rank, search=a * p.search, genre=a * p.genre,
                             decade=a * p.decade, pop=a * p.pop + (1 - a))


class AgentConfig(BaseModel):
    """Knobs of the agent (one config; the Recommender takes it)."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(10, ge=1, le=50, description="Recommendations per answer.")
    candidates: CandidateConfig = Field(default_factory=CandidateConfig)
    max_message_chars: int = Field(4000, ge=100, description="Longer messages are truncated.")
    max_tool_rounds: int = Field(4, ge=1, le=10, description="LLM rounds in the tool-calling loop.")
    history_messages: int = Field(
        8, ge=0, description="Past messages shown to the tool-calling LLM."
    )
    llm_extraction: bool = Field(
        True, description="Guided: ask the LLM to extract preferences too."
    )
    llm_rationales: bool = Field(True, description="Ask the LLM to write the reply and rationales.")
    check_rationales: bool = Field(True, description="Verify LLM text; False marks it unverified.")
    rationale_items: int = Field(5, ge=0, description="Items whose rationale the LLM writes.")
    llm_turn_seconds: float | None = Field(
        60.0,
        description=(
            "Most seconds of LLM time one turn may spend (None: no cap); "
            "past it the turn is rule-based."
        ),
    )
    ask_questions: bool = Field(
        True,
        description=(
            "Ask at most one question a turn alongside the recommendations "
            "(a favourite title while few "
            "are known, else the genre or decade that best splits the candidates), never twice."
        ),
    )
    question_attributes: list[str] = Field(
        default_factory=lambda: ["example", "genre", "decade"],
        description=(
            "What the agent may ask about: example (a film the user loved), genre, decade."
        ),
    )

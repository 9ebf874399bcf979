"""How real seekers behave, measured from INSPIRED's dialogues (how they open, what they volunteer,
how often they answer), and one simulated user's behaviour drawn from those shares.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from genrec.evaluation.real_dialogues import GoldTurn

OpenerStyle = Literal["vague", "genre", "titles"]


@dataclass(frozen=True)
class SeekerMove:
    """What one seeker turn did, from its gold label and its place in the dialogue (no corpus
    text)."""

    dialog_id: str
    utt_id: int
    act: str
    """The phrasebook's act (opener, taste, request, answer, reaction, more, smalltalk, thanks,
    question)."""
    after_question: bool
    """The recommender's turn just before it asked a question."""
    genre: bool = False
    """It states a genre wanted or avoided."""
    titles: bool = False
    """It names a title the seeker liked, disliked or mentioned."""
    dislike: bool = False
    """It states a dislike: a disliked title or an avoided genre."""

    @classmethod
    def of(cls, g: GoldTurn, act: str, after_question: bool) -> SeekerMove:
        return cls(
            g.dialog_id,
            g.utt_id,
            act,
            after_question,
            genre=bool(g.genres_wanted or g.genres_avoided),
            titles=bool(g.titles()),
            dislike=bool(g.disliked or g.genres_avoided),
        )

    @property
    def states(self) -> bool:
        """It states a preference (a genre or a title) in a taste, request, opener or answer."""
        return (self.genre or self.titles) and self.act in ("opener", "taste", "request", "answer")


class HasMoves(Protocol):
    """A phrasebook, or anything else holding the seeker moves of its dialogues."""

    moves: list[SeekerMove]


class BehaviourMix(BaseModel):
    """Shares of INSPIRED's dialogues (or of recommender questions, for `answers_question`), with
    the counts behind them.

    >>> m = behaviour_mix([SeekerMove("d", 2, "opener", True, genre=True)])
    >>> m.opener_genre, m.only_reacts, m.counts["dialogues"]
    (1.0, 1.0, 1)
    """

    opener_vague: float = Field(description="The first statement names no genre and no title.")
    opener_genre: float = Field(description="The first statement names a genre.")
    opener_titles: float = Field(description="The first statement names titles and no genre.")
    states_genre: float = Field(description="The seeker states a genre at some point.")
    names_titles: float = Field(description="The seeker names a title of its own at some point.")
    answers_question: float = Field(
        description="Share of the recommender's questions answered with a genre or title."
    )
    dislike_unprompted: float = Field(
        description="A dislike said unasked (not answering a question)."
    )
    only_reacts: float = Field(
        description="After its opener, the seeker volunteers no genre or title: it "
        "answers questions and reacts to recommendations only."
    )
    counts: dict[str, int] = Field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Shares rounded to three places, and the counts (for a run's config.json)."""
        d = self.model_dump()
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in d.items()}


def behaviour_mix(source: HasMoves | Iterable[SeekerMove]) -> BehaviourMix:
    """The behaviour mix of a phrasebook's dialogues (or of the given seeker moves)."""
    moves = list(source.moves if hasattr(source, "moves") else source)
    dialogues: dict[str, list[SeekerMove]] = {}
    for m in moves:
        dialogues.setdefault(m.dialog_id, []).append(m)
    n = max(len(dialogues), 1)
    c = {
        "dialogues": len(dialogues),
        "opener_vague": 0,
        "opener_genre": 0,
        "opener_titles": 0,
        "states_genre": 0,
        "names_titles": 0,
        "dislike_unprompted": 0,
        "only_reacts": 0,
        "questions": 0,
        "questions_answered": 0,
    }
    for turns in dialogues.values():
        opener = next((m for m in turns if m.act == "opener"), None)
        style = "vague" if opener is None else opener_style(opener)
        c[f"opener_{style}"] += 1
        c["states_genre"] += any(m.genre and m.states for m in turns)
        c["names_titles"] += any(m.titles and m.states for m in turns)
        c["dislike_unprompted"] += any(
            m.dislike and m.states and not m.after_question for m in turns
        )
        c["only_reacts"] += not any(
            m.states and not m.after_question and m.act != "opener" for m in turns
        )
        asked = [m for m in turns if m.after_question]
        c["questions"] += len(asked)
        c["questions_answered"] += sum(m.states for m in asked)
    return BehaviourMix(
        opener_vague=c["opener_vague"] / n,
        opener_genre=c["opener_genre"] / n,
        opener_titles=c["opener_titles"] / n,
        states_genre=c["states_genre"] / n,
        names_titles=c["names_titles"] / n,
        answers_question=c["questions_answered"] / max(c["questions"], 1),
        dislike_unprompted=c["dislike_unprompted"] / n,
        only_reacts=c["only_reacts"] / n,
        counts=c,
    )


def opener_style(m: SeekerMove) -> OpenerStyle:
    """How a first statement opens: with a genre, with titles only, or with neither."""
    return "genre" if m.genre else "titles" if m.titles else "vague"


@dataclass(frozen=True)
class Behaviour:
    """One simulated user's habits, drawn from a `BehaviourMix`."""

    opener: OpenerStyle = "genre"
    """What its first message says: a genre, liked titles, or only that it wants a film."""
    volunteers: bool = True
    """It states tastes unasked after its opener (else it only answers and reacts)."""
    dislikes_unprompted: bool = True
    """It says what it dislikes unasked (else only when asked, or as a reaction to a shown item)."""


TODAY = Behaviour()
"""The template user's behaviour before the mix: a genre opener, volunteering everything."""


def draw_behaviour(mix: BehaviourMix, rng: random.Random) -> Behaviour:
    """A seeded user's behaviour, following the mix's shares.

    >>> mix = behaviour_mix([SeekerMove("d", 2, "opener", True, titles=True)])
    >>> draw_behaviour(mix, random.Random(0)).opener
    'titles'
    """
    r = rng.random()
    opener: OpenerStyle = (
        "vague"
        if r < mix.opener_vague
        else "genre"
        if r < mix.opener_vague + mix.opener_genre
        else "titles"
    )
    return Behaviour(opener, volunteers=rng.random() >= mix.only_reacts,
                     dislikes_unprompted=rng.random() < mix.dislike_unprompted)


__all__ = [
    "TODAY",
    "Behaviour",
    "BehaviourMix",
    "OpenerStyle",
    "SeekerMove",
    "behaviour_mix",
    "draw_behaviour",
    "opener_style",
]

"""Elicitation: the one question, if any, worth asking alongside this turn's recommendations — the
attribute whose answer best splits the candidate pool's score mass — worded in a few words.

The policy chooses; an LLM (when there is one) may only rephrase. Never the same attribute twice.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from genrec.agent.rationales.evidence import item_nouns
from genrec.agent.state import DialogueState
from genrec.data import Catalog

ATTRIBUTES = ("example", "genre", "decade")
"""What the agent can ask about: a title the user loved, the genre, the decade."""
MIN_ENTROPY_BITS = 1.0
"""Ask about an attribute only when the pool's score mass over its values has at least this
entropy (1 bit: two equally likely answers); below it the answer would change little."""
FEW_TITLES = 2
"""With fewer liked titles than this, ask for one: the ranker learns most from titles."""
POOL = 50
"""Candidates (best first) whose score mass the question splits."""


@dataclass(frozen=True)
class Question:
    """One question: the attribute it asks about, its text, and likely answers (for buttons)."""

    attribute: str
    text: str
    options: list[str] = field(default_factory=list)
    entropy: float = 0.0


class ScoredItem(Protocol):
    """A candidate as the question policy sees it: an item id and its fused score."""

    @property
    def item_id(self) -> int: ...

    @property
    def score(self) -> float: ...


def _decade(year: int | None) -> int | None:
    return (year // 10) * 10 if year else None


def score_mass(candidates: Sequence[ScoredItem], catalog: Catalog, attribute: str
               ) -> dict[str | int, float]:
    """The pool's score mass per value of `attribute` (an item's mass is split over its genres).

    Scores are shifted to be positive, so the best candidate weighs most.

    >>> from types import SimpleNamespace as C
    >>> from genrec.data import Catalog, Item
    >>> cat = Catalog([Item(1, "A", 1995, ("Comedy",)), Item(2, "B", 1985, ("Comedy", "Drama"))])
    >>> score_mass([C(item_id=1, score=1.0), C(item_id=2, score=0.0)], cat, "genre")
    {'Comedy': 2.5, 'Drama': 0.5}
    """
    if not candidates:
        return {}
    low = min(float(c.score) for c in candidates)
    top = max(float(c.score) for c in candidates)
    span = (top - low) or 1.0
    mass: dict[str | int, float] = defaultdict(float)
    for c in candidates:
        it = catalog.get(c.item_id)
        if it is None:
            continue
        w = 1.0 + (float(c.score) - low) / span
        if attribute == "genre":
            for g in it.genres:
                mass[g] += w / len(it.genres)
        elif attribute == "decade":
            d = _decade(it.year)
            if d is not None:
                mass[d] += w
    return dict(mass)


def entropy(mass: Mapping[str, float] | Mapping[int, float] | Mapping[str | int, float]
            ) -> float:
    """Shannon entropy (bits) of a mass distribution.

    >>> entropy({"a": 1.0, "b": 1.0}), entropy({"a": 2.0}), entropy({})
    (1.0, 0.0, 0.0)
    """
    total = sum(mass.values())
    if total <= 0:
        return 0.0
    return abs(sum(v / total * math.log2(v / total) for v in mass.values() if v > 0))


def _open(state: DialogueState, attribute: str) -> bool:
    """Whether the user has not said anything about `attribute` yet (and it was not asked)."""
    if attribute in state.asked:
        return False
    if attribute == "genre":
        return not (state.wanted_genres or state.preferred_genres)
    if attribute == "decade":
        return not (
            state.preferred_decades or state.year_min is not None or state.year_max is not None
        )
    return len(state.liked) < FEW_TITLES


def _label(attribute: str, value: str | int) -> str:
    return f"the {value}s" if attribute == "decade" else str(value).lower()


TEXTS = {
    "example": "Is there a film you loved that I should know about?",  # "a book" on a books catalog
    "genre": "Which genre are you in the mood for?",
    "decade": "Any particular decade you'd like?",
}
"""How each question reads: short, answerable in a few words."""


def choose_question(state: DialogueState, candidates: Sequence[ScoredItem], catalog: Catalog,
                    attributes: Sequence[str] = ATTRIBUTES) -> Question | None:
    """The question to ask this turn, or None.

    A title first while fewer than `FEW_TITLES` liked titles are known; otherwise the genre or
    decade (whichever is still open) whose values split the top `POOL` candidates' score mass
    with the highest entropy, if at least `MIN_ENTROPY_BITS`. Each attribute is asked once; only
    `attributes` are asked about.
    """
    if "example" in attributes and _open(state, "example"):
        noun, _ = item_nouns(catalog)
        one = "another" if state.liked else ("an" if noun[0] in "aeiou" else "a")
        return Question(
            "example",
            TEXTS["example"].replace("a film", f"{one} {'film' if noun == 'movie' else noun}"),
        )
    pool = list(candidates)[:POOL]
    best: Question | None = None
    for attribute in ("genre", "decade"):
        if attribute not in attributes or not _open(state, attribute):
            continue
        mass = score_mass(pool, catalog, attribute)
        h = entropy(mass)
        if h < MIN_ENTROPY_BITS or (best is not None and h <= best.entropy):
            continue
        top = [_label(attribute, v) for v, _ in sorted(mass.items(), key=lambda kv: -kv[1])[:4]]
        best = Question(attribute, TEXTS[attribute], top, h)
    return best


__all__ = ["ATTRIBUTES", "MIN_ENTROPY_BITS", "Question", "choose_question", "entropy", "score_mass"]

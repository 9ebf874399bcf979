"""How well known each catalog item is, as evidence for reading titles: among films of one name the
one people mean, and the obscure films a common word names only with a clear sign a film is meant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

DOMINANCE = 3
"""A film of a shared name is the one meant when it has this many times the ratings of the next
("The Thing" is the 1982 film, 45 ratings to 4)."""
RARE_FLOOR = 3
"""Fewer ratings than this (or than the catalog's lower quartile, when higher) make a film rare.
Low on purpose: in a small sample of users well-known recent films have few ratings (Insidious
has 3 in MovieLens latest-small), while the films a common word names by chance have 1 or 2."""


@dataclass(frozen=True)
class TitlePrior:
    """Rating counts per item (the ranker's training data) and the count under which a film is
    rare. Without counts (`TitlePrior()`) nothing is rare and no film of a shared name dominates.

    >>> prior = TitlePrior.from_counts({1: 45, 2: 4, 3: 40, 4: 30})
    >>> prior.dominant([1, 2]), prior.dominant([3, 4]), prior.rare(2), prior.rare(99)
    (1, None, True, True)
    >>> TitlePrior().rare(99), TitlePrior().dominant([1, 2])
    (False, None)
    """

    counts: Mapping[int, int] = field(default_factory=dict)
    rare_below: int = 0

    @classmethod
    def from_counts(cls, counts: Mapping[int, int]) -> TitlePrior:
        """The prior of a catalog whose items were rated `counts` times."""
        rated = sorted(c for c in counts.values() if c > 0)
        quartile = rated[len(rated) // 4] if rated else 0
        return cls(dict(counts), max(RARE_FLOOR, quartile))

    def rare(self, item_id: int) -> bool:
        """Is the film too little known to be taken from a common word alone?"""
        return self.counts.get(item_id, 0) < self.rare_below

    def dominant(self, ids: Sequence[int]) -> int | None:
        """The one of several films of a name that people mean, when one stands out; else None."""
        if len(ids) < 2 or not self.counts:
            return None
        ranked = sorted(ids, key=lambda i: -self.counts.get(i, 0))
        top, second = (self.counts.get(i, 0) for i in ranked[:2])
        if self.rare(ranked[0]) or top < DOMINANCE * max(second, 1):
            return None
        return ranked[0]


NO_PRIOR = TitlePrior()
"""No rating counts known: titles are read from the words alone."""

"""A simulated user's voice: real seekers' sentences from the phrasebook where one fits, the
project's phrasings where none does, and which of the two each message's parts came from.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from genrec.evaluation.simulation.phrasebook import Phrasebook


class Voice:
    """What one simulated user says in real seekers' words where a template fits, and which source
    each message's parts came from (`begin`, then `source`).

    >>> from genrec.evaluation.simulation.phrasebook import Template
    >>> v = Voice(Phrasebook([Template("d", 1, "more", "Any other ideas?")]), random.Random(0))
    >>> v.begin(); v.say(("more",)), v.source()
    ('Any other ideas?', 'real')
    """

    def __init__(self, phrasebook: Phrasebook | None, rng: random.Random) -> None:
        self.phrasebook = phrasebook
        self.rng = rng
        self._sources: set[str] = set()
        self._used: set[tuple[str, int]] = set()
        self.asked = False
        """Whether the last real sentence said asks for films now (its genres are a request)."""

    def begin(self) -> None:
        self._sources = set()
        self._used = set()

    def say(self, acts: Sequence[str], *, titles: Sequence[str] = (), genres: Sequence[str] = (),
            polarity: str | None = None, bare: bool = False, asks: bool = False) -> str | None:
        """The first act's real sentence that fits and is not yet in this message, marked real; None
        (nothing marked) when none does. Sentences of slots alone only when `bare` (an answer); only
        sentences that ask for films now when `asks` (a request)."""
        self.asked = False
        if self.phrasebook is None:
            return None
        for act in acts:
            options = [t for t in self.phrasebook.fitting(act, len(titles), len(genres), polarity)
                       if (t.dialog_id, t.utt_id) not in self._used and (bare or not t.bare)
                       and (t.asks or not asks)]
            if options:
                t = options[self.rng.randrange(len(options))]
                self._used.add((t.dialog_id, t.utt_id))
                self._sources.add("real")
                self.asked = t.asks
                return t.fill(list(titles), list(genres))
        return None

    def either(self, real: Callable[[], str | None], template: Callable[[], str]) -> str:
        """The real sentence when there is one, else the template one (marked template)."""
        text = real()
        return self.template(template()) if text is None else text

    def template(self, text: str) -> str:
        """`text`, marked as the template's words."""
        self._sources.add("template")
        return text

    def source(self) -> str:
        """"real", "template" or "mixed" for the parts said since `begin`."""
        return "mixed" if len(self._sources) > 1 else next(iter(self._sources), "template")


__all__ = ["Voice"]

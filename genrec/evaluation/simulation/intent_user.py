"""The intent protocol's simulated user: a template user whose taste comes from its training
ratings and who wants one kind of film tonight, revealed at once, only when asked, or in reactions.

It never writes a held-out title: the intent is said in genre and decade words only.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from genrec.data import Catalog
from genrec.evaluation.protocols.intent import Intent, Reveal
from genrec.evaluation.simulation.persona import Persona
from genrec.evaluation.simulation.phrasebook import Phrasebook
from genrec.evaluation.simulation.phrasings import a_genre, as_sentence, decade_word, genre_word
from genrec.evaluation.simulation.target_phrasings import question_kinds, question_part
from genrec.evaluation.simulation.template_user import TemplateSimulator
from genrec.evaluation.simulation.user import Stated, Utterance

TASTE_KINDS = ("liked", "avoid", "disliked")
"""What the user says about its taste besides tonight's intent (its training ratings)."""

SAY_INTENT = (
    "i'm in the mood for {a} tonight",
    "looking for {a} to watch tonight",
    "tonight i feel like {a}",
    "could you find me {a}? that's what i want tonight",
)
SAY_INTENT_DECADE = (
    "i'm in the mood for {a} from the {d}s tonight",
    "tonight i fancy {a}, ideally one from the {dw}",
    "something {g} from the {d}s would be perfect tonight",
)
SAY_MOOD = {
    "Comedy": ("something funny tonight", "i need a laugh tonight, something funny"),
    "Horror": ("something scary tonight",),
    "Romance": ("something romantic tonight",),
    "Thriller": ("something suspenseful tonight, a thriller maybe",),
    "Action": ("something action packed tonight",),
    "Sci-Fi": ("some sci-fi tonight",),
}
"""Moods a person uses instead of the genre's name (said a third of the time where there is one)."""
ANSWER_VAGUE = (
    "not sure really, surprise me",
    "hmm, i don't know. anything good?",
    "no idea tbh, show me a few and i'll tell you",
)
"""A reactions-only user asked about its mood: it cannot say (it only knows it when it sees it)."""
NOT_TONIGHT = (
    "not in the mood for {a} tonight",
    "hmm, no {g} tonight",
    "these look like {g}, not what i'm after tonight",
)
"""A reactions-only user turns down a shown list with nothing of tonight's kind in it."""


class IntentUser:
    """A simulated user with tonight's intent (see the module docstring).

    Its taste (liked and disliked titles, avoided genres) comes from the persona; its opinions on
    shown items it has not seen follow tonight's intent (an item of that kind "sounds good").

    >>> from genrec.data import Item
    >>> cat = Catalog([Item(1, "Heat", 1995, ("Action",)), Item(2, "Babe", 1995, ("Comedy",))])
    >>> p = Persona(liked=(1,), disliked=(), ratings={1: 5.0}, favourite_genres=("Action",))
    >>> u = IntentUser(p, cat, Intent("Comedy"), "at_once", seed=3)
    >>> print(u.opening().text)  # doctest: +NORMALIZE_WHITESPACE
    Hi! Can you recommend me a movie? For example, I thought "Heat" was great.
    I need a laugh tonight, something funny.
    >>> u.stated.requested_genres
    ['Comedy']
    """

    name = "intent"

    def __init__(
        self,
        persona: Persona,
        catalog: Catalog,
        intent: Intent,
        reveal: Reveal,
        *,
        seed: int = 0,
        phrasing: str = "template",
        phrasebook: Phrasebook | None = None,
    ) -> None:
        self.intent = intent
        self.reveal = reveal
        self.catalog = catalog
        self.rng = random.Random(seed * 31 + 7)
        tonight = replace(
            persona, favourite_genres=(intent.genre,),
            decades=(intent.decade,) if intent.decade is not None else (),
            avoided_genres=tuple(g for g in persona.avoided_genres if g != intent.genre),
            low_genres=tuple(g for g in persona.low_genres if g != intent.genre))
        self._base = TemplateSimulator(
            tonight, catalog, seed=seed, kinds=TASTE_KINDS, request_rate=0.0,
            phrasing=phrasing, phrasebook=phrasebook,
        )
        self.stated: Stated = self._base.stated
        """What it has said so far (shared with its taste-telling template user)."""
        self.revealed = False
        self._turned_down: set[str] = set()

    def opening(self) -> Utterance:
        base = self._base.opening()
        if self.reveal != "at_once":
            return base
        said, source = self._say_intent()
        return Utterance(f"{base.text} {as_sentence(said)}", base.named, (*base.facts, "request"),
                         _combined(base.source, source))

    def respond(self, agent_text: str, recommended: Sequence[int], question: bool) -> Utterance:
        asked = question and _asks_kind(agent_text)
        first: list[str] = []
        kinds: list[str] = []
        sources: list[str] = []
        if asked and not self.revealed and self.reveal == "when_asked":
            said, source = self._say_intent(answer=True)
            first.append(as_sentence(said))
            kinds.append("answer")
            sources.append(source)
        elif asked and not self.revealed and self.reveal == "reactions":
            first.append(as_sentence(self._pick(ANSWER_VAGUE)))
            kinds.append("answer")
            sources.append("template")
        if self.reveal == "reactions" and not self.revealed:
            no = self._not_tonight(recommended)
            if no:
                first.append(as_sentence(no))
                kinds.append("opinion")
                sources.append("template")
        base = self._base.respond(agent_text, recommended, question and not first)
        source = base.source
        for other in sources:
            source = _combined(source, other)
        return Utterance(
            " ".join([*first, base.text]).strip(), base.named, (*kinds, *base.facts), source
        )

    # ---- internals

    def _pick(self, options: Sequence[str]) -> str:
        return options[self.rng.randrange(len(options))]

    def _say_intent(self, *, answer: bool = False) -> tuple[str, str]:
        """Tonight's kind of film in words (and their source: real or template), recorded as a
        request (a hard constraint from now on)."""
        g, d = self.intent.genre, self.intent.decade
        self.revealed = True
        s = self.stated
        s.want_genre(g, True)
        s.requested_genres = [g]
        if d is not None:
            s.set_years(d, d + 9)
            return self._pick(SAY_INTENT_DECADE).format(
                a=a_genre(g), g=genre_word(g), d=d, dw=decade_word(d)
            ), "template"
        voice = self._base.voice
        real = voice.say(("answer", "request") if answer else ("request", "opener"), genres=[g],
                         polarity="wanted", bare=answer, asks=True)  # tonight's wish, never a taste
        if real is not None:
            return real, "real"
        moods = SAY_MOOD.get(g)
        if moods and self.rng.random() < 1 / 3:
            return self._pick(moods), "template"
        return self._pick(SAY_INTENT).format(a=a_genre(g)), "template"

    def _not_tonight(self, shown: Sequence[int]) -> str:
        """A genre turned down when nothing shown is of tonight's kind ("" when something is)."""
        items = [
            it for it in (self.catalog.get(int(i)) for i in list(shown)[:10]) if it is not None
        ]
        if not items or any(self.intent.matches(it) for it in items):
            return ""
        counts = Counter(g for it in items for g in it.genres
                         if g != self.intent.genre and g not in self._turned_down)
        if not counts:
            return ""
        genre = min(counts, key=lambda g: (-counts[g], g))
        self._turned_down.add(genre)
        for it in items:
            if genre in it.genres and self.intent.genre not in it.genres:
                self.stated.react_unseen(it.item_id, False)
        self.stated.want_genre(genre, False)
        return self._pick(NOT_TONIGHT).format(a=a_genre(genre), g=genre_word(genre))


_ASKS_MOOD = re.compile(
    r"\b(tonight|in the mood|feel like|looking for|what would you like|after)\b", re.I
)


def _asks_kind(agent_text: str) -> bool:
    """Does the agent's question ask what kind of film the user wants (genre, mood, tonight)?

    >>> _asks_kind("What are you in the mood for tonight?"), _asks_kind("Any actors you like?")
    (True, False)
    """
    q = question_part(agent_text)
    return "genre" in question_kinds(q) or bool(_ASKS_MOOD.search(q))


def _combined(a: str, b: str) -> str:
    """The source of a message whose parts came from `a` and `b` (real, template or mixed)."""
    return a if a == b else "mixed"


__all__ = ["IntentUser", "TASTE_KINDS"]

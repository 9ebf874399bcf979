"""The template simulated user: seeded, rule-based, revealing one or two facts a turn and reacting
to every list it is shown. It knows only its `Persona` (training ratings) and the public catalog.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from genrec.data import Catalog
from genrec.evaluation.simulation import phrasings as P
from genrec.evaluation.simulation.behaviour_mix import TODAY, Behaviour, draw_behaviour
from genrec.evaluation.simulation.persona import Persona
from genrec.evaluation.simulation.phrasebook import Phrasebook
from genrec.evaluation.simulation.phrasings import a_genre, and_list, decade_word, genre_word
from genrec.evaluation.simulation.reactions import ListReactor
from genrec.evaluation.simulation.target_phrasings import question_part
from genrec.evaluation.simulation.user import Stated, Utterance, mentionable
from genrec.evaluation.simulation.voice import Voice

FACT_KINDS = ("genre", "liked", "avoid", "decade", "disliked", "request")
"""What a template user may reveal; `TemplateSimulator(kinds=...)` keeps a subset (ablations)."""
PHRASING_SOURCES = ("template", "real")
"""Whose words one simulated user speaks (`phrasing_for_user` picks one per user for "mixed")."""


@dataclass
class _Fact:
    kind: str  # genre | liked | avoid | decade | disliked | request
    value: Any


class TemplateSimulator:
    """A deterministic simulated user: reveals one or two facts a turn in varied phrasings.

    Turn 1 names its favourite genres and a liked title; later turns add liked titles, a genre it
    avoids, its favourite decade, a title it disliked, and sometimes a request ("a comedy from the
    80s": a favourite genre and decade, recorded as hard constraints). It answers clarifying
    questions with the fact the question asks for. It reacts to every shown item it rated in
    training ("I've seen A and B: loved A, B was meh") and gives an opinion, from its persona
    alone, on some shown items it has not seen ("number 3 sounds good", "not in the mood for a
    western"), referring to those by list position. It never writes the title of an item it did
    not rate in training.

    With `phrasing="real"` it says each of these in a real seeker's sentence from the `phrasebook`
    where one fits (the slots' polarity is what it means: a "disliked" template never carries a
    liked title), else in the phrasing above; it then also behaves as the phrasebook's dialogues
    do (`behaviour`: how it opens, whether it volunteers tastes and dislikes unasked).

    >>> from genrec.data import Catalog, Item
    >>> cat = Catalog([Item(1, "Heat", 1995, ("Action",)), Item(2, "Babe", 1995, ("Comedy",))])
    >>> sim = TemplateSimulator(Persona(liked=(1,), disliked=(), ratings={1: 5.0},
    ...                         favourite_genres=("Action",)), cat, seed=1)
    >>> sim.opening().named
    (1,)
    """

    name = "template"

    def __init__(
        self,
        persona: Persona,
        catalog: Catalog,
        *,
        seed: int = 0,
        facts_per_turn: int = 2,
        kinds: Sequence[str] = FACT_KINDS,
        request_rate: float = 0.5,
        phrasing: str = "template",
        phrasebook: Phrasebook | None = None,
    ) -> None:
        if phrasing not in PHRASING_SOURCES:
            raise ValueError(
                f"phrasing {phrasing!r}: one user speaks one of {', '.join(PHRASING_SOURCES)} "
                "(pick one per user with phrasing_for_user)"
            )
        if phrasing == "real" and phrasebook is None:
            raise ValueError(
                "phrasing='real' needs a phrasebook "
                "(genrec.evaluation.simulation.phrasebook_corpus.load_phrasebook)"
            )
        self.persona = persona
        self.catalog = catalog
        self.rng = random.Random(seed)
        self.facts_per_turn = max(1, facts_per_turn)
        self.stated = Stated()
        self.phrasing = phrasing
        real = (
            phrasebook.safe_for(catalog) if phrasebook is not None and phrasing == "real" else None
        )
        self.voice = Voice(
            real, random.Random(seed * 7_919 + 104_729)
        )  # its own draws: facts stay the same
        self.behaviour: Behaviour = (
            draw_behaviour(real.mix(), random.Random(seed * 6_151 + 3)) if real else TODAY
        )
        self._ok = ok = mentionable(catalog)
        self._reactor = ListReactor(
            persona,
            catalog,
            self.stated,
            self.rng,
            ok,
            negations="avoid" in kinds,
            decades="decade" in kinds,
            voice=self.voice,
        )
        liked = [i for i in persona.liked if ok(i)]
        disliked = [i for i in persona.disliked if ok(i)]
        q: list[_Fact] = []
        fav = list(persona.favourite_genres)
        if fav:
            q.append(_Fact("genre", fav[:2]))
        q += [_Fact("liked", i) for i in liked[:2]]
        if persona.avoided_genres:
            q.append(_Fact("avoid", persona.avoided_genres[0]))
        q += [_Fact("liked", i) for i in liked[2:3]]
        if persona.decades:
            q.append(_Fact("decade", persona.decades[0]))
        q += [_Fact("disliked", i) for i in disliked[:1]]
        q += [_Fact("liked", i) for i in liked[3:5]]
        if len(fav) > 2:
            q.append(_Fact("genre", fav[2:3]))
        q += [_Fact("avoid", g) for g in persona.avoided_genres[1:2]]
        q += [_Fact("liked", i) for i in liked[5:12]]
        q += [_Fact("disliked", i) for i in disliked[1:3]]
        if fav and self.rng.random() < request_rate:  # "a comedy from the 80s", at a seeded turn
            genre = fav[self.rng.randrange(min(2, len(fav)))]
            decade = persona.decades[0] if persona.decades else None
            q.insert(min(len(q), self.rng.randint(1, 4)), _Fact("request", (genre, decade)))
        unknown = set(kinds) - set(FACT_KINDS)
        if unknown:
            raise ValueError(
                f"unknown fact kinds {sorted(unknown)}; known: {', '.join(FACT_KINDS)}"
            )
        self._queue = [f for f in q if f.kind in kinds]
        if self.behaviour.opener == "titles":  # its liked titles first, its genres later
            self._queue.sort(key=lambda f: f.kind != "liked")

    def _volunteered(self, f: _Fact) -> bool:
        """Whether it says this fact unasked (its behaviour may keep dislikes for when it is
        asked)."""
        return self.behaviour.dislikes_unprompted or f.kind not in ("avoid", "disliked")

    # ---- public API

    def opening(self) -> Utterance:
        v = self.voice
        v.begin()
        facts = self._take(self.facts_per_turn if self.behaviour.opener != "vague" else 0)
        parts: list[str] = []
        named: list[int] = []
        kinds: list[str] = []
        if facts and facts[0].kind == "genre":
            g = facts.pop(0)
            parts.append(
                v.either(
                    lambda: v.say(("opener",), genres=g.value, polarity="wanted", bare=True),
                    lambda: self._pick(P.OPEN_GENRES).format(
                        g=and_list([genre_word(x) for x in g.value])
                    ),
                )
            )
            self._record(g)
            self._asked_for(g.value)
            kinds.append("genre")
        else:
            parts.append(v.either(lambda: v.say(("opener",)), lambda: self._pick(P.OPEN_PLAIN)))
        for f in facts:
            parts.append(self._say(f, named))
            kinds.append(f.kind)
        return Utterance(_join(parts, v.source()), tuple(named), tuple(kinds), v.source())

    def respond(self, agent_text: str, recommended: Sequence[int], question: bool) -> Utterance:
        v = self.voice
        v.begin()
        parts: list[str] = []
        named: list[int] = []
        kinds: list[str] = []
        reaction = self._reactor.react(list(recommended))
        reacted = bool(reaction.parts)
        parts += reaction.parts
        named += reaction.named
        kinds += reaction.kinds
        n = self.facts_per_turn if not reacted else max(1, self.facts_per_turn - 1)
        meant = self._disambiguate(question_part(agent_text)) if question else None  # not the list
        first: _Fact | None = None  # the fact a question asked for, said as an answer
        if meant is not None:
            it = self.catalog[meant]
            parts.append(v.template(self._pick(P.I_MEANT).format(t=it.title, y=it.year or "")))
            named.append(meant)
            kinds.append("answer")
            facts = self._take(n - 1)
        elif question or not recommended:
            wanted = _question_kind(question_part(agent_text))  # the question asked, not the list
            first = self._take_kind(wanted) if wanted else None
            if first is None and wanted == "genre" and self.stated.wanted_genres:
                said = list(self.stated.wanted_genres)
                parts.append(
                    v.either(
                        lambda: v.say(
                            ("answer", "taste"), genres=said, polarity="wanted", bare=True
                        ),
                        lambda: self._pick(P.RESTATE_GENRES).format(
                            g=and_list([genre_word(g) for g in said])
                        ),
                    )
                )
                kinds.append("answer")
            unasked = (
                n - (1 if first else 0)
                if self.behaviour.volunteers
                else int(first is None and not parts)
            )
            facts = ([first] if first else []) + self._take(unasked)
            if first:
                kinds.append("answer")
        else:
            facts = self._take(n if self.behaviour.volunteers else 0)
        for f in facts:
            parts.append(self._say(f, named, answer=f is first))
            kinds.append(f.kind)
        if not facts and not parts:
            parts.append(self._more(P.NOTHING_LEFT if not self._queue else P.MORE))
        elif recommended and self.rng.random() < 0.5:
            parts.append(self._more(P.MORE))
        return Utterance(_join(parts, v.source()), tuple(named), tuple(kinds), v.source())

    # ---- internals

    def _pick(self, options: Sequence[str]) -> str:
        return options[self.rng.randrange(len(options))]

    def _more(self, options: Sequence[str]) -> str:
        """Asks for more ("any other ideas?"); a real seeker's words for MORE, never for
        NOTHING_LEFT."""
        v = self.voice
        if options is not P.MORE:
            return v.template(self._pick(options))
        return v.either(lambda: v.say(("more",)), lambda: self._pick(options))

    def _take(self, n: int) -> list[_Fact]:
        self._drop_said()
        out: list[_Fact] = []
        rest: list[_Fact] = []
        for f in self._queue:
            (out if len(out) < n and self._volunteered(f) else rest).append(f)
        self._queue = rest
        return out

    def _drop_said(self) -> None:
        """Forget queued facts already said (e.g. in a reaction to a recommendation)."""
        s = self.stated
        said: dict[str, set[Any]] = {
            "liked": set(s.seen),
            "disliked": set(s.seen),
            "avoid": set(s.avoided_genres),
            "decade": set(s.preferred_decades),
        }
        self._queue = [f for f in self._queue if f.kind not in said or f.value not in said[f.kind]]

    def _take_kind(self, kind: str) -> _Fact | None:
        self._drop_said()
        for j, f in enumerate(self._queue):
            if f.kind == kind:
                return self._queue.pop(j)
        return None

    def _record(self, f: _Fact) -> None:
        s = self.stated
        if f.kind == "genre":
            for g in f.value:
                s.want_genre(g, True)
        elif f.kind == "avoid":
            s.want_genre(f.value, False)
        elif f.kind == "decade":
            s.prefer_decade(f.value)
        elif f.kind == "request":
            genre, decade = f.value
            s.want_genre(genre, True)
            s.requested_genres = [genre]
            if decade is not None:
                s.set_years(decade, decade + 9)
        elif f.kind == "liked":
            s.add_item(f.value, "liked")
            s.add_item(f.value, "seen")
        elif f.kind == "disliked":
            s.add_item(f.value, "disliked")
            s.add_item(f.value, "seen")

    def _asked_for(self, genres: Sequence[str]) -> None:
        """A real sentence that asked for its genres now ("any good comedies?") made them the
        request in force, as a person's words would (what the constrained peer obeys and the agent
        reads)."""
        if self.voice.asked:
            self.stated.requested_genres = list(genres)

    def _say(self, f: _Fact, named: list[int], *, answer: bool = False) -> str:
        """One fact as a sentence (a real seeker's where one fits and says exactly this fact)."""
        self._record(f)
        v = self.voice
        acts = ("answer", "taste") if answer else ("taste", "answer")
        if f.kind == "genre":
            said = v.either(
                lambda: v.say(acts, genres=f.value, polarity="wanted", bare=answer),
                lambda: self._pick(P.MORE_GENRE).format(
                    g=and_list([genre_word(x) for x in f.value])
                ),
            )
            self._asked_for(f.value)
            return said
        if f.kind == "avoid":
            return v.either(lambda: v.say(acts, genres=[f.value], polarity="avoided", bare=answer),
                            lambda: self._pick(P.AVOID).format(g=genre_word(f.value)))
        if f.kind == "request":
            genre, decade = f.value
            if decade is None:
                return v.either(lambda: v.say(("request",), genres=[genre], polarity="wanted"),
                                lambda: self._pick(P.REQUEST_GENRE).format(a=a_genre(genre)))
            # no real request says a decade: the template's words
            return v.template(
                self._pick(P.REQUEST).format(a=a_genre(genre), d=decade, dw=decade_word(decade))
            )
        if f.kind == "decade":
            return v.template(self._pick(P.DECADE).format(d=f.value))
        named.append(f.value)
        title = self.catalog[f.value].title
        return v.either(
            lambda: v.say(acts, titles=[title], polarity=f.kind, bare=answer),
            lambda: self._pick(P.LIKED if f.kind == "liked" else P.DISLIKED).format(t=title),
        )

    def _disambiguate(self, agent_text: str) -> int | None:
        """The item it named that a "which one did you mean" question lists, if any."""
        if not re.search(r"\b(which|did you mean|do you mean)\b", agent_text or "", re.I):
            return None
        low = agent_text.casefold()
        for i in reversed(self.stated.seen):
            it = self.catalog.get(i)
            if it is not None and it.year and f"{it.title} ({it.year})".casefold() in low:
                return i
        return None


_QUESTION_KINDS = (
    ("avoid", re.compile(r"\b(avoid|dislike|don't like|do not like|hate|skip)\b", re.I)),
    ("genre", re.compile(r"\b(genres?|kind|type|mood|sort)\b", re.I)),
    ("decade", re.compile(r"\b(years?|decades?|era|old|recent|new|classic)\b", re.I)),
    (
        "liked",
        re.compile(
            r"\b(liked?|love[d]?|favou?rites?|enjoy(ed)?|example|titles?|movies? you)\b", re.I
        ),
    ),
)


def _join(parts: Sequence[str], source: str) -> str:
    """One message: the parts as today's phrasings join them; real sentences get a closing stop."""
    if source == "template":
        return " ".join(parts)
    ended = (
        p.strip() if p.strip().endswith((".", "!", "?")) else p.strip() + "."
        for p in parts
        if p.strip()
    )
    return " ".join(p[0].upper() + p[1:] for p in ended)


def _question_kind(text: str) -> str | None:
    """Which fact a clarifying question asks for (None when it is unclear)."""
    for kind, rx in _QUESTION_KINDS:
        if rx.search(text or ""):
            return kind
    return None


__all__ = ["FACT_KINDS", "TemplateSimulator"]

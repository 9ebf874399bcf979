"""Simulated users that talk to the agent: a seeded `template` one and an `llm` persona one.

A simulator knows only its `Persona` (training ratings) and the public catalog, never held-out data.
"""

from __future__ import annotations

import logging
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from genrec.data import Catalog
from genrec.evaluation.persona import Persona

log = logging.getLogger(__name__)

SIMULATORS = ("template", "llm")
FACT_KINDS = ("genre", "liked", "avoid", "decade", "disliked")
"""What a template user may reveal; `TemplateSimulator(kinds=...)` keeps a subset (ablations)."""


class UnknownSimulatorError(ValueError):
    """A simulator name that is not one of `SIMULATORS`."""


@dataclass
class Stated:
    """Everything the simulated user has said so far (cumulative, in order of first mention)."""

    liked: list[int] = field(default_factory=list)
    """Items named as liked (favourites, or recommendations it had seen and liked)."""
    disliked: list[int] = field(default_factory=list)
    """Items named as disliked."""
    seen: list[int] = field(default_factory=list)
    """Every item it said it has already seen (liked, disliked or neutral)."""
    wanted_genres: list[str] = field(default_factory=list)
    avoided_genres: list[str] = field(default_factory=list)
    """Genres it asked not to get (hard constraints)."""
    decades: list[int] = field(default_factory=list)
    """Decades it said it prefers (soft preference)."""
    year_min: int | None = None
    """Hard year bounds it asked for (the template simulator states none)."""
    year_max: int | None = None

    @property
    def mentioned(self) -> list[int]:
        return list(dict.fromkeys([*self.liked, *self.disliked, *self.seen]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "liked": list(self.liked), "disliked": list(self.disliked), "seen": list(self.seen),
            "wanted_genres": list(self.wanted_genres), "avoided_genres": list(self.avoided_genres),
            "decades": list(self.decades), "year_min": self.year_min, "year_max": self.year_max,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Stated:
        return cls(**{k: d.get(k, getattr(cls(), k)) for k in cls.__dataclass_fields__})

    def _add(self, lst: list, value: Any) -> None:
        if value not in lst:
            lst.append(value)


@dataclass(frozen=True)
class Utterance:
    """One user message and the items it named (for the leakage guard and the fold-in baseline)."""

    text: str
    named: tuple[int, ...] = ()
    """Catalog ids of every title the message names (all from the user's training ratings)."""
    facts: tuple[str, ...] = ()
    """Kinds of fact revealed: genre, liked, avoid, decade, disliked, reaction, answer."""


class UserSimulator(Protocol):
    """A simulated user: opens the conversation, then answers each agent reply."""

    name: str
    stated: Stated

    def opening(self) -> Utterance: ...

    def respond(self, agent_text: str, recommended: Sequence[int], question: bool) -> Utterance: ...


def genre_word(genre: str) -> str:
    """How a user writes a genre in a sentence: lower case, a few spelled out."""
    return {"Sci-Fi": "sci-fi", "Film-Noir": "film noir", "Children's": "children's"}.get(
        genre, genre.lower()
    )


def mentionable(catalog: Catalog) -> Callable[[int], bool]:
    """Items a user can name unambiguously: a real title that no other catalog item shares."""
    counts = Counter(it.title.casefold() for it in catalog)

    def ok(item_id: int) -> bool:
        it = catalog.get(item_id)
        return bool(it and it.title.casefold() not in ("unknown", "untitled") and counts[it.title.casefold()] == 1)

    return ok


# --------------------------------------------------------------------------- phrasings
# Genres are always written in lower case and titles always in double quotes, so that no
# template word can be mistaken for a (capitalised, one-word) catalog title.

_OPEN_GENRES = (
    "Hi! I'm looking for a movie to watch. I usually enjoy {g}.",
    "Hello, can you recommend some films? I'm a big fan of {g}.",
    "Hey, I want something good to watch tonight, ideally {g}.",
    "I'd like some movie recommendations. I mostly watch {g}.",
    "Looking for a film suggestion: {g} is what I like most.",
)
_OPEN_PLAIN = (
    "Hi! Can you recommend me a movie?",
    "Hello, I need something to watch tonight.",
)
_MORE_GENRE = (
    "I also like {g}.",
    "Some {g} would be fine too.",
    "I'm open to {g} as well.",
)
_LIKED = (
    'I really enjoyed "{t}".',
    'One of my favourites is "{t}".',
    'I loved "{t}", something along those lines would be great.',
    '"{t}" is a film I rate highly.',
    'I liked "{t}" a lot.',
    'For example, I thought "{t}" was great.',
)
_AVOID = (
    "Please no {g}, it's not for me.",
    "I'm not into {g} at all.",
    "I'd rather avoid {g}.",
    "Nothing {g}, please.",
)
_DECADE = (
    "I tend to enjoy films from the {d}s.",
    "Most of my favourites are from the {d}s.",
    "I have a soft spot for movies from the {d}s.",
)
_DISLIKED = (
    'I did not like "{t}" at all.',
    'I found "{t}" pretty bad.',
    '"{t}" was a letdown for me.',
)
_SEEN_LIKED = (
    'I have already seen "{t}" and liked it.',
    'Seen "{t}" already, it was good.',
    'I know "{t}", I enjoyed it.',
)
_SEEN_DISLIKED = (
    'I saw "{t}" and did not like it.',
    'I have seen "{t}", not a fan.',
)
_SEEN_NEUTRAL = (
    'I have seen "{t}" already, it was ok.',
    'Already watched "{t}", it was fine.',
)
_SEEN_LIKED_MANY = (
    "I have already seen {ts} and liked them.",
    "Seen {ts} already, they were good.",
)
_SEEN_DISLIKED_MANY = (
    "I saw {ts} and did not like them.",
    "I have seen {ts}, not a fan of those.",
)
_SEEN_NEUTRAL_MANY = (
    "I have seen {ts} already, they were ok.",
)
_NOT_MY_THING = (
    "Some of these are {g}, which is not really my thing.",
    "I'd skip the {g} ones.",
)
_MORE = (
    "What else would you suggest?",
    "Any other ideas?",
    "Can you show me a few more?",
    "Those look interesting. What else is there?",
)
_RESTATE_GENRES = (
    "As I said, I like {g}.",
    "Mostly {g}.",
)
_I_MEANT = (
    'I meant "{t}" ({y}).',
    'The one from {y}: "{t}".',
)
_NOTHING_LEFT = (
    "That's all I can think of. What would you recommend?",
    "I think you know my taste by now. Any other suggestions?",
)


def _and(words: Sequence[str]) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# --------------------------------------------------------------------------- template simulator


@dataclass
class _Fact:
    kind: str  # genre | liked | avoid | decade | disliked
    value: Any


class TemplateSimulator:
    """A deterministic simulated user: reveals one or two facts a turn in varied phrasings.

    Turn 1 names its favourite genres and a liked title; later turns add liked titles, a genre it
    avoids, its favourite decade, a title it disliked. It answers clarifying questions with the
    fact the question asks for and reacts to recommendations only from what it knows: titles it
    rated in training ("I have already seen X and liked it") and genres it avoids (without naming
    the titles it has not rated). It never names an item it did not rate in training.

    >>> from genrec.data import Catalog, Item
    >>> cat = Catalog([Item(1, "Heat", 1995, ("Action",)), Item(2, "Babe", 1995, ("Comedy",))])
    >>> sim = TemplateSimulator(Persona(liked=(1,), disliked=(), ratings={1: 5.0},
    ...                         favourite_genres=("Action",)), cat, seed=1)
    >>> sim.opening().named
    (1,)
    """

    name = "template"

    def __init__(self, persona: Persona, catalog: Catalog, *, seed: int = 0, facts_per_turn: int = 2,
                 max_reactions: int = 4, kinds: Sequence[str] = FACT_KINDS) -> None:
        self.persona = persona
        self.max_reactions = max_reactions
        self.catalog = catalog
        self.rng = random.Random(seed)
        self.facts_per_turn = max(1, facts_per_turn)
        self.stated = Stated()
        self._reacted: set[int] = set()
        self._ok = ok = mentionable(catalog)
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
        unknown = set(kinds) - set(FACT_KINDS)
        if unknown:
            raise ValueError(f"unknown fact kinds {sorted(unknown)}; known: {', '.join(FACT_KINDS)}")
        self._queue = [f for f in q if f.kind in kinds]

    # ---- public API

    def opening(self) -> Utterance:
        facts = self._take(self.facts_per_turn)
        parts: list[str] = []
        named: list[int] = []
        kinds: list[str] = []
        if facts and facts[0].kind == "genre":
            g = facts.pop(0)
            parts.append(self._pick(_OPEN_GENRES).format(g=_and([genre_word(x) for x in g.value])))
            self._record(g)
            kinds.append("genre")
        else:
            parts.append(self._pick(_OPEN_PLAIN))
        for f in facts:
            parts.append(self._say(f, named))
            kinds.append(f.kind)
        return Utterance(" ".join(parts), tuple(named), tuple(kinds))

    def respond(self, agent_text: str, recommended: Sequence[int], question: bool) -> Utterance:
        parts: list[str] = []
        named: list[int] = []
        kinds: list[str] = []
        reaction = self._react(list(recommended), named)
        if reaction:
            parts.append(reaction)
            kinds.append("reaction")
        n = self.facts_per_turn if not reaction else max(1, self.facts_per_turn - 1)
        meant = self._disambiguate(agent_text) if question else None
        if meant is not None:
            it = self.catalog[meant]
            parts.append(self._pick(_I_MEANT).format(t=it.title, y=it.year or ""))
            named.append(meant)
            kinds.append("answer")
            facts = self._take(n - 1)
        elif question or not recommended:
            wanted = _question_kind(agent_text)
            first = self._take_kind(wanted) if wanted else None
            if first is None and wanted == "genre" and self.stated.wanted_genres:
                words = _and([genre_word(g) for g in self.stated.wanted_genres])
                parts.append(self._pick(_RESTATE_GENRES).format(g=words))
                kinds.append("answer")
            facts = ([first] if first else []) + self._take(n - (1 if first else 0))
            if first:
                kinds.append("answer")
        else:
            facts = self._take(n)
        for f in facts:
            parts.append(self._say(f, named))
            kinds.append(f.kind)
        if not facts and not parts:
            parts.append(self._pick(_NOTHING_LEFT if not self._queue else _MORE))
        elif recommended and self.rng.random() < 0.5:
            parts.append(self._pick(_MORE))
        return Utterance(" ".join(parts), tuple(named), tuple(kinds))

    # ---- internals

    def _pick(self, options: Sequence[str]) -> str:
        return options[self.rng.randrange(len(options))]

    def _take(self, n: int) -> list[_Fact]:
        self._drop_said()
        out, self._queue = self._queue[:n], self._queue[n:]
        return out

    def _drop_said(self) -> None:
        """Forget queued titles already named (e.g. in a reaction to a recommendation)."""
        seen = set(self.stated.seen)
        self._queue = [f for f in self._queue if f.kind not in ("liked", "disliked") or f.value not in seen]

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
                s._add(s.wanted_genres, g)
        elif f.kind == "avoid":
            s._add(s.avoided_genres, f.value)
        elif f.kind == "decade":
            s._add(s.decades, f.value)
        elif f.kind == "liked":
            s._add(s.liked, f.value)
            s._add(s.seen, f.value)
        elif f.kind == "disliked":
            s._add(s.disliked, f.value)
            s._add(s.seen, f.value)

    def _say(self, f: _Fact, named: list[int]) -> str:
        self._record(f)
        if f.kind == "genre":
            return self._pick(_MORE_GENRE).format(g=_and([genre_word(x) for x in f.value]))
        if f.kind == "avoid":
            return self._pick(_AVOID).format(g=genre_word(f.value))
        if f.kind == "decade":
            return self._pick(_DECADE).format(d=f.value)
        named.append(f.value)
        title = self.catalog[f.value].title
        return self._pick(_LIKED if f.kind == "liked" else _DISLIKED).format(t=title)

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

    def _react(self, recommended: list[int], named: list[int]) -> str:
        """Say which recommendations it has already seen (from its training ratings, at most
        `max_reactions` titles a turn) and whether some fall in a genre it asked to avoid."""
        ok = self._ok
        recommended = [i for i in recommended if i in self.catalog]
        groups: dict[str, list[int]] = {"liked": [], "disliked": [], "neutral": []}
        n = 0
        s = self.stated
        for i in recommended:
            r = self.persona.rating_of(i)
            if n >= self.max_reactions or r is None or i in self._reacted or not ok(i):
                continue
            n += 1
            self._reacted.add(i)
            s._add(s.seen, i)
            named.append(i)
            if r >= 4:
                s._add(s.liked, i)
                groups["liked"].append(i)
            elif r <= 2:
                s._add(s.disliked, i)
                groups["disliked"].append(i)
            else:
                groups["neutral"].append(i)
        parts: list[str] = []
        for kind, one, many in (("liked", _SEEN_LIKED, _SEEN_LIKED_MANY),
                                ("disliked", _SEEN_DISLIKED, _SEEN_DISLIKED_MANY),
                                ("neutral", _SEEN_NEUTRAL, _SEEN_NEUTRAL_MANY)):
            ids = groups[kind]
            if ids:
                titles = [self.catalog[i].title for i in ids]
                if len(ids) == 1:
                    parts.append(self._pick(one).format(t=titles[0]))
                else:
                    parts.append(self._pick(many).format(ts=_and([f'"{t}"' for t in titles])))
        avoided = set(self.persona.avoided_genres) & set(self.stated.avoided_genres)
        bad = [
            g for i in recommended if self.persona.rating_of(i) is None
            for g in self.catalog[i].genres if g in avoided
        ]
        if bad:
            parts.append(self._pick(_NOT_MY_THING).format(g=genre_word(bad[0])))
        return " ".join(parts)


_QUESTION_KINDS = (
    ("avoid", re.compile(r"\b(avoid|dislike|don't like|do not like|hate|skip)\b", re.I)),
    ("genre", re.compile(r"\b(genres?|kind|type|mood|sort)\b", re.I)),
    ("decade", re.compile(r"\b(years?|decades?|era|old|recent|new|classic)\b", re.I)),
    ("liked", re.compile(r"\b(liked?|love[d]?|favou?rites?|enjoy(ed)?|example|titles?|movies? you)\b", re.I)),
)


def _question_kind(text: str) -> str | None:
    """Which fact a clarifying question asks for (None when it is unclear)."""
    for kind, rx in _QUESTION_KINDS:
        if rx.search(text or ""):
            return kind
    return None


# --------------------------------------------------------------------------- llm simulator


_PERSONA_PROMPT = """You are role-playing a person who is chatting with a movie recommendation assistant.
Stay in character and write only the person's next message: one to three short sentences, no lists.
What you know about your own taste (and nothing else):
- Movies you loved: {liked}
- Movies you disliked: {disliked}
- Favourite genres: {genres}
- Genres you avoid: {avoided}
- You mostly enjoy films from: {decades}
Rules: reveal one or two of these facts per message, starting with your favourite genres and a loved
movie. Never name a movie that is not in the lists above. If the assistant asks a question, answer it.
If it recommends movies you have already seen (see below), say so and whether you liked them."""


_WARNED: set[str] = set()


class LLMSimulator:
    """A simulated user voiced by an LLM from a persona prompt (any backend the agent supports).

    Only training-rated titles are put in the prompt; the titles it names are found in its text
    afterwards (for the fold-in baseline). When the backend cannot generate, it falls back to the
    template simulator for the rest of the conversation (with a warning).
    """

    name = "llm"

    def __init__(self, persona: Persona, catalog: Catalog, *, generate: Callable[[list[dict]], str],
                 seed: int = 0) -> None:
        self.persona = persona
        self.catalog = catalog
        self._generate = generate
        self._fallback = TemplateSimulator(persona, catalog, seed=seed)
        self.stated = self._fallback.stated
        self.failed: str | None = None
        ok = mentionable(catalog)
        self._liked = [i for i in persona.liked if ok(i)][:10]
        self._disliked = [i for i in persona.disliked if ok(i)][:5]
        self._known = {catalog[i].title: i for i in [*self._liked, *self._disliked]}
        self._history: list[dict] = []

    def _system(self, recommended: Sequence[int]) -> str:
        def titles(ids: Sequence[int]) -> str:
            return "; ".join(f'"{self.catalog[i].title}"' for i in ids) or "none"

        text = _PERSONA_PROMPT.format(
            liked=titles(self._liked), disliked=titles(self._disliked),
            genres=", ".join(genre_word(g) for g in self.persona.favourite_genres) or "no strong preference",
            avoided=", ".join(genre_word(g) for g in self.persona.avoided_genres) or "none",
            decades=", ".join(f"the {d}s" for d in self.persona.decades) or "any decade",
        )
        ok = mentionable(self.catalog)
        seen = [(i, self.persona.rating_of(i)) for i in recommended if self.persona.rating_of(i) and ok(i)]
        if seen:
            text += "\nOf the assistant's latest suggestions you have already seen: " + "; ".join(
                f'"{self.catalog[i].title}" (you rated it {r:g}/5)' for i, r in seen
            )
        return text

    def _ask(self, recommended: Sequence[int]) -> Utterance | None:
        if self.failed:
            return None
        messages = [{"role": "system", "content": self._system(recommended)}, *self._history]
        if not self._history:
            messages.append({"role": "user", "content": "(Start the conversation.)"})
        try:
            text = (self._generate(messages) or "").strip()
        except Exception as exc:  # noqa: BLE001 - any backend failure -> template fallback
            text, self.failed = "", f"{type(exc).__name__}: {exc}"
        if not text:
            self.failed = self.failed or "the backend returned no text"
            if self.failed not in _WARNED:  # once per kind of failure, not once per user
                _WARNED.add(self.failed)
                log.warning("llm simulator: %s; falling back to the template simulator", self.failed)
            return None
        named = self._record(text, recommended)
        return Utterance(text, tuple(named), ("llm",))

    def _record(self, text: str, recommended: Sequence[int]) -> list[int]:
        named: list[int] = []
        low = text.casefold()
        s = self.stated
        rec_titles = {self.catalog[i].title: i for i in recommended if self.persona.rating_of(i)}
        for title, i in {**self._known, **rec_titles}.items():
            if title.casefold() in low:
                named.append(i)
                s._add(s.seen, i)
                r = self.persona.rating_of(i) or 3.0
                if r >= 4:
                    s._add(s.liked, i)
                elif r <= 2:
                    s._add(s.disliked, i)
        for g in self.persona.favourite_genres:
            if genre_word(g) in low:
                s._add(s.wanted_genres, g)
        for g in self.persona.avoided_genres:
            if genre_word(g) in low and re.search(r"\b(no|not|avoid|don't|hate|skip)\b", low):
                s._add(s.avoided_genres, g)
        return named

    def opening(self) -> Utterance:
        u = self._ask(())
        if u is None:
            return self._fallback.opening()
        self._history.append({"role": "assistant", "content": u.text})
        return u

    def respond(self, agent_text: str, recommended: Sequence[int], question: bool) -> Utterance:
        if self.failed:
            return self._fallback.respond(agent_text, recommended, question)
        # roles are swapped: the simulator is the "assistant" of its own chat
        self._history.append({"role": "user", "content": agent_text})
        u = self._ask(recommended)
        if u is None:
            return self._fallback.respond(agent_text, recommended, question)
        self._history.append({"role": "assistant", "content": u.text})
        return u


def make_simulator(
    kind: str,
    persona: Persona,
    catalog: Catalog,
    *,
    seed: int = 0,
    generate: Callable[[list[dict]], str] | None = None,
) -> UserSimulator:
    """A simulator by name: `template`, or `llm` (needs `generate`: chat messages -> text)."""
    if kind == "template":
        return TemplateSimulator(persona, catalog, seed=seed)
    if kind == "llm":
        if generate is None:
            log.warning("llm simulator without a text backend; using the template simulator")
            return TemplateSimulator(persona, catalog, seed=seed)
        return LLMSimulator(persona, catalog, generate=generate, seed=seed)
    raise UnknownSimulatorError(f"unknown simulator {kind!r}; known: {', '.join(SIMULATORS)}")


__all__ = [
    "FACT_KINDS", "LLMSimulator", "SIMULATORS", "Stated", "TemplateSimulator", "UnknownSimulatorError",
    "UserSimulator", "Utterance", "genre_word", "make_simulator", "mentionable",
]

"""How a template user reacts to a shown list: every item it rated in TRAINING (by title, with its
verdict) and, from its persona alone, an opinion on some items it has not seen (by list position).

Items it has not seen are never named by title: one of them may be a held-out item, and writing it
would leak; a list position says the same thing to the agent.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from genrec.data import Catalog
from genrec.evaluation.simulation import phrasings as P
from genrec.evaluation.simulation.persona import Persona
from genrec.evaluation.simulation.phrasings import (
    a_genre,
    and_list,
    as_sentence,
    genre_word,
    ordinal,
)
from genrec.evaluation.simulation.user import Stated
from genrec.evaluation.simulation.voice import Voice

MAX_LIKED_UNSEEN = 2
"""At most this many shown items it has not seen get a "sounds good" a turn (a person picks a
few)."""
MAX_AVOIDED_GENRES = 2
"""At most this many avoided genres are turned down a turn (each covers all its shown items)."""


@dataclass
class Reaction:
    """What a user says about one shown list: sentences, titles written, fact kinds."""

    parts: list[str] = field(default_factory=list)
    named: list[int] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)


@dataclass
class ListReactor:
    """Reacts to shown lists for one simulated user; records every fact in `stated`.

    >>> from genrec.data import Item
    >>> cat = Catalog([Item(1, "Heat", 1995, ("Action",)), Item(2, "Babe", 1995, ("Western",)),
    ...                Item(3, "Ronin", 1998, ("Action",))])
    >>> p = Persona(liked=(1,), disliked=(), ratings={1: 5.0}, favourite_genres=("Action",),
    ...             avoided_genres=("Western",))
    >>> r = ListReactor(p, cat, Stated(), random.Random(0), lambda i: True).react([1, 2, 3])
    >>> r.named, r.kinds
    ([1], ['reaction', 'opinion'])
    """

    persona: Persona
    catalog: Catalog
    stated: Stated
    rng: random.Random
    mentionable: Callable[[int], bool]
    negations: bool = True
    """Turn down items of an avoided genre ("not in the mood for a western"); off in ablations
    whose users never state an avoided genre."""
    decades: bool = True
    """Say a favourite decade when it is why an item sounds good; off in ablations without
    decades."""
    reacted: set[int] = field(default_factory=set)
    voice: Voice | None = None
    """Real seekers' sentences where one fits (a real-phrasing user); None: today's phrasings
    only."""

    def _pick(self, options: Sequence[str]) -> str:
        return options[self.rng.randrange(len(options))]

    def _template(self, text: str) -> str:
        """`text` (the project's phrasing), marked as such in the voice's sources."""
        return self.voice.template(text) if self.voice is not None else text

    def react(self, shown: Sequence[int]) -> Reaction:
        """Its reaction to the list `shown` (in the order shown); empty when it has nothing to
        say."""
        shown = [int(i) for i in shown]
        out = Reaction()
        seen = self._seen(shown, out)
        if seen:
            out.parts.append(seen)
            out.kinds.append("reaction")
        opinions = self._opinions(shown)
        if opinions:
            out.parts.extend(opinions)
            out.kinds.append("opinion")
        return out

    # ---- items it rated in training: every one of them

    def _seen(self, shown: list[int], out: Reaction) -> str:
        groups: dict[str, list[str]] = {"liked": [], "disliked": [], "neutral": []}
        everything: list[str] = []
        s = self.stated
        for pos, i in enumerate(shown, start=1):
            r = self.persona.rating_of(i)
            if r is None or i in self.reacted or i not in self.catalog:
                continue
            self.reacted.add(i)
            if self.mentionable(i):
                label = f'"{self.catalog[i].title}"'
                out.named.append(i)
            else:  # a title shared by several items: where it is in the list says which
                label = f"the {ordinal(pos)} one" if pos <= 10 else f"number {pos}"
            s.add_item(i, "seen")
            kind = "liked" if r >= 4 else "disliked" if r <= 2 else "neutral"
            if r >= 4:
                s.add_item(i, "liked")
            elif r <= 2:
                s.add_item(i, "disliked")
            groups[kind].append(label)
            everything.append(label)
        if not everything:
            return ""
        if self.voice is not None and self.voice.phrasebook is not None:
            return self._real_seen(groups)
        if len(everything) > 1 and self.rng.random() < 0.5:
            return self._seen_all(everything, groups)
        parts: list[str] = []
        for kind, one, many in (("liked", P.SEEN_LIKED, P.SEEN_LIKED_MANY),
                                ("disliked", P.SEEN_DISLIKED, P.SEEN_DISLIKED_MANY),
                                ("neutral", P.SEEN_NEUTRAL, P.SEEN_NEUTRAL_MANY)):
            labels = groups[kind]
            if len(labels) == 1:
                parts.append(self._one_seen(one, labels[0]))
            elif labels:
                parts.append(as_sentence(self._pick(many).format(ts=and_list(labels))))
        return " ".join(parts)

    def _one_seen(self, options: Sequence[str], label: str) -> str:
        template = self._pick(options)
        if not label.startswith('"'):
            template = template.replace('"{t}"', "{t}")
        return as_sentence(template.format(t=label.strip('"')))

    def _real_seen(self, groups: dict[str, list[str]]) -> str:
        """A real seeker's sentence a title, saying its verdict ("seen" for so-so ones), where one
        fits and the title is written out; else today's sentence for that title."""
        assert self.voice is not None
        v = self.voice
        parts: list[str] = []
        for kind, one in (
            ("liked", P.SEEN_LIKED),
            ("disliked", P.SEEN_DISLIKED),
            ("neutral", P.SEEN_NEUTRAL),
        ):
            polarity = {"neutral": "seen"}.get(kind, kind)
            for label in groups[kind]:
                real = (
                    v.say(
                        ("reaction", "taste", "answer"),
                        titles=[label.strip('"')],
                        polarity=polarity,
                    )
                    if label.startswith('"')
                    else None
                )
                parts.append(
                    as_sentence(real)
                    if real is not None
                    else self._template(self._one_seen(one, label))
                )
        return " ".join(parts)

    def _seen_all(self, everything: list[str], groups: dict[str, list[str]]) -> str:
        """One sentence: "I've seen A, B and C: loved A and B, C was meh"."""
        verdicts: list[str] = []
        for kind, options in (("liked", P.VERDICT_LIKED), ("disliked", P.VERDICT_DISLIKED),
                              ("neutral", P.VERDICT_NEUTRAL)):
            labels = groups[kind]
            if not labels:
                continue
            if kind == "neutral" and len(labels) > 1:
                options = P.VERDICT_NEUTRAL_MANY
            verdicts.append(self._pick(options).format(ts=and_list(labels)))
        head = self._pick(P.SEEN_ALL).format(ts=and_list(everything))
        return as_sentence(f"{head}: {', '.join(verdicts)}")

    # ---- items it has not seen: an opinion from its persona alone

    def _opinions(self, shown: list[int]) -> list[str]:
        s = self.stated
        said = set(s.interested) | set(s.rejected)
        positive: list[tuple[int, int, int | None]] = []  # (position, item, favourite decade)
        negative: dict[str, list[int]] = {}
        for pos, i in enumerate(shown, start=1):
            it = self.catalog.get(i)
            if it is None or self.persona.rating_of(i) is not None or i in said or pos > 10:
                continue
            op = self.persona.opinion(it)
            if op is None:
                continue
            if op.verdict == "negative" and op.genre and self.negations:
                negative.setdefault(op.genre, []).append(i)
            elif op.verdict == "positive" and (op.genre or self.decades):
                positive.append((pos, i, op.decade))
        parts: list[str] = []
        for genre in list(negative)[:MAX_AVOIDED_GENRES]:
            for i in negative[genre]:
                s.react_unseen(i, False)
            s.want_genre(genre, False)
            real = (
                self.voice.say(("reaction", "taste"), genres=[genre], polarity="avoided")
                if self.voice
                else None
            )
            if real is not None:
                parts.append(as_sentence(real))
                continue
            parts.append(
                self._template(
                    self._pick(P.NOT_IN_THE_MOOD).format(a=a_genre(genre), g=genre_word(genre))
                )
            )
        if positive:
            k = min(len(positive), self.rng.randint(1, MAX_LIKED_UNSEEN))
            chosen = sorted(self.rng.sample(positive, k))
            for _, i, _ in chosen:
                s.react_unseen(i, True)
            if len(chosen) == 1:
                pos, _, decade = chosen[0]
                by_decade = decade is not None and self.decades and self.rng.random() < 0.5
                if by_decade and decade is not None:
                    s.prefer_decade(decade)  # "it's from the 80s, my favourite era": a taste, said
                options = P.SOUNDS_GOOD_DECADE if by_decade else P.SOUNDS_GOOD
                parts.append(
                    self._template(self._pick(options).format(o=ordinal(pos), n=pos, d=decade))
                )
            else:
                many = self._pick(P.SOUNDS_GOOD_MANY).format(
                    ns=and_list([str(p) for p, _, _ in chosen])
                )
                parts.append(self._template(many))
        return parts


__all__ = ["MAX_AVOIDED_GENRES", "MAX_LIKED_UNSEEN", "ListReactor", "Reaction"]

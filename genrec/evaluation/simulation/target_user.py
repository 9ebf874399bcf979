"""The target-seeking simulated user (as in EAR / SCPR / UNICORN and iEvaLM's target users):
it wants "something like" one held-out liked item, answers from that item's attributes, and never
writes a distinctive word of its title (`TargetLeakGuard`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from genrec.data import Catalog, Item, Split
from genrec.evaluation.simulation.persona import Persona, persona_seed
from genrec.evaluation.simulation.phrasings import (
    a_genre,
    and_list,
    decade_word,
    genre_word,
    ordinal,
)
from genrec.evaluation.simulation.target_phrasings import (
    ACCEPT,
    ANSWER_DECADE,
    ANSWER_DECADE_NO,
    ANSWER_EXAMPLE,
    ANSWER_GENRES,
    ANSWER_NO,
    ANSWER_NO_YEAR,
    ANSWER_OTHER,
    ANSWER_YES,
    CLOSING,
    OPEN_EXAMPLE,
    OPEN_GENRE,
    OPEN_PLAIN,
    REJECT_EXTRA,
    REJECT_MISSING,
    REJECT_NEW,
    REJECT_NONE_HAS,
    REJECT_OLD,
    REJECT_PLAIN,
    decades_named,
    genres_named,
    question_kinds,
    question_part,
)
from genrec.evaluation.simulation.user import Stated, Utterance, mentionable

STOP_WORDS = frozenset("""
about above after again against also among another around back because been before being below
between both could does doing down during each even ever every from further have having here hers
herself himself into itself just like made make many more most much must myself never only other
ours over same shall should some such than that their them then there these they this those
through under until upon very want were what when where which while whom whose will with would
your yours film films movie movies part""".split())
"""Title words that are not distinctive: common function words and "film"/"movie"."""

_WORD = re.compile(r"[^\W\d_]+")


class TargetLeakError(RuntimeError):
    """A target-seeking user wrote a distinctive word of its target's title: the run is invalid."""


def target_leak_words(title: str, *, allowed: Sequence[str] = ()) -> set[str]:
    """The distinctive words of a title: words of four letters or more, lower case, outside
    `STOP_WORDS` and `allowed` (apostrophes split words: "Schindler's" gives "schindler").

    >>> sorted(target_leak_words("The Shawshank Redemption"))
    ['redemption', 'shawshank']
    >>> (sorted(target_leak_words("Star Wars")), target_leak_words("Up"),
    ...  target_leak_words("Heat", allowed=["heat"]))
    (['star', 'wars'], set(), set())
    """
    skip = STOP_WORDS | {a.casefold() for a in allowed}
    return {
        w
        for w in (m.casefold() for m in _WORD.findall(title or ""))
        if len(w) >= 4 and w not in skip
    }


def attribute_words(catalog: Catalog) -> set[str]:
    """Words a target user may always write: how it spells the catalog's genres and decades."""
    words: set[str] = set()
    for g in catalog.genres:
        words |= {w.casefold() for w in _WORD.findall(f"{g} {genre_word(g)} {a_genre(g)}")}
    words |= {decade_word(d) for d in range(1900, 2030, 10)}
    return words


class TargetLeakGuard:
    """Finds the distinctive words of one target's title in a text (word boundary, any case).

    The catalog's genre and decade words are allowed: stating the target's attributes is the
    protocol.

    >>> from genrec.data import Item
    >>> g = TargetLeakGuard(Catalog([Item(1, "Star Wars", 1977, ("Sci-Fi", "War"))]), 1)
    >>> g.find("I want a sci-fi war film with STARS"), g.find("Something with a star in it")
    ([], ['star'])
    """

    def __init__(self, catalog: Catalog, target_item_id: int) -> None:
        item = catalog[int(target_item_id)]
        self.target_item_id = int(target_item_id)
        self.words = sorted(target_leak_words(item.title, allowed=sorted(attribute_words(catalog))))
        self._patterns = [
            (w, re.compile(r"(?<!\w)" + re.escape(w) + r"(?!\w)", re.I)) for w in self.words
        ]

    def find(self, text: str) -> list[str]:
        """The distinctive title words written in `text`, in sorted order."""
        return [w for w, p in self._patterns if p.search(text or "")]

    def check(self, text: str) -> None:
        """Raise `TargetLeakError` when `text` holds a distinctive word of the target's title."""
        found = self.find(text)
        if found:
            raise TargetLeakError(
                f"the target user of item {self.target_item_id} wrote {found} from its title in "
                f"{text!r}; "
                "this is a bug in the simulator's phrasing, the run is invalid"
            )


def choose_target(split: Split, user_id: int, *, seed: int, relevant_min: float = 4.0,
                  catalog: Catalog | None = None) -> int:
    """A seeded target for one user: one of its held-out items rated `relevant_min` or more.

    With a `catalog`, only items a user can describe qualify: in the catalog, with a genre (this
    leaves out placeholders such as MovieLens's item "unknown").

    Raises:
        ValueError: the user has no such held-out item (choose users with one).
    """
    rows = split.test.for_user(int(user_id))
    liked = sorted(int(i) for i, r in zip(rows["item"], rows["rating"]) if float(r) >= relevant_min)
    if catalog is not None:
        liked = [i for i in liked if (it := catalog.get(i)) is not None and it.genres]
    if not liked:
        raise ValueError(
            f"user {user_id} has no held-out item rated {relevant_min} or more in split "
            f"{split.name!r}{' with a genre' if catalog is not None else ''}; pick target users "
            "among those who have one"
        )
    return random.Random(persona_seed(seed, int(user_id))).choice(liked)


def _decade(item: Item) -> int | None:
    return (item.year // 10) * 10 if item.year else None


class TargetUser:
    """A simulated user looking for "something like" one target item, seeded and rule-based.

    It opens with one attribute of the target (one of its genres, or a liked TRAINING title sharing
    a genre with it), answers questions about genre, decade or examples truthfully from the target,
    rejects every shown list that lacks the target with a reason drawn from an attribute mismatch,
    and accepts (`accepted`; the conversation ends) once the target is shown. Each utterance is
    checked by `TargetLeakGuard`; a phrasing that would write a distinctive title word is never
    chosen.
    `stated` records what it said: genres the target has (`wanted_genres`, all of them true of the
    target), genres it lacks (`avoided_genres`), its decade (`year_min`/`year_max` and
    `preferred_decades`), named titles (`liked`) and turned-down items (`rejected`).

    >>> from genrec.data import Item
    >>> cat = Catalog([Item(1, "Heat", 1995, ("Action", "Crime")),
    ...                Item(2, "Babe", 1995, ("Comedy",))])
    >>> u = TargetUser(cat, 1, Persona(liked=(), disliked=()), seed=0)
    >>> u.opening().facts, u.respond("Which decade?", [], True).text
    (('genre',), "I'm thinking of the 1990s.")
    >>> u.respond("", [2, 1], False).text, u.accepted
    ('Yes, the second one!', True)
    """

    name = "target"

    def __init__(
        self, catalog: Catalog, target_item_id: int, persona: Persona, *, seed: int = 0
    ) -> None:
        self.catalog = catalog
        self.persona = persona
        self.target_item_id = int(target_item_id)
        self.target = catalog[self.target_item_id]
        self.rng = random.Random(seed)
        self.stated = Stated()
        self.accepted = False
        self.guard = TargetLeakGuard(catalog, self.target_item_id)
        self.genres = list(self.target.genres)
        self.decade = _decade(self.target)
        ok = mentionable(catalog)
        self.examples = [
            i for i in persona.liked
            if i != self.target_item_id and ok(i) and set(catalog[i].genres) & set(self.genres)
            and not self.guard.find(catalog[i].title)
        ]

    # ---- public API

    def opening(self) -> Utterance:
        """One attribute of the target: a genre, or (about half the time when it has one) a liked
        title."""
        if self.examples and (not self.genres or self.rng.random() < 0.5):
            i = self.examples[0]
            self.stated.add_item(i, "liked")
            return self._utter(
                [self._pick(OPEN_EXAMPLE, t=self.catalog[i].title)], (i,), ("liked",)
            )
        if self.genres:
            g = self.rng.choice(self.genres)
            self.stated.want_genre(g, True)
            return self._utter(
                [self._pick(OPEN_GENRE, a=a_genre(g), A=a_genre(g).capitalize())], (), ("genre",)
            )
        return self._utter([self._pick(OPEN_PLAIN)], (), ())

    def respond(self, agent_text: str, recommended: Sequence[int], question: bool) -> Utterance:
        """Accept when the target is among `recommended`; else answer the question, if any, and
        turn the shown items down with a reason (or, with nothing to answer or reject, add a
        fact)."""
        if self.accepted:
            return self._utter([self._pick(CLOSING)], (), ())
        shown = [int(i) for i in recommended]
        if self.target_item_id in shown:
            self.accepted = True
            self.stated.react_unseen(self.target_item_id, True)
            return self._utter(
                [self._pick(ACCEPT, pos=self._position(shown.index(self.target_item_id) + 1))],
                (),
                ("accept",),
            )
        parts: list[str] = []
        named: list[int] = []
        facts: list[str] = []
        if question:
            self._answer(agent_text, parts, named, facts)
        if shown:
            self._reject(shown, parts, facts)
        if not parts:
            self._volunteer(parts, named, facts)
        return self._utter(parts, tuple(named), tuple(facts))

    # ---- answers

    def _answer(self, text: str, parts: list[str], named: list[int], facts: list[str]) -> None:
        text = question_part(text)
        kinds = question_kinds(text)
        asked_genres = genres_named(text, self.catalog.genres)
        asked_decades = decades_named(text)
        if asked_genres:
            self._yes_no_genres(asked_genres, parts)
        elif "genre" in kinds:
            self._say_genres(parts, all_unsaid=True)
        if asked_decades and self.decade is not None:
            if self.decade in asked_decades:
                parts.append(self._say_decade())
            else:
                d = asked_decades[0]
                parts.append(self._pick(ANSWER_DECADE_NO, d=self._decade_text(d)))
        elif "decade" in kinds or asked_decades:
            parts.append(
                self._say_decade() if self.decade is not None else self._pick(ANSWER_NO_YEAR)
            )
        if "example" in kinds and not (
            asked_genres or asked_decades or {"genre", "decade"} & set(kinds)
        ):
            if not self._say_example(parts, named):
                self._say_genres(parts, all_unsaid=True)
        if "other" in kinds and not parts:
            parts.append(self._pick(ANSWER_OTHER))
        if parts:
            facts.append("answer")
        else:
            self._volunteer(parts, named, facts)

    def _yes_no_genres(self, asked: list[str], parts: list[str]) -> None:
        yes = [g for g in asked if g in self.genres]
        for g in yes:
            self.stated.want_genre(g, True)
        if yes:
            parts.append(self._pick(ANSWER_YES, a=self._genres_text(yes)))
        for g in [g for g in asked if g not in self.genres][:2]:
            self.stated.want_genre(g, False)
            parts.append(self._pick(ANSWER_NO, a=a_genre(g), g=genre_word(g)))

    def _say_genres(self, parts: list[str], *, all_unsaid: bool) -> bool:
        unsaid = [g for g in self.genres if g not in self.stated.wanted_genres]
        say = (unsaid if all_unsaid else unsaid[:1]) or list(self.genres)
        if not say:
            return False
        for g in say:
            self.stated.want_genre(g, True)
        text = self._pick(
            ANSWER_GENRES, a=self._genres_text(say), A=self._genres_text(say).capitalize()
        )
        parts.append(text)
        return True

    def _say_decade(self) -> str:
        assert self.decade is not None
        self.stated.set_years(self.decade, self.decade + 9)
        self.stated.prefer_decade(self.decade)
        return self._pick(ANSWER_DECADE, d=self._decade_text(self.decade))

    def _say_example(self, parts: list[str], named: list[int]) -> bool:
        unsaid = [i for i in self.examples if i not in self.stated.liked]
        if not unsaid:
            return False
        i = unsaid[0]
        self.stated.add_item(i, "liked")
        named.append(i)
        parts.append(self._pick(ANSWER_EXAMPLE, t=self.catalog[i].title))
        return True

    def _volunteer(self, parts: list[str], named: list[int], facts: list[str]) -> None:
        """Nothing to answer or turn down: add the next attribute it has not stated yet."""
        if any(g not in self.stated.wanted_genres for g in self.genres):
            self._say_genres(parts, all_unsaid=False)
            facts.append("genre")
        elif self.decade is not None and self.decade not in self.stated.preferred_decades:
            parts.append(self._say_decade())
            facts.append("decade")
        elif self._say_example(parts, named):
            facts.append("liked")
        else:
            parts.append(self._pick(REJECT_PLAIN))

    # ---- rejections

    def _reject(self, shown: list[int], parts: list[str], facts: list[str]) -> None:
        """Turn the shown items down, with one reason from an attribute mismatch (new facts
        first)."""
        for i in shown:
            self.stated.react_unseen(i, False)
        reasons: list[
            tuple[bool, int, str, object]
        ] = []  # (reveals something new, position, kind, value)
        items = [self.catalog.get(i) for i in shown]
        for pos, it in enumerate(items, start=1):
            if it is None:
                continue
            for g in self.genres:
                if g not in it.genres:
                    reasons.append((g not in self.stated.wanted_genres, pos, "missing", g))
            for g in it.genres:
                if g not in self.genres:
                    reasons.append((g not in self.stated.avoided_genres, pos, "extra", g))
            d = _decade(it)
            if d is not None and self.decade is not None and d != self.decade:
                reasons.append(
                    (self.stated.year_min is None, pos, "old" if d < self.decade else "new", d)
                )
        fresh = [r for r in reasons if r[0]] or reasons
        facts.append("reject")
        if not fresh:
            parts.append(self._pick(REJECT_PLAIN))
            return
        _, pos, kind, value = fresh[self.rng.randrange(len(fresh))]
        p = self._position(pos)
        if kind == "missing":
            g = str(value)
            self.stated.want_genre(g, True)
            none_has = all(it is None or g not in it.genres for it in items)
            parts.append(
                self._pick(
                    REJECT_NONE_HAS if none_has and len(items) > 1 else REJECT_MISSING,
                    a=a_genre(g),
                    pos=p,
                )
            )
        elif kind == "extra":
            g = str(value)
            self.stated.want_genre(g, False)
            parts.append(self._pick(REJECT_EXTRA, a=a_genre(g), g=genre_word(g), pos=p))
        else:
            assert self.decade is not None
            self.stated.set_years(self.decade, self.decade + 9)
            self.stated.prefer_decade(self.decade)
            parts.append(self._pick(REJECT_OLD if kind == "old" else REJECT_NEW, pos=p,
                                    d=self._decade_text(self.decade)))

    # ---- wording

    def _genres_text(self, genres: Sequence[str]) -> str:
        if len(genres) == 1:
            return a_genre(genres[0])
        return f"{a_genre(genres[0])} with some {and_list([genre_word(g) for g in genres[1:]])}"

    def _position(self, pos: int) -> str:
        """A list position as words ("third"), unless that is a title word ("The Third Man":
        "#3")."""
        return next(
            (f for f in (ordinal(pos), f"number {pos}") if not self.guard.find(f)), f"#{pos}"
        )

    def _decade_text(self, d: int) -> str:
        forms = [f"{d}s", decade_word(d)] + ([f"{d % 100:02d}s"] if 1920 <= d < 2000 else [])
        return self.rng.choice(sorted(set(forms)))

    def _pick(self, options: Sequence[str], **fields: str) -> str:
        """A seeded phrasing among those that write no distinctive word of the target's title
        (the last option of each act uses only short or attribute words, so one always remains)."""
        texts = [o.format(**fields) for o in options]
        clean = [t for t in texts if not self.guard.find(t)] or texts[-1:]
        return clean[self.rng.randrange(len(clean))]

    def _utter(self, parts: list[str], named: tuple[int, ...], facts: tuple[str, ...]) -> Utterance:
        text = " ".join(parts)
        self.guard.check(text)
        return Utterance(text, named, facts)


__all__ = [
    "STOP_WORDS",
    "TargetLeakError",
    "TargetLeakGuard",
    "TargetUser",
    "attribute_words",
    "choose_target",
    "target_leak_words",
]

"""Genres: the catalog's genre vocabulary with its synonyms, and the genres a message asks for,
avoids, or names as a matter of taste.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from genrec.agent.understanding.text import fold, normalize
from genrec.agent.understanding.vocabulary import ADULT, KIDS, MOOD, VOCABULARY, any_word, is_taste

_NEGATION = any_word(VOCABULARY.genre_negations)
# "horror, which is not really my thing" / "westerns are not for me": the negation follows the genre
_DISMISSED_AFTER = re.compile(
    r"\s*(?:films?|movies?|ones?)?[\s.]*(?:which|that|they|it)?\s*(?:is|are|s)?\s*(?:not|never|"
    r"isnt|arent) (?:really )?(?:"
    + "|".join(VOCABULARY.genre_dismissals)
    + r")\b"
)
# "fantasy leaves me cold" / "westerns bore me": a turn-off verb right after the genre
_TURNED_OFF_AFTER = re.compile(
    r"\s*(?:films?|movies?|ones?|stuff)?\s*(?:" + "|".join(VOCABULARY.genre_turn_offs) + r")\b"
)
NEGATION_WINDOW = 6
"""Words before a genre in which a negation avoids it ("not in the mood for a western")."""
_KIND_WORD = re.compile("|".join(VOCABULARY.genre_kinds))
_CONTRAST = any_word(VOCABULARY.contrast_words)
_ANYTHING_BUT = re.compile(r"\b(anything|everything|all|whatever) but\b")
_A_KIND_OF = re.compile(r"\b(?:" + "|".join(VOCABULARY.genre_kinds) + r")[\s.]+$")
"""A word that makes the genre after it one kind of it ("potty humor", "stupid comedy")."""
_CLAUSE_END = re.compile(r"\bbut\b|\bhowever\b|\.|;|!|\?")
_LIST_GAP = re.compile(r"\s*(?:,|or|and|nor|/|\s)*\s*")
_FORGET = re.compile(
    r"\b(?:forget|never ?mind|scratch|drop|no more of|enough of)\s+(?:about\s+)?(?:the\s+|that\s+|"
    r"my\s+)?"
)
_FINE_AGAIN = re.compile(
    r"\b(?:is|are|re|s)\s+(?:fine|ok|okay|alright|allowed|good|back on)\s+(?:again|after all|now|"
    r"too|with me"
    r"|the table)\b|\b(?:is|are|re|s)\s+no longer (?:a problem|out)\b"
)
_BACK_TO_ME = re.compile(r"\bback to (?:me|my (?:own )?taste|what i like)\b")
_NOT_A_GENRE = re.compile(
    r"\blive[ -]action\b|\bchildren of men\b|\bfamily (?:members?|of \w+)\b|"
    r"\b(?:my|our|his|her|the whole|whole) family\b(?! (?:movies?|films?|friendly|night))|"
    r"\bmy kids? (?:loved?|liked?|watched|saw|enjoyed|are|is|were|was)\b|"
    r"\bmix(?:ture)? of \w+ and \w+|"
    r"\b(?:seen|watched|saw)\b[^.!?]{0,60}\bwith (?:my|our|the) (?:kids?|children|family)\b|"
    r"\b(?:as|when i was|since i was) (?:a )?(?:kid|kids|child|children)\b|"
    r"\b(?:the|that|this) (?:\w+ )?(?:movie|film|one)\b(?!s)|"
    r"\bthe family (?=(?:was|is|were|are|has|had|in|who|that|members?)\b)"
)
"""Genre words that name no genre here ("live action would be best")."""


@dataclass
class GenresSaid:
    """The genres one message names: asked for (a constraint), avoided, of the user's taste."""

    wanted: list[str] = field(default_factory=list)
    avoided: list[str] = field(default_factory=list)
    taste: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    """Genres taken back ("forget the kids stuff", "war and thrillers are fine again")."""
    moods: list[str] = field(default_factory=list)
    """Genres a mood leans to ("something light" -> Comedy): a boost, never a filter."""


class GenreVocabulary:
    """Phrases that name a catalog genre: the vocabulary's synonyms and the genres themselves.

    >>> g = GenreVocabulary(["Comedy", "Horror", "Sci-Fi"])
    >>> g.genre_of("science fiction"), g.genre_of("comedies"), g.genre_of("jazz")
    ('Sci-Fi', 'Comedy', None)
    >>> g.read("I usually enjoy comedy. Something scary, no sci-fi")
    GenresSaid(wanted=['Horror'], avoided=['Sci-Fi'], taste=['Comedy'], dropped=[], moods=[])
    """

    def __init__(self, genres: Iterable[str]) -> None:
        vocab = {g.lower(): g for g in genres}

        def catalog_genre(
            name: str,
        ) -> str | None:  # MovieLens "latest" calls Children's "Children"
            return vocab.get(name.lower()) or vocab.get(name.lower().removesuffix("'s"))

        self.phrases: dict[str, str] = {}
        for phrase, canon in VOCABULARY.genre_synonyms.items():
            g = catalog_genre(canon)
            if g:
                self.phrases[normalize(phrase)] = g
        for low, g in vocab.items():
            self.phrases[normalize(low)] = g
        self.combos: dict[str, list[str]] = {}
        for phrase, names in VOCABULARY.genre_combos.items():
            gs = [g for g in map(catalog_genre, names) if g]
            if gs:
                self.combos[normalize(phrase)] = gs
                self.phrases.setdefault(normalize(phrase), gs[0])
        self._pattern = (
            re.compile(
                r"\b("
                + "|".join(sorted(map(re.escape, self.phrases), key=len, reverse=True))
                + r")(?:s|es)?\b"
            )
            if self.phrases
            else None
        )
        self._single = [p for p in self.phrases if " " not in p and len(p) >= 6]
        self.words = {w for k in self.phrases for w in k.split()}
        self.kids_genre = self.genre_of("children")
        self.kids_avoid = [g for g in map(catalog_genre, VOCABULARY.kids_avoid) if g]

    def _typos(self, norm: str) -> str:
        """`norm` with a misspelt genre word of six letters or more put right ("comdedy")."""
        def fix(m: re.Match[str]) -> str:
            w = m.group(0)
            if len(w) < 6 or w in self.phrases or w.rstrip("s") in self.phrases:
                return w
            hit = process.extractOne(w, self._single, scorer=fuzz.ratio, score_cutoff=86)
            return str(hit[0]) if hit else w
        return re.sub(r"[a-z]+", fix, norm)

    def _moods(self, norm: str, out: GenresSaid) -> str:
        """Record the genres mood words lean to (unless negated: "nothing too intense") in
        `out.moods`; return `norm` without the mood words, so no genre is read from them."""
        for m in MOOD.finditer(norm):
            if _NEGATION.search(" ".join(norm[:m.start()].split()[-2:])):
                continue
            for g in VOCABULARY.mood_words[m.group(0).lower()]:
                genre = self.genre_of(g)
                if genre and genre not in out.moods:
                    out.moods.append(genre)
        return MOOD.sub(lambda m: " " * len(m.group(0)), norm)

    def _take_back(self, norm: str, out: GenresSaid) -> str:
        """Record the genres a change of mind names in `out.dropped`; return `norm` without them."""
        assert self._pattern is not None
        spans: list[tuple[int, int]] = []
        for m in _FORGET.finditer(norm):
            g = self._pattern.match(norm, m.end())
            if g:
                spans.append((m.start(), g.end()))
        for m in _FINE_AGAIN.finditer(norm):
            lo = max((c.end() for c in _CLAUSE_END.finditer(norm, 0, m.start())), default=0)
            spans.append((lo, m.end()))
        for lo, hi in spans:
            for g in self._pattern.finditer(norm, lo, hi):
                genre = self.phrases[g.group(1)]
                out.dropped.append(genre)
                if (
                    genre == self.kids_genre
                ):  # the kids request taken back takes its avoided genres along
                    out.dropped += self.kids_avoid
            norm = norm[:lo] + " " * (hi - lo) + norm[hi:]
        return norm

    def genre_of(self, term: str) -> str | None:
        """The catalog genre a word or phrase means ("sci-fi", "cartoons" -> Animation), or None."""
        return self.phrases.get(normalize(term)) or self.phrases.get(normalize(term).rstrip("s"))

    def read(self, text: str) -> GenresSaid:
        """The genres `text` names. A negation in the six words before a genre (or "... is not my
        thing" after it) avoids it, and carries over a plain list ("no horror or thrillers"); a
        genre in a sentence with a taste cue is taste, otherwise a request."""
        out = GenresSaid()
        if self._pattern is None:
            return out
        norm = fold(text).replace("'", "").replace("’", "")
        norm = _NOT_A_GENRE.sub(lambda m: " " * len(m.group(0)), norm)
        norm = self._moods(norm, out)
        norm = " " + re.sub(r"[^\w\s]", " . ", re.sub(r"[-_/]", " ", norm)) + " "
        norm = self._take_back(norm, out)
        norm = _ANYTHING_BUT.sub(r"\1 except", norm)  # "anything but romance": no contrast
        prev_end, prev_neg = 0, None
        wanted: list[str] = []
        avoided: list[str] = []
        taste: list[str] = []
        by_kind: list[str] = []  # genres avoided only through a word for one kind of them
        norm = self._typos(norm)
        for m in self._pattern.finditer(norm):
            g = self.phrases[m.group(1)]
            also = self.combos.get(m.group(1), [g])[1:]  # "rom com": Romance and Comedy
            gap = norm[prev_end:m.start()]
            clause = _CLAUSE_END.split(gap)[-1]
            tail = " ".join(clause.split()[-NEGATION_WINDOW:])
            if (
                _NEGATION.search(tail)
                or _DISMISSED_AFTER.match(norm, m.end())
                or _TURNED_OFF_AFTER.match(norm, m.end())
            ):
                neg = True
            elif prev_neg is not None and _LIST_GAP.fullmatch(clause) and not _CONTRAST.search(gap):
                # a plain list shares the negation ("no horror, thrillers or westerns"), never
                # across a contrast ("no horror, but thrillers are fine")
                neg = prev_neg
            else:
                neg = False
            if neg and _A_KIND_OF.search(norm[max(0, m.start() - 20):m.start()]):
                pass  # "no potty humor": one kind of comedy is not the genre
            elif neg and _KIND_WORD.fullmatch(m.group(1)):
                by_kind.append(g)  # "scary but not gory": no gore, unless no other word wants it
            elif neg:
                avoided += [g, *also]
            else:
                (taste if is_taste(norm, m.start(), m.end()) else wanted).extend([g, *also])
            prev_end, prev_neg = m.end(), neg
        kids = (
            self.kids_genre
            if self.kids_genre
            and any(
                not _NEGATION.search(" ".join(fold(text[: m.start()]).split()[-2:]))
                for m in KIDS.finditer(text)
            )
            else None
        )
        if (
            kids and kids not in avoided
        ):  # "not in the mood for a film for kids" avoids them instead
            # "for my 6 year old": children's items, and none of the adult genres
            wanted.append(kids)
            avoided += [g for g in self.kids_avoid if g not in wanted]
        if ADULT.search(norm) and self.kids_genre and self.kids_genre not in wanted:
            avoided.append(self.kids_genre)  # "something more adult"
        if _BACK_TO_ME.search(norm) and self.kids_genre and self.kids_genre not in wanted:
            out.dropped += [
                self.kids_genre,
                *self.kids_avoid,
            ]  # "forget the kids stuff, back to me"
        out.dropped = [
            g for g in dict.fromkeys(out.dropped) if g not in wanted and g not in avoided
        ]
        avoided += [g for g in by_kind if g not in wanted]
        out.wanted = [g for g in dict.fromkeys(wanted) if g not in avoided]
        out.taste = [g for g in dict.fromkeys(taste) if g not in avoided and g not in out.wanted]
        out.avoided = list(dict.fromkeys(avoided))
        out.moods = [g for g in out.moods if g not in out.avoided]
        return out

"""The phrasebook: real seekers' sentences from INSPIRED as templates, each labelled by act and
by the polarity of each title and genre slot, for simulated users that talk like people.

`phrasebook_corpus` builds it from the corpus and our labels and caches it under GENREC_HOME.
`python -m genrec.evaluation.simulation.phrasebook_corpus` builds it and prints its acts and
the measured behaviour mix. Also which words each simulated user speaks (`phrasing_for_user`).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from genrec.data import Catalog
from genrec.evaluation.leakage import TitleMatcher
from genrec.evaluation.simulation.behaviour_mix import BehaviourMix, SeekerMove, behaviour_mix
from genrec.evaluation.simulation.phrasings import genre_word

ACTS = (
    "opener",
    "taste",
    "request",
    "answer",
    "reaction",
    "more",
    "smalltalk",
    "thanks",
    "question",
)
"""opener: the seeker's first statement of what it wants; taste: what it likes or not; request: what
it wants now; answer: a statement right after a recommender's question; reaction: to a recommended
film; more: asks for other suggestions; question: asks about a film (never used by a simulator)."""
TITLE_POLARITIES = ("liked", "disliked", "seen", "asked", "wanted")
GENRE_POLARITIES = ("wanted", "avoided")
PHRASINGS = ("template", "real", "mixed")
GENRE_OF = {"liked": "wanted", "wanted": "wanted", "disliked": "avoided", "avoided": "avoided"}
"""The genre slot polarity that goes with a polarity asked for ("liked" titles go with wanted
genres)."""
LABELS_FILE = "gold/inspired_phrasebook.jsonl"
BUILD_VERSION = 1
"""Bump when the builder's rules change: the cache key includes it."""

_FILLED = re.compile(r"\[(T|G)(\d+)\]")
_REQUEST_CUE = re.compile(
    r"recomm?end|reccomend|recomend|suggest|looking for|in the mood|let'?s try|\bany\b|"
    r"how about an? |need to see|"
    r"^\W*\[G\d+\](\s+(and|or)?\s*\[G\d+\])*\s*movies?\W*$",
    re.I,
)
_ONE_FILM = re.compile(r"\b(an?|either)\s+\[G\d+\]|\bwould say\b[^.?!]*\[G\d+\]", re.I)
"""One film of a genre, or a choice between genres ("interested in a [G0] movie", "either [G0] or
[G1]", "I would say [G0]"): what the seeker wants now."""
_TASTE_CUE = re.compile(
    r"\b(like|love|enjoy|prefer|fan of|into|interested (in|on))\b[^.?!]*\[G\d+\]", re.I
)
"""A genre told as a taste ("I like [G0] movies and [G1] too, can you recommend some"): not a
request."""


@dataclass(frozen=True)
class Template:
    """One seeker sentence with slots `[T0]`, `[G0]` (in order of first use) and their polarities.

    >>> t = Template("d", 4, "taste", "I love [G0] movies like [T0]", ("liked",), ("wanted",))
    >>> t.fits(1, 1, "liked"), t.fits(1, 1, "disliked"), t.fill(["Alien"], ["Sci-Fi"])
    (True, False, 'I love sci-fi movies like Alien')
    """

    dialog_id: str
    utt_id: int
    act: str
    text: str
    titles: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()

    def fits(self, n_titles: int, n_genres: int, polarity: str | None) -> bool:
        """Whether its slots are exactly `n_titles` titles and `n_genres` genres of `polarity`."""
        if (len(self.titles), len(self.genres)) != (n_titles, n_genres):
            return False
        if not n_titles and not n_genres:
            return True
        return all(p == polarity for p in self.titles) and all(
            p == GENRE_OF.get(polarity or "") for p in self.genres
        )

    @property
    def asks(self) -> bool:
        """Whether it asks for films now ("any good [G0] movies?", "looking for a [G0] movie",
        "let's try [G0]", "[G0] and [G1].", "I would say either [G0] or [G1]") rather than telling a
        taste ("I love [G0] movies"): its genres are a request."""
        if self.act == "request" or (self.genres and self.bare) or _ONE_FILM.search(self.text):
            return True
        return bool(_REQUEST_CUE.search(self.text)) and not _TASTE_CUE.search(self.text)

    @property
    def bare(self) -> bool:
        """Only slots ("[T0]", "[G0] and [G1]"): clear as an answer, unclear inside a longer
        message."""
        return not re.sub(r"\b(and|or|movies?)\b|[\W_]|T\d|G\d", "", self.text)

    def fill(self, titles: Sequence[str], genres: Sequence[str]) -> str:
        """The sentence with titles as given and genres as words people use ("a" / "an" fixed)."""
        def genre(m: re.Match[str]) -> str:
            word = genre_word(genres[int(m.group(2))])
            if not m.group(1):
                return word
            return f"{m.group(1)[0]}{'n' if word[:1] in 'aeiou' else ''} {word}"

        text = re.sub(r"(\b[Aa]n? )?\[G(\d+)\]", genre, self.text)
        text = re.sub(r"\[T(\d+)\]", lambda m: titles[int(m.group(1))], text)
        return re.sub(r"\b([Tt]he) [Tt]he ", r"\1 ", text)


@dataclass
class Phrasebook:
    """Real seekers' templates by act, and what every seeker turn of the corpus did (for the mix).

    >>> pb = Phrasebook([Template("d", 1, "taste", "I love [G0] movies.", (), ("wanted",))])
    >>> pb.phrase("taste", random.Random(0), genres=["Comedy"], polarity="wanted")
    'I love comedy movies.'
    >>> pb.phrase("taste", random.Random(0), genres=["Comedy"], polarity="avoided") is None
    True
    """

    templates: list[Template]
    moves: list[SeekerMove] = field(default_factory=list)
    """One record per labelled seeker turn (usable or not): what it said, whether it answered."""
    dropped: dict[str, int] = field(default_factory=dict)
    """Seeker turns left out, by reason."""
    _safe: dict[int, tuple[Catalog, Phrasebook]] = field(default_factory=dict, repr=False)
    _mix: BehaviourMix | None = field(default=None, repr=False)

    def by_act(self, act: str) -> list[Template]:
        return [t for t in self.templates if t.act == act]

    def phrase(
        self,
        act: str,
        rng: random.Random,
        *,
        titles: Sequence[str] = (),
        genres: Sequence[str] = (),
        polarity: str | None = None,
    ) -> str | None:
        """A real seeker's sentence for `act` whose slots are exactly `titles` and `genres` of
        `polarity` (genre slots of its genre counterpart), filled; None when none fits.

        Raises:
            ValueError: an unknown act or polarity, or slots given without a polarity.
        """
        options = self.fitting(act, len(titles), len(genres), polarity)
        if not options:
            return None
        return options[rng.randrange(len(options))].fill(list(titles), list(genres))

    def fitting(
        self, act: str, n_titles: int, n_genres: int, polarity: str | None
    ) -> list[Template]:
        """The templates `phrase` picks from."""
        if act not in ACTS:
            raise ValueError(f"unknown act {act!r}; known: {', '.join(ACTS)}")
        if (n_titles or n_genres) and polarity is None:
            raise ValueError("a phrase with titles or genres needs their polarity")
        if polarity is not None and polarity not in TITLE_POLARITIES + GENRE_POLARITIES:
            raise ValueError(
                f"unknown polarity {polarity!r}; known: "
                f"{', '.join(TITLE_POLARITIES + ('avoided',))}"
            )
        return [t for t in self.templates if t.act == act and t.fits(n_titles, n_genres, polarity)]

    def safe_for(self, catalog: Catalog) -> Phrasebook:
        """The templates whose own words name no title of `catalog` (so a filled sentence writes
        only
        the titles put in its slots: the leakage guard holds); computed once per catalog."""
        hit = self._safe.get(id(catalog))
        if hit is not None and hit[0] is catalog:
            return hit[1]
        matcher = TitleMatcher(catalog, [it.item_id for it in catalog])
        kept = [t for t in self.templates if not matcher.find(_FILLED.sub(" , ", t.text))]
        safe = Phrasebook(kept, self.moves, self.dropped, _mix=self._mix)
        self._safe[id(catalog)] = (catalog, safe)
        return safe

    def mix(self) -> BehaviourMix:
        """The behaviour mix of its dialogues (`behaviour_mix`), computed once."""
        if self._mix is None:
            self._mix = behaviour_mix(self)
        return self._mix

    def counts(self) -> dict[str, int]:
        """Templates per act."""
        c = Counter(t.act for t in self.templates)
        return {a: c[a] for a in ACTS}

    def to_json(self) -> dict[str, Any]:
        return {"version": BUILD_VERSION, "templates": [asdict(t) for t in self.templates],
                "moves": [asdict(m) for m in self.moves], "dropped": self.dropped}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Phrasebook:
        templates = [Template(**{**t, "titles": tuple(t["titles"]), "genres": tuple(t["genres"])})
                     for t in d["templates"]]
        return cls(templates, [SeekerMove(**m) for m in d["moves"]], dict(d["dropped"]))


def phrasing_for_user(mode: str, seed: int, user_id: int) -> str:
    """Which words one user speaks: `real` or `template` (for `mixed`, about half the users each
    way,
    by a seeded hash: the same in every process).

    >>> phrasing_for_user("real", 0, 7), phrasing_for_user("mixed", 0, 7) in ("real", "template")
    ('real', True)
    """
    if mode not in PHRASINGS:
        raise ValueError(f"unknown phrasing {mode!r}; known: {', '.join(PHRASINGS)}")
    if mode != "mixed":
        return mode
    digest = hashlib.sha256(f"phrasing:{seed}:{user_id}".encode()).digest()
    return "real" if digest[0] % 2 == 0 else "template"

__all__ = ["ACTS", "GENRE_POLARITIES", "PHRASINGS", "TITLE_POLARITIES", "Phrasebook", "Template",
           "phrasing_for_user"]

"""The phrasebook: real seekers' sentences from INSPIRED as templates, each labelled by act and by the
polarity of each title and genre slot, for simulated users that talk like people.

The corpus is read from its shared file and never copied into the project; the labels are our gold
(`gold/inspired_dev.jsonl`) plus what the phrasebook adds (`gold/inspired_phrasebook.jsonl`: the
polarity of titles named without a verdict, and the sentences a simulator cannot use). The built
phrasebook is cached under GENREC_HOME. Run `python -m genrec.evaluation.simulation.phrasebook` to build it and
print its acts and the measured behaviour mix.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from genrec.config import Settings
from genrec.data import Catalog
from genrec.evaluation.leakage import TitleMatcher
from genrec.evaluation.real_dialogues import GENRES, GoldTurn, default_corpus_path, load_gold
from genrec.evaluation.simulation.behaviour_mix import BehaviourMix, SeekerMove, behaviour_mix
from genrec.evaluation.simulation.phrasings import genre_word

log = logging.getLogger(__name__)

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
"""The genre slot polarity that goes with a polarity asked for ("liked" titles go with wanted genres)."""
LABELS_FILE = "gold/inspired_phrasebook.jsonl"
BUILD_VERSION = 1
"""Bump when the builder's rules change: the cache key includes it."""

_SLOT = re.compile(r"\[MOVIE_(TITLE|GENRE)_(\d+)\]")
_FILLED = re.compile(r"\[(T|G)(\d+)\]")
_MORE_CUE = re.compile(r"\b(other|another|else|more|different)\b", re.I)
_ASK_CUE = re.compile(r"recomm?end|reccomend|recomend|suggest|\bany\b|give me|anything", re.I)
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
"""A genre told as a taste ("I like [G0] movies and [G1] too, can you recommend some"): not a request."""
_CAPS_OK = {"I", "I'm", "I've", "I'd", "I'll", "Im", "OK", "Ok"}
_GENRE_NAMES = {g.casefold(): g for g in GENRES} | {
    "scifi": "Sci-Fi",
    "sci fi": "Sci-Fi",
    "animated": "Animation",
}


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
        """Whether it asks for films now ("any good [G0] movies?", "looking for a [G0] movie", "let's
        try [G0]", "[G0] and [G1].", "I would say either [G0] or [G1]") rather than telling a taste
        ("I love [G0] movies"): its genres are a request."""
        if self.act == "request" or (self.genres and self.bare) or _ONE_FILM.search(self.text):
            return True
        return bool(_REQUEST_CUE.search(self.text)) and not _TASTE_CUE.search(self.text)

    @property
    def bare(self) -> bool:
        """Only slots ("[T0]", "[G0] and [G1]"): clear as an answer, unclear inside a longer message."""
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
                f"unknown polarity {polarity!r}; known: {', '.join(TITLE_POLARITIES + ('avoided',))}"
            )
        return [t for t in self.templates if t.act == act and t.fits(n_titles, n_genres, polarity)]

    def safe_for(self, catalog: Catalog) -> Phrasebook:
        """The templates whose own words name no title of `catalog` (so a filled sentence writes only
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


# ---- building from the corpus


def _read_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        raise FileNotFoundError(
            f"INSPIRED's dev.tsv not found at {path}: set GENREC_INSPIRED_PATH to it"
        )
    csv.field_size_limit(10**7)
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = {"dialog_id", "utt_id", "speaker", "text", "text_with_placeholder"} - set(
            reader.fieldnames or ()
        )
        if missing:
            raise ValueError(
                f"{path} is not an INSPIRED tsv file: columns {sorted(missing)} are missing"
            )
        return list(reader)


def _index_dict(text: str) -> dict[int, str]:
    """INSPIRED's `movie_dict` / `genre_dict` ("{'Title (Year)': 0, ...}", sometimes malformed) as index -> name."""
    out: dict[int, str] = {}
    body = (text or "").strip().strip("{}").strip()
    for piece in re.split(r",\s*(?=['\"])", body) if body else ():
        name, _, index = piece.rpartition(":")
        if index.strip().isdigit():
            out[int(index.strip())] = name.strip().strip("'\"")
    return out


def load_labels(path: Path | None = None) -> dict[tuple[str, int], dict[str, Any]]:
    """The phrasebook's own labels (gold/inspired_phrasebook.jsonl unless `path` is given), by key."""
    if path is None:
        text = resources.files("genrec.evaluation").joinpath(LABELS_FILE).read_text("utf-8")
    else:
        text = path.read_text("utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return {(r["dialog_id"], int(r["utt_id"])): r for r in rows}


def _act(g: GoldTurn, text: str, opened: bool, after_question: bool, slotted: bool) -> str:
    content = g.act in ("request", "taste")
    if content and not opened:
        return "opener"
    if g.act == "request" and not slotted and _MORE_CUE.search(text) and _ASK_CUE.search(text):
        return "more"
    if content and after_question:
        return "answer"
    return {"greeting": "smalltalk", "acceptance": "reaction"}.get(g.act, g.act)


def _why_unusable(
    row: Mapping[str, str],
    g: GoldTurn,
    text: str,
    act: str,
    titles: list[str | None],
    genres: list[str | None],
    slot_titles: set[str],
) -> str | None:
    """Why a seeker sentence cannot be a simulator's template (None: it can)."""
    if re.search(r"\[MOVIE_(?!TITLE_|GENRE_)", text) or row.get("people_names", "").strip():
        return "people or plot"
    if None in titles or None in genres:
        return "slot polarity unknown"
    if set(g.titles()) - slot_titles:
        return "title written out"
    if len(set(g.genres_wanted) | set(g.genres_avoided)) > len(genres):
        return "genre written out"
    if g.year_min or g.year_max or g.recent or g.kids or g.genres_dropped or g.changes_mind:
        return "other facts"
    if act in ("smalltalk", "thanks") and (titles or genres):
        return "small talk with slots"
    for sentence in re.split(r"(?<=[.!?])\s+", _SLOT.sub("x", text).strip()):
        if any(w[:1].isupper() and w.strip(",.!?;:") not in _CAPS_OK for w in sentence.split()[1:]):
            return "a name"
    return None


def build_phrasebook(
    path: Path | str | None = None,
    *,
    gold: Iterable[GoldTurn] | None = None,
    labels: Mapping[tuple[str, int], Mapping[str, Any]] | None = None,
) -> Phrasebook:
    """Build the phrasebook from INSPIRED's dev.tsv (`path`; default: `default_corpus_path()`).

    Each labelled seeker turn becomes a template unless it is unusable (see `Phrasebook.dropped`);
    each becomes a `SeekerMove` either way, for `behaviour_mix`.
    """
    rows = _read_rows(Path(path) if path else default_corpus_path())
    gold_by = {(g.dialog_id, g.utt_id): g for g in (gold if gold is not None else load_gold())}
    ours = load_labels() if labels is None else labels
    templates: list[Template] = []
    moves: list[SeekerMove] = []
    dropped: Counter[str] = Counter()
    opened: set[str] = set()
    previous: dict[str, str] = {}
    for row in rows:
        d = row["dialog_id"]
        if row["speaker"] != "SEEKER":
            previous[d] = row["text"]
            continue
        g = gold_by.get((d, int(row["utt_id"])))
        if g is None:
            continue
        after_question = "?" in previous.pop(d, "")
        text = re.sub(
            r"\s+", " ", row["text_with_placeholder"].replace("QUOTATION_MARK", '"')
        ).strip()
        act = _act(g, text, d in opened, after_question, bool(_SLOT.search(text)))
        if act == "opener":
            opened.add(d)
        moves.append(SeekerMove.of(g, act, after_question))
        label = ours.get((d, g.utt_id), {})
        if label.get("drop"):
            dropped[f"labelled: {label['drop']}"] += 1
            continue
        template, slot_titles, titles, genres = _slots(text, row, g)
        titles = list(label.get("titles", titles))
        genres = list(label.get("genres", genres))
        why = _why_unusable(row, g, text, act, titles, genres, slot_titles)
        if why:
            dropped[why] += 1
            continue
        templates.append(
            Template(d, g.utt_id, act, template, tuple(map(str, titles)), tuple(map(str, genres)))
        )
    return Phrasebook(templates, moves, dict(sorted(dropped.items())))


def _slots(
    text: str, row: Mapping[str, str], g: GoldTurn
) -> tuple[str, set[str], list[str | None], list[str | None]]:
    """The text with slots renumbered [T0].. [G0].., the gold titles the slots hold, and each slot's
    polarity from the gold (None where the gold does not say)."""
    movies, genre_names = (
        _index_dict(row.get("movie_dict", "")),
        _index_dict(row.get("genre_dict", "")),
    )
    order: dict[tuple[str, int], int] = {}
    titles: list[str | None] = []
    genres: list[str | None] = []
    held: set[str] = set()
    mentioned = (
        "asked"
        if g.act == "question" or g.question
        else "wanted"
        if g.act == "acceptance"
        else None
    )
    for kind, n in ((m.group(1), int(m.group(2))) for m in _SLOT.finditer(text)):
        if (kind, n) in order:
            continue
        if kind == "TITLE":
            order[(kind, n)] = len(titles)
            name = movies.get(n, "")
            held.add(name)
            titles.append("liked" if name in g.liked else "disliked" if name in g.disliked
                          else mentioned if name in g.mentioned else None)
        else:
            order[(kind, n)] = len(genres)
            genre = _GENRE_NAMES.get(genre_names.get(n, "").casefold())
            genres.append(
                "wanted"
                if genre in g.genres_wanted
                else "avoided"
                if genre in g.genres_avoided
                else None
            )

    def renumber(m: re.Match[str]) -> str:
        return f"[{m.group(1)[0]}{order[(m.group(1), int(m.group(2)))]}]"

    return _SLOT.sub(renumber, text.replace("{", "(").replace("}", ")")), held, titles, genres


# ---- loading, with a cache under GENREC_HOME


def corpus_path(settings: Settings) -> Path:
    """INSPIRED's dev.tsv as configured (`inspired_path`), else `default_corpus_path()`."""
    return (
        Path(settings.inspired_path).expanduser()
        if settings.inspired_path
        else default_corpus_path()
    )


_LOADED: dict[Path, Phrasebook] = {}


def load_phrasebook(settings_or_home: Settings | Path | str | None = None) -> Phrasebook | None:
    """The phrasebook, built once and cached under GENREC_HOME/phrasebook; None (logged once, with
    where the corpus was expected) when INSPIRED's dev.tsv is absent."""
    settings = (settings_or_home if isinstance(settings_or_home, Settings)
                else Settings() if settings_or_home is None else Settings(home=settings_or_home))
    path = corpus_path(settings)
    if not path.exists():
        log.warning(
            "no phrasebook: INSPIRED's dev.tsv was expected at %s (set GENREC_INSPIRED_PATH)", path
        )
        return None
    labels_text = resources.files("genrec.evaluation").joinpath(LABELS_FILE).read_bytes()
    gold_text = (
        resources.files("genrec.evaluation").joinpath("gold/inspired_dev.jsonl").read_bytes()
    )
    key = hashlib.sha256(
        path.read_bytes() + gold_text + labels_text + str(BUILD_VERSION).encode()
    ).hexdigest()[:16]
    cache = settings.home / "phrasebook" / f"inspired-{key}.json"
    if cache in _LOADED:
        return _LOADED[cache]
    book: Phrasebook | None = None
    if cache.exists():
        try:
            book = Phrasebook.from_json(json.loads(cache.read_text("utf-8")))
        except (ValueError, KeyError, TypeError) as e:
            log.warning("phrasebook cache %s unreadable (%s); rebuilding", cache, e)
    if book is None:
        book = build_phrasebook(path)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(book.to_json()), "utf-8")
        tmp.replace(cache)
    _LOADED[cache] = book
    return book


def phrasing_for_user(mode: str, seed: int, user_id: int) -> str:
    """Which words one user speaks: `real` or `template` (for `mixed`, about half the users each way,
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


def main() -> None:
    """Build (or load) the phrasebook and print its acts, what was left out and the behaviour mix."""
    book = load_phrasebook()
    if book is None:
        raise SystemExit(1)
    print(json.dumps({"templates": book.counts(), "dropped": book.dropped,
                      "behaviour_mix": behaviour_mix(book).to_dict()}, indent=2))


if __name__ == "__main__":
    main()


__all__ = ["ACTS", "GENRE_POLARITIES", "PHRASINGS", "TITLE_POLARITIES", "Phrasebook", "Template",
           "build_phrasebook", "corpus_path", "load_labels", "load_phrasebook", "phrasing_for_user"]

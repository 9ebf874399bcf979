"""How well a reader of messages understands people: each dialogue's seeker turns replayed into one
session, the change of state per turn compared with gold labels, scored per slot and per kind.

The readers (the agent, its understanding stage alone, a keyword baseline) are in
`understanding_readers`. Gold titles and genres are grounded in the catalog in use.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from genrec.agent.state import DialogueState
from genrec.agent.understanding.genres import GenreVocabulary
from genrec.agent.understanding.text import fold
from genrec.agent.understanding.titles import TitleIndex, title_index, title_key
from genrec.data import Catalog
from genrec.evaluation.real_dialogues import GoldTurn

SLOTS = (
    "genres_wanted",
    "genres_avoided",
    "titles_liked",
    "titles_disliked",
    "titles_mentioned",
    "years",
    "genres_dropped",
)
"""The slots scored with precision, recall and F1 (micro-averaged over utterances)."""
KINDS = ("greeting", "question", "acceptance", "preference", "reaction")


@dataclass
class Reading:
    """What a reader took from one utterance: the change it made to its state."""

    liked: set[int] = field(default_factory=set)
    disliked: set[int] = field(default_factory=set)
    other_items: set[int] = field(default_factory=set)
    """Items added under another polarity (seen, interested, rejected, excluded)."""
    mentioned: set[int] = field(default_factory=set)
    """Every item the reader grounded in the utterance: any polarity, asked about, or offered
    back."""
    wanted: set[str] = field(default_factory=set)
    avoided: set[str] = field(default_factory=set)
    dropped: set[str] = field(default_factory=set)
    years: set[tuple[str, int]] = field(default_factory=set)
    by_reference: set[int] = field(default_factory=set)
    """Items reached through a reference to the agent's own last list ("the first one"): in a
    replayed human-to-human dialogue those words point at the human recommender's film, so they are
    counted apart and left out of the slots and of the false additions."""
    held: DialogueState | None = None
    """The reader's state before the utterance (None for a stateless reader): what it already
    holds cannot be added again, so the gold is compared net of it."""
    ms: float = 0.0
    error: str | None = None

    def added_items(self) -> set[int]:
        return self.liked | self.disliked | self.other_items


@dataclass
class Expected:
    """A gold turn grounded in the catalog: ids for titles it has, its genre names, year bounds."""

    liked: set[int] = field(default_factory=set)
    disliked: set[int] = field(default_factory=set)
    mentioned: set[int] = field(default_factory=set)
    wanted: set[str] = field(default_factory=set)
    avoided: set[str] = field(default_factory=set)
    dropped: set[str] = field(default_factory=set)
    years: set[tuple[str, int]] = field(default_factory=set)
    recent: bool = False


class Reader(Protocol):
    """Reads one dialogue's utterances in order, one session per dialogue."""

    name: str

    def read(self, session: str, text: str) -> Reading: ...


# ---- gold grounded in a catalog ------------------------------------------------------------------
_TITLE_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)\s*$")
_SUBTITLE = re.compile(r"\s*[:\-\u2013]\s")
"""Where a subtitle begins after a title ("Star Wars: Episode IV", "Infinity War - Part I")."""


class GoldGrounder:
    """Turns gold labels into catalog terms: "Alien (1979)" -> the id of Alien (1979) when the
    catalog has that film (title and year both agree, within a year), genre names -> its genres."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.index: TitleIndex = title_index(catalog)
        self.genres = GenreVocabulary(catalog.genres)
        self.kids_genre = self.genres.kids_genre
        self.kids_avoid = set(self.genres.kids_avoid)
        years = self.index.years
        self.latest = years[-1] if years else 2000

    def item(self, title: str) -> int | None:
        """The one catalog item a gold title means, or None. The key must match exactly, or begin
        the catalog's longer title at a subtitle ("Star Wars (1977)" -> "Star Wars: Episode IV -
        A New Hope", same year); the year decides: the same year first, else within two years
        (festival vs release dates), and only when one film is left."""
        m = _TITLE_YEAR.match(title)
        name, year = (m.group(1), int(m.group(2))) if m else (title, None)
        key = title_key(name)
        exact = self.index.exact.get(key, [])
        if year is None:
            return exact[0] if len(exact) == 1 else None
        longer = [i for i in sorted(self.index.prefix.get(key, ()))
                  if i not in exact and _SUBTITLE.match(self.catalog[i].title[len(name):])
                  and fold(self.catalog[i].title[:len(name)]) == fold(name)]
        for ids, slack in ((exact, 0), (exact, 2), (longer, 0)):
            near = [i for i in ids if abs((self.catalog[i].year or 0) - year) <= slack]
            if near:
                return near[0] if len(near) == 1 else None
        return None

    def _ids(self, titles: Iterable[str]) -> set[int]:
        return {i for i in (self.item(t) for t in titles) if i is not None}

    def _genres(self, names: Iterable[str]) -> set[str]:
        return {g for g in (self.genres.genre_of(n) for n in names) if g}

    def ground(self, gold: GoldTurn) -> Expected:
        ex = Expected(
            liked=self._ids(gold.liked),
            disliked=self._ids(gold.disliked),
            wanted=self._genres(gold.genres_wanted),
            avoided=self._genres(gold.genres_avoided),
            dropped=self._genres(gold.genres_dropped),
            recent=gold.recent,
        )
        ex.mentioned = ex.liked | ex.disliked | self._ids(gold.mentioned)
        if gold.kids and self.kids_genre:
            ex.wanted.add(self.kids_genre)
            ex.avoided |= self.kids_avoid - ex.wanted
        if gold.year_min is not None:
            ex.years.add(("min", gold.year_min))
        if gold.year_max is not None:
            ex.years.add(("max", gold.year_max))
        return ex


# ---- scoring -----------------------------------------------------------------------------------
@dataclass
class SlotCounts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(
        self, predicted: set[Any], gold: set[Any], match: Callable[[Any, Any], bool] | None = None
    ) -> None:
        if match is None:
            hit = predicted & gold
            self.tp += len(hit)
            self.fp += len(predicted - hit)
            self.fn += len(gold - hit)
            return
        used: set[Any] = set()
        for p in predicted:
            g = next((g for g in gold if g not in used and match(p, g)), None)
            if g is None:
                self.fp += 1
            else:
                used.add(g)
                self.tp += 1
        self.fn += len(gold - used)

    def scores(self) -> dict[str, float | int | None]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else None
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else None
        f = 2 * p * r / (p + r) if p is not None and r is not None and p + r else (
            0.0 if p is not None or r is not None else None)
        return {
            "precision": p,
            "recall": r,
            "f1": f,
            "support": self.tp + self.fn,
            "predicted": self.tp + self.fp,
        }


@dataclass
class TurnResult:
    """One utterance: its text and kind, what was expected, what was read, and the false
    additions."""

    dialog_id: str
    utt_id: int
    text: str
    kind: str
    expected: Expected
    reading: Reading
    false: list[str]


def net_of_held(ex: Expected, held: DialogueState | None) -> Expected:
    """The gold change of one utterance given what the reader already held: a genre already wanted
    or an item already liked cannot be added again ("Romance." said twice adds nothing the second
    time)."""
    if held is None:
        return ex
    return Expected(
        liked=ex.liked - set(held.liked),
        disliked=ex.disliked - set(held.disliked),
        mentioned=ex.mentioned,
        wanted=ex.wanted - set(held.wanted_genres) - set(held.preferred_genres),
        avoided=ex.avoided - set(held.avoided_genres),
        dropped=ex.dropped,
        years=ex.years,
        recent=ex.recent,
    )


def false_additions(ex: Expected, r: Reading) -> list[str]:
    """What the reading added that the utterance never said (items, genres, years), as short
    labels."""
    out = [f"item {i}" for i in sorted(r.added_items() - ex.mentioned)]
    out += [f"wanted {g}" for g in sorted(r.wanted - ex.wanted)]
    out += [f"avoided {g}" for g in sorted(r.avoided - ex.avoided)]
    if r.years and not ex.years and not ex.recent:
        out += [f"years {k} {v}" for k, v in sorted(r.years)]
    return out


def _year_match(latest: int) -> Callable[[tuple[str, int], Any], bool]:
    def match(p: tuple[str, int], g: object) -> bool:
        if g == ("min", -1):  # "something recent": any lower bound within the catalog's last decade
            return p[0] == "min" and p[1] >= latest - 10
        return bool(p == g)
    return match


def _add_turn(slots: dict[str, SlotCounts], t: TurnResult, latest: int) -> None:
    """Count one utterance's reading against its gold, slot by slot."""
    ex, r = t.expected, t.reading
    slots["genres_wanted"].add(r.wanted, ex.wanted)
    slots["genres_avoided"].add(r.avoided, ex.avoided)
    slots["genres_dropped"].add(r.dropped, ex.dropped)
    slots["titles_liked"].add(r.liked, ex.liked)
    slots["titles_disliked"].add(r.disliked, ex.disliked)
    slots["titles_mentioned"].add(r.mentioned, ex.mentioned)
    gold_years = set(ex.years) | ({("min", -1)} if ex.recent and not ex.years else set())
    slots["years"].add(r.years, gold_years, _year_match(latest))


def score(results: Sequence[TurnResult], latest: int) -> dict[str, Any]:
    """Precision / recall / F1 per slot, false additions by kind, errors and ms per utterance."""
    slots = {s: SlotCounts() for s in SLOTS}
    by_kind: Counter[str] = Counter()
    false_by_kind: Counter[str] = Counter()
    ms = []
    errors = 0
    by_reference = 0
    for t in results:
        r = t.reading
        _add_turn(slots, t, latest)
        by_kind[t.kind] += 1
        if t.false:
            false_by_kind[t.kind] += 1
        errors += r.error is not None
        by_reference += len(r.by_reference)
        ms.append(r.ms)
    n = len(results)
    ms_sorted = sorted(ms)
    return {
        "utterances": n,
        "slots": {s: c.scores() for s, c in slots.items()},
        "false_addition_rate": sum(false_by_kind.values()) / n if n else None,
        "false_additions": sum(false_by_kind.values()),
        "false_by_kind": {
            k: {"utterances": by_kind[k], "with_false_addition": false_by_kind[k]} for k in KINDS
        },
        "errors": errors,
        "items_by_list_reference": by_reference,
        "ms_per_utterance": {
            "mean": sum(ms) / n if n else None,
            "p50": ms_sorted[n // 2] if n else None,
            "p95": ms_sorted[min(n - 1, int(0.95 * n))] if n else None,
        },
    }


def _per_dialogue(results: Sequence[TurnResult], latest: int) -> dict[str, np.ndarray]:
    """Counts per dialogue: tp, fp, fn of every slot, utterances and those with a false addition
    (each an array with one entry a dialogue, in order of first appearance)."""
    order: dict[str, int] = {}
    for t in results:
        order.setdefault(t.dialog_id, len(order))
    counts = {k: np.zeros(len(order)) for k in ("utterances", "false")}
    for s in SLOTS:
        for part in ("tp", "fp", "fn"):
            counts[f"{s}.{part}"] = np.zeros(len(order))
    for t in results:
        d = order[t.dialog_id]
        slots = {s: SlotCounts() for s in SLOTS}
        _add_turn(slots, t, latest)
        for s, c in slots.items():
            for part in ("tp", "fp", "fn"):
                counts[f"{s}.{part}"][d] += getattr(c, part)
        counts["utterances"][d] += 1
        counts["false"][d] += bool(t.false)
    return counts


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 of summed counts, one value a row (nan where nothing was predicted or expected)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return 2 * tp / (2 * tp + fp + fn)


def intervals(
    results: Sequence[TurnResult],
    latest: int,
    baseline: Sequence[TurnResult] | None = None,
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """95% intervals by resampling dialogues (each dialogue's turns stay together): the F1 of every
    slot and the share of utterances with a false addition; with a `baseline` read of the same
    dialogues, the paired difference of F1 (this reader minus the baseline) on the same draws."""
    a = _per_dialogue(results, latest)
    b = _per_dialogue(baseline, latest) if baseline is not None else None
    n = len(a["utterances"])
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(resamples, n))

    def summed(c: dict[str, np.ndarray], key: str) -> np.ndarray:
        return c[key][draws].sum(axis=1)

    def span(x: np.ndarray) -> list[float] | None:
        x = x[~np.isnan(x)]
        return [float(np.percentile(x, 2.5)), float(np.percentile(x, 97.5))] if len(x) else None

    false_rate = summed(a, "false") / summed(a, "utterances")
    out: dict[str, Any] = {"resamples": resamples, "seed": seed, "dialogues": n, "f1": {},
                           "false_addition_rate": span(false_rate)}
    if b is not None:
        out["f1_minus_baseline"] = {}
    for s in SLOTS:
        f = _f1(*(summed(a, f"{s}.{p}") for p in ("tp", "fp", "fn")))
        out["f1"][s] = span(f)
        if b is not None:
            out["f1_minus_baseline"][s] = span(f - _f1(*(summed(b, f"{s}.{p}")
                                                          for p in ("tp", "fp", "fn"))))
    return out


def replay(
    reader: Reader,
    dialogues: Iterable[Any],
    grounder: GoldGrounder,
    *,
    session_prefix: str = "real",
    progress: Callable[[int], None] | None = None,
) -> list[TurnResult]:
    """Replay each dialogue's seeker turns in order into one session of `reader`."""
    out = []
    for d in dialogues:
        session = f"{session_prefix}-{hashlib.sha256(d.dialog_id.encode()).hexdigest()[:16]}"
        for turn, gold in zip(d.turns, d.gold):
            r = reader.read(session, turn.text)
            ex = net_of_held(grounder.ground(gold), r.held)
            out.append(
                TurnResult(
                    d.dialog_id, turn.utt_id, turn.text, gold.kind, ex, r, false_additions(ex, r)
                )
            )
        if progress:
            progress(1)
    return out


__all__ = [
    "KINDS",
    "SLOTS",
    "Expected",
    "GoldGrounder",
    "Reader",
    "Reading",
    "TurnResult",
    "false_additions",
    "intervals",
    "net_of_held",
    "replay",
    "score",
]

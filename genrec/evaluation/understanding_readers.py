"""The readers whose understanding `understanding_score` measures: the agent itself (a
`Recommender`, its state read before and after every turn), its understanding stage alone, and a
keyword baseline.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from genrec.agent.state import DialogueState, apply_reading
from genrec.agent.understanding.extraction import CatalogExtractor
from genrec.agent.understanding.genres import GenreVocabulary
from genrec.agent.understanding.text import fold
from genrec.agent.understanding.titles import title_key
from genrec.data import Catalog
from genrec.evaluation.understanding_score import Reading

if TYPE_CHECKING:
    from genrec.agent import Recommender


def state_change(before: DialogueState, after: DialogueState) -> Reading:
    """The change between two states, as a Reading (items, genres, year bounds)."""
    r = Reading()
    r.liked = set(after.liked) - set(before.liked)
    r.disliked = set(after.disliked) - set(before.disliked)
    for pol in ("seen", "interested", "rejected", "excluded"):
        r.other_items |= set(getattr(after, pol)) - set(getattr(before, pol))
    pos_before = set(before.wanted_genres) | set(before.preferred_genres)
    pos_after = set(after.wanted_genres) | set(after.preferred_genres)
    r.wanted = pos_after - pos_before
    r.avoided = set(after.avoided_genres) - set(before.avoided_genres)
    r.dropped = (pos_before | set(before.avoided_genres)) - (pos_after | set(after.avoided_genres))
    if after.year_min is not None and after.year_min != before.year_min:
        r.years.add(("min", after.year_min))
    if after.year_max is not None and after.year_max != before.year_max:
        r.years.add(("max", after.year_max))
    r.mentioned = r.added_items()
    return r


class AgentReader:
    """The agent under test: every utterance goes through `Recommender.chat` in the dialogue's
    session; the reading is the change of the session's state (and the items its reply asked
    about)."""

    def __init__(self, recommender: Recommender, name: str = "agent") -> None:
        self.rec = recommender
        self.name = name

    def read(self, session: str, text: str) -> Reading:
        before = self.rec.state(session) if self.rec.session_exists(session) else DialogueState()
        started = time.perf_counter()
        try:
            self.rec.chat(session, text)
        except Exception as e:  # noqa: BLE001 - a crash is scored, not raised
            return Reading(
                ms=(time.perf_counter() - started) * 1000, error=f"{type(e).__name__}: {e}"
            )
        ms = (time.perf_counter() - started) * 1000
        after = self.rec.state(session)
        r = state_change(before, after)
        r.ms = ms
        r.held = before
        ex = self.rec.agent.extractor.extract(text, before)  # what it grounded, outside the timing
        named = {i for i in ex.mentioned() if self.rec.catalog[i].label in ex.mentioned_titles}
        r.by_reference = r.added_items() - named
        r.liked -= r.by_reference
        r.disliked -= r.by_reference
        r.other_items -= r.by_reference
        r.mentioned = (r.added_items() | set(ex.asked_about)
                       | {q.item_id for q in ex.item_questions if q.item_id is not None})
        for choice in ex.ambiguous:
            r.mentioned |= set(choice.options[:1])
        return r


class ExtractorReader:
    """The agent's understanding stage alone (rules, `--llm none`): each utterance is extracted
    against the session's state and applied, with no ranking and no reply. For a catalog whose
    ranker and index are not built; the agent's own questions ("Did you mean Heat?") are still
    pending in the state, but its recommendations, and so references to them, do not exist."""

    name = "understanding"

    def __init__(self, catalog: Catalog, popularity: Mapping[int, int] | None = None) -> None:
        self.extractor = CatalogExtractor(catalog, popularity=popularity)
        self.catalog = catalog
        self.states: dict[str, DialogueState] = {}

    def read(self, session: str, text: str) -> Reading:
        before = self.states.get(session, DialogueState())
        started = time.perf_counter()
        ex = self.extractor.extract(text, before)
        after = apply_reading(before, ex)
        ms = (time.perf_counter() - started) * 1000
        self.states[session] = after
        r = state_change(before, after)
        r.ms, r.held = ms, before
        r.mentioned |= set(ex.asked_about) | {
            q.item_id for q in ex.item_questions if q.item_id is not None
        }
        return r


_NEG_BEFORE = re.compile(
    r"\b(?:not|no|don'?t|dont|never|hate[sd]?|dislike[sd]?|nothing)\W+(?:\w+\W+){0,2}$"
)


class KeywordReader:
    """The baseline: a plain keyword matcher with no dialogue state of its own.

    A genre word (the vocabulary's synonyms) is wanted, or avoided when a negation stands in the
    three words before it; a catalog title written whole (any case, at least two words or five
    letters) is liked, or disliked after a negation.
    """

    name = "keyword"

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.genres = GenreVocabulary(catalog.genres)
        keys: dict[str, int] = {}
        for it in catalog:
            key = title_key(re.sub(r"\s*\(.*?\)\s*", " ", it.title))
            if key and (len(key.split()) > 1 or len(key) >= 5):
                keys.setdefault(key, it.item_id)
        self.titles = keys
        self._title_rx = re.compile(
            r"\b(" + "|".join(sorted(map(re.escape, keys), key=len, reverse=True)) + r")\b"
        )
        self._genre_rx = re.compile(
            r"\b("
            + "|".join(sorted(map(re.escape, self.genres.phrases), key=len, reverse=True))
            + r")s?\b"
        )
        self._seen: dict[str, set[int]] = {}

    def read(self, session: str, text: str) -> Reading:
        started = time.perf_counter()
        low = fold(text).replace("’", "'")
        r = Reading()
        for m in self._genre_rx.finditer(low):
            g = self.genres.phrases[m.group(1)]
            (r.avoided if _NEG_BEFORE.search(low[:m.start()]) else r.wanted).add(g)
        r.wanted -= r.avoided
        norm = " ".join(re.findall(r"[a-z0-9']+", low.replace("'", "")))
        for m in self._title_rx.finditer(norm):
            iid = self.titles[m.group(1)]
            (r.disliked if _NEG_BEFORE.search(norm[:m.start()]) else r.liked).add(iid)
        r.liked -= r.disliked
        r.mentioned = r.liked | r.disliked
        r.ms = (time.perf_counter() - started) * 1000
        return r


__all__ = ["AgentReader", "ExtractorReader", "KeywordReader", "state_change"]

"""What one user message says, grounded in the catalog: the Extraction type, and the rule reader
(CatalogExtractor) that assembles it from the slot readers of this package, step by step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import Field

from genrec.agent.preferences import POLARITIES, Polarity, Preferences
from genrec.agent.state import DialogueState, PendingChoice
from genrec.agent.understanding.acts import act_at, preference_text
from genrec.agent.understanding.answers import (
    default_polarity,
    echo_verdict,
    pending_pick,
)
from genrec.agent.understanding.appraisal import (
    MORE_LIKE,
    compared,
    descriptions_out,
    sentence_verdict,
)
from genrec.agent.understanding.genres import GenreVocabulary
from genrec.agent.understanding.genres_and_years import GenreYearReader
from genrec.agent.understanding.polarity import (
    ListReference,
    list_references,
    list_verdicts,
    reference_verdict,
)
from genrec.agent.understanding.questions import ItemQuestion, find_item_questions
from genrec.agent.understanding.text import SENTENCE_END, blank, normalize, tokens
from genrec.agent.understanding.title_mentions import TitleMention, find_titles
from genrec.agent.understanding.titles import TitleIndex, TitlePrior, title_index
from genrec.agent.understanding.vocabulary import (
    INJECTION,
    MOOD,
    ORDINAL_REF,
    POLARITY_BEFORE,
    REPEAT,
    RESET,
    STOP_WORDS,
    VAGUE_WORDS,
    VOCABULARY,
)
from genrec.agent.understanding.years import YEAR_HI, YEAR_LO
from genrec.data import Catalog

GENRE_SYNONYMS: dict[str, str] = VOCABULARY.genre_synonyms

__all__ = [
    "GENRE_SYNONYMS",
    "YEAR_HI",
    "YEAR_LO",
    "CatalogExtractor",
    "Extraction",
    "Polarity",
    "TitleIndex",
    "TitleMention",
    "normalize",
    "title_index",
]

_ITEM_REF = re.compile(
    r"\b(?:item|item id|movie id|film id|id)(?:\s+#?\s*|\s*#\s*)(\d{1,12})\b", re.IGNORECASE
)
"""An explicit id only: "item 4", "item #4", "id 4" (never "ID4" inside a title such as
"Independence Day (ID4)")."""
_WATCHED: frozenset[Polarity] = frozenset({"liked", "disliked", "seen"})
"""Verdicts of someone who has watched the item (not a reaction to an unseen one)."""
_INSTEAD = re.compile(
    r"\b(?:instead|scratch that|make it (?:a |an |some )?|change (?:it|that) to|switch (?:it )?to|"
    r"on second thought|rather (?:have|see|watch) (?:a |an |some )?)\b",
    re.IGNORECASE,
)
"""Words that replace the genre asked for, not add to it."""
_ANY_YEARS = re.compile(
    r"\b(?:any (?:decade|year|era|time|period)s?|(?:the )?(?:decade|year|era|age) "
    r"(?:does ?n[o']?t|do ?n[o']?t|does not) matter|(?:old|new) or (?:new|old) is fine)\b",
    re.IGNORECASE,
)
"""Words that take back the years asked for."""
_USER_REF = re.compile(r"\buser(?:\s*id)?\s*#?\s*(\d{1,9})\b", re.IGNORECASE)


def _cue_before(text: str, start: int) -> bool:
    """Is there a polarity cue earlier in the sentence that holds text[start]?"""
    sentence = SENTENCE_END.split(text[:start])[-1].lower()
    return bool(POLARITY_BEFORE.search(sentence))


class Extraction(Preferences):
    """What one message says, grounded in the catalog: the Preferences it states (ids, genres of
    the catalog's vocabulary, at most one wish in `wishes`) plus facts about the message itself.

    Within one message an item has one polarity: a later verdict replaces an earlier one.

    >>> ex = Extraction(wanted_genres=["Comedy"]); ex.set_verdict(50, "liked")
    >>> ex.set_verdict(50, "seen"); (ex.liked, ex.seen, ex.is_empty())
    ([], [50], False)
    """

    years_given: bool = Field(default=False, description="The message stated a year range.")
    years_dropped: bool = Field(default=False, description=(
        "The message takes back the years asked for ('actually any decade is fine')."))
    ambiguous: list[PendingChoice] = Field(
        default_factory=list, description="Titles that could mean several items.")
    unknown_item_refs: list[int] = Field(
        default_factory=list, description="'item N' references to ids not in the catalog.")
    user_id: int | None = Field(
        default=None, description="A dataset user id the user gave ('I'm user 42')."
    )
    allow_repeats: bool = Field(default=False, description="The user asked to see items again.")
    reset: bool = Field(default=False, description="The user asked to start over.")
    injection: bool = Field(default=False, description=(
        "Words of a prompt-injection attempt: answered as usual, but not kept as a wish."))
    general_taste: bool = Field(default=False, description=(
        "The message speaks of the user's taste in general ('I tend to enjoy ...', "
        "'my favourites')."))
    decade_demanded: bool = Field(default=False, description=(
        "A decade said because shown items were too old or too new ('too old: the 70s, ideally')."))
    mentioned_titles: list[str] = Field(
        default_factory=list, description="Labels of the items the message named.")
    alternatives: dict[int, list[int]] = Field(default_factory=dict, description=(
        "Items taken for an exact title -> the longer titles the words also begin (for a note)."))
    asked_about: list[int] = Field(default_factory=list, description=(
        "Items named in a question ('who is in Heat?') or to describe another ('it's like "
        "Heat'): mentioned, never kept as preferences."))
    ungrounded_titles: list[str] = Field(default_factory=list, description=(
        "Catalog titles an LLM gave that the message does not name (dropped: a misreading)."))
    anchors: list[int] = Field(default_factory=list, description=(
        "Items the message asks for more like ('something like Toy Story')."))
    chosen: list[int] = Field(default_factory=list, description=(
        "Items given by id ('item 50') or picked in answer to 'which one did you mean?' "
        "(not read from words)."))
    dropped_genres: list[str] = Field(default_factory=list, description=(
        "Genres the message takes back ('forget the kids stuff', 'war is fine again')."))
    item_questions: list[ItemQuestion] = Field(default_factory=list, description=(
        "Questions about items ('why did you pick the first one?'): answered, never kept as "
        "preferences."))

    @property
    def wish(self) -> str | None:
        """The message's free-text wish, or None."""
        return self.wishes[0] if self.wishes else None

    def set_verdict(self, item_id: int, polarity: Polarity) -> None:
        """Record the message's verdict on an item, replacing any earlier one in this message."""
        for pol in POLARITIES:
            ids: list[int] = getattr(self, pol)
            if item_id in ids:
                ids.remove(item_id)
        getattr(self, polarity).append(item_id)

    def is_empty(self) -> bool:
        """True when the message states no preference, range, wish, choice or user id."""
        return not (self.mentioned() or self.wanted_genres or self.avoided_genres
                    or self.years_given or self.preferred_genres or self.preferred_decades
                    or self.wishes or self.ambiguous or self.user_id is not None)


@dataclass
class CatalogExtractor:
    """Rule-based, catalog-grounded extraction of preferences from one message.

    Usage (on a loaded catalog)::

        extractor = CatalogExtractor(catalog)
        ex = extractor.extract("I loved Star Wars but no horror", state)   # an Extraction
        state = apply_reading(state, ex)          # a new DialogueState (genrec.agent.state)
        extractor.find_titles("like Fargo (1996)")                         # TitleMentions
        extractor.genre_of("cartoons")                                     # 'Animation'
    """

    catalog: Catalog
    popularity: Mapping[int, int] | None = None
    """Rating counts per item (the ranker's training data): which film of a shared name people
    mean, and which films are too little known to take from a common word. None: words alone."""
    index: TitleIndex = field(init=False)
    prior: TitlePrior = field(init=False)
    genre_years: GenreYearReader = field(init=False)
    genres: GenreVocabulary = field(init=False)
    genre_map: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.index = title_index(self.catalog)
        self.prior = TitlePrior(self.popularity or {})
        self.genres = GenreVocabulary(self.catalog.genres)
        self.genre_map = self.genres.phrases
        years = self.index.years
        self.year_range = (years[0], years[-1]) if years else (YEAR_LO, YEAR_HI)
        self.genre_years = GenreYearReader(self.genres, self.index, self.year_range[1])

    def genre_of(self, term: str) -> str | None:
        """The catalog genre a word or phrase means ("sci-fi", "cartoons" -> Animation), or None."""
        return self.genres.genre_of(term)

    def find_titles(self, text: str) -> list[TitleMention]:
        """Catalog titles named in `text` (genre words are never taken for titles)."""
        return find_titles(self.index, text, not_titles=self.genre_map, prior=self.prior)

    # ---- the whole message --------------------------------------------------------------
    def extract(self, message: str, state: DialogueState | None = None) -> Extraction:
        """Extract everything one message says. `state` resolves "the first one" and pending
        choices.

        Each step reads one kind of thing and blanks what it took (offsets kept), so the next
        reads only the rest: questions about items, ids, the answer to a pending question, titles
        and list references with their verdicts, genres and years, and last the free-text wish.
        """
        state = state or DialogueState()
        ex = Extraction()
        text = message.strip()
        if not text:
            return ex
        ex.injection = bool(INJECTION.search(text))
        ex.allow_repeats = bool(
            REPEAT.search(
                re.sub(r"\b(?:fine|ok|okay|alright|good)\s+again\b", "", text, flags=re.I)
            )
        )
        ex.reset = bool(RESET.search(text))
        said = self._read_item_questions(ex, text, state)  # the message without its item questions
        masked = self._read_ids(ex, said)
        masked = self._read_pending_answer(ex, masked, state)
        masked, acts_text = self._read_titles(ex, masked, said, state)
        # only requests and statements of taste change genres and years; questions and descriptions
        # of a film ("it made me laugh", "is it scary?") do not
        masked = preference_text(masked, acts_text)
        masked = self._read_genres_and_years(ex, masked, said)
        self._read_changes_of_mind(ex, said, state)
        self._read_wish(ex, masked, said)
        return ex

    def _read_item_questions(self, ex: Extraction, text: str, state: DialogueState) -> str:
        """Questions about items, kept in `ex`; they are answered, not read for preferences: the
        message is returned without them."""
        masked = text
        for q in find_item_questions(text, state, self.find_titles):
            ex.item_questions.append(q)
            masked = blank(masked, q.start, q.end)
        return masked

    def _read_ids(self, ex: Extraction, masked: str) -> str:
        """Explicit item ids ("item 50", "recommend item 999999") and a user id ("I'm user 42")."""
        for m in _ITEM_REF.finditer(masked):
            iid = int(m.group(1))
            if iid in self.catalog:
                ex.liked.append(iid)
                ex.chosen.append(iid)
                ex.mentioned_titles.append(self.catalog[iid].label)
            else:
                ex.unknown_item_refs.append(iid)
            masked = blank(masked, m.start(), m.end())
        for m in _USER_REF.finditer(masked):
            ex.user_id = int(m.group(1))
            masked = blank(masked, m.start(), m.end())
        return masked

    def _read_pending_answer(self, ex: Extraction, masked: str, state: DialogueState) -> str:
        """An answer to "which one did you mean?": the option it picks takes the question's
        verdict."""
        if state.pending is None:
            return masked
        pick = pending_pick(masked, state.pending, self.catalog, self.find_titles)
        if pick is not None:
            ex.set_verdict(pick, state.pending.polarity)
            ex.chosen.append(pick)
            ex.mentioned_titles.append(self.catalog[pick].label)
            # the answer's year or ordinal picked the title; it is not a year constraint
            year = self.catalog[pick].year
            for rx in ([re.compile(rf"\b{year}\b")] if year else []) + [ORDINAL_REF]:
                masked = rx.sub(lambda m: " " * len(m.group(0)), masked)
        return masked

    def _read_titles(
        self, ex: Extraction, masked: str, said: str, state: DialogueState
    ) -> tuple[str, str]:
        """Titles named and references to the last list shown ("the first one", "#2 and 5"), with
        their verdicts recorded in `ex`. Returns the message with them blanked, and the text the
        sentence acts are read on (each title one plain word)."""
        mentions = self.find_titles(masked)
        if state.pending is not None and ex.liked + ex.disliked + ex.seen:
            # the title that answered the question is already recorded
            answered = [t for t in mentions if set(t.ids) & set(state.pending.options)]
            mentions = [t for t in mentions if t not in answered]
            for t in answered:
                masked = blank(masked, t.start, t.end)
        # "the first one", "#2 and 5" -> the last list shown (never a word inside a title)
        shown = state.last_recommended
        outside = masked
        for t in mentions:
            outside = blank(outside, t.start, t.end)
        # acts are read with each title as one plain word ("When Harry Met Sally... was great"
        # asks nothing)
        acts_text = said
        for t in mentions:
            acts_text = acts_text[:t.start] + "X".ljust(t.end - t.start) + acts_text[t.end:]
        # a question changes nothing: its titles are only mentioned, its references only asked
        # about
        asked = [t for t in mentions if act_at(acts_text, t.start) == "question"]
        for t in asked:
            ex.asked_about.extend(t.ids[:1])
            masked = blank(masked, t.start, t.end)
        mentions = [t for t in mentions if t not in asked]
        refs = (
            [r for r in list_references(outside) if act_at(acts_text, r.start) != "question"]
            if shown
            else []
        )
        for ref in refs:
            masked = blank(masked, ref.start, ref.end)
        # titles and references read together: "loved A, the third one and B" is one list
        spans: list[TitleMention | ListReference] = sorted(
            [*mentions, *refs], key=lambda x: x.start
        )
        self._read_verdicts(ex, masked, outside, spans, shown, state)
        masked = self._record_titles(ex, masked, mentions)
        judged = [(t.start, t.end) for t in mentions if not (t.weak or t.ambiguous or t.compared)]
        return descriptions_out(masked, judged), acts_text

    def _read_verdicts(
        self,
        ex: Extraction,
        masked: str,
        outside: str,
        spans: list[TitleMention | ListReference],
        shown: list[int],
        state: DialogueState,
    ) -> None:
        """The verdict on each title (set on its mention) and on each item a list reference points
        at (recorded in `ex`), read together as lists."""
        default = default_polarity(masked, spans)
        # titles alone in answer to "is there a film you loved?" are films, however common the
        # word ("Contact")
        answers_title_question = state.asking == "example" and default == "liked"
        read = list_verdicts(masked, spans, default=default)
        for span, pol, listed, judged in zip(spans, read.verdicts, read.listed, read.judged):
            if isinstance(span, TitleMention):
                echoed = echo_verdict(masked, span)
                span.polarity = echoed or pol
                if not (echoed or judged):  # no cue next to it: praise or blame in its sentence
                    span.polarity = sentence_verdict(masked, span.start, span.end) or pol
                span.compared = compared(masked, span.start)
                # a list of titles, or a cue before it in its sentence, says a film is meant
                span.weak = span.rare or (
                    span.weak
                    and not listed
                    and not _cue_before(masked, span.start)
                    and not answers_title_question
                )
                continue
            verdict = reference_verdict(outside, span.start, span.end)
            if listed and verdict in _WATCHED:  # a list of things seen: the list's verdict
                verdict = "rejected" if pol == "excluded" else pol
            for pos in span.positions:
                if -len(shown) <= pos < len(shown):
                    ex.set_verdict(shown[pos], verdict)

    def _record_titles(self, ex: Extraction, masked: str, mentions: list[TitleMention]) -> str:
        """Each title's verdict in `ex` (a weak or ambiguous one as a question to ask); returns the
        message with the titles blanked."""
        for t in mentions:
            if t.compared:  # "it's like X": named to describe a film, no verdict on X
                ex.asked_about.extend(t.ids[:1])
            elif t.weak:
                # a common word ("Heat") with nothing else saying a film is meant: ask, record
                # nothing
                if t.polarity in ("liked", "disliked"):
                    ex.ambiguous.append(
                        PendingChoice(mention=t.text, options=t.ids[:1], polarity=t.polarity)
                    )
                else:
                    ex.asked_about.extend(t.ids[:1])
            elif t.ambiguous:
                ex.ambiguous.append(
                    PendingChoice(mention=t.text, options=t.ids, polarity=t.polarity)
                )
            else:
                ex.set_verdict(t.ids[0], t.polarity)
                ex.mentioned_titles.append(self.catalog[t.ids[0]].label)
                if t.polarity == "liked" and MORE_LIKE.search(
                    masked[max(0, t.start - 40) : t.start]
                ):
                    ex.anchors.append(t.ids[0])  # "something like Toy Story": more like it
                if t.alternatives:
                    ex.alternatives[t.ids[0]] = list(t.alternatives)
            masked = blank(masked, t.start, t.end)
        return masked

    def _read_genres_and_years(self, ex: Extraction, masked: str, said: str) -> str:
        """Genres and years the message asks for or names as a taste; returns the message with
        names in capitals blanked ("Avengers: Infinity War" names no genre)."""
        read = self.genre_years.read(masked, said)
        genres, years = read.genres, read.years
        ex.wanted_genres, ex.avoided_genres, ex.preferred_genres = (
            genres.wanted, genres.avoided, genres.taste)
        ex.dropped_genres = genres.dropped
        ex.mood_genres = genres.moods
        ex.year_min, ex.year_max, ex.years_given = years.year_min, years.year_max, years.given
        ex.preferred_decades = [years.taste_decade] if years.taste_decade is not None else []
        ex.decade_demanded = read.decade_demanded
        ex.general_taste = read.general_taste
        return read.masked

    def _read_changes_of_mind(self, ex: Extraction, said: str, state: DialogueState) -> None:
        """A new genre said to replace the last ("make it a drama instead", "scratch that,
        fantasy") drops the genres wanted before; "any decade is fine" drops the years."""
        if ex.wanted_genres and _INSTEAD.search(said):
            ex.dropped_genres += [g for g in state.wanted_genres
                                  if g not in ex.wanted_genres and g not in ex.dropped_genres]
        if not ex.years_given and _ANY_YEARS.search(said):
            ex.years_dropped = True

    def _read_wish(self, ex: Extraction, masked: str, said: str) -> None:
        """The free-text wish: the message (moods left out) when words other than titles, genres,
        years and vague words are left, and it is no prompt injection."""
        masked = MOOD.sub(lambda m: " " * len(m.group(0)), masked)  # moods lean, never searched
        content = [
            t
            for t, _, _ in tokens(masked)
            if t not in STOP_WORDS
            and t not in VAGUE_WORDS
            and t not in self.genres.words
            and not t.isdigit()
            and t.rstrip("s") not in self.genre_map
            and len(t) > 2
        ]
        if content and not ex.injection:
            ex.wishes = [" ".join(MOOD.sub(" ", said).split())[:200]]

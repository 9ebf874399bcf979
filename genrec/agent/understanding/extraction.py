"""Catalog-grounded understanding: what one user message says, as an Extraction of Preferences.

Rules first (sentence acts, titles from genrec.agent.understanding.titles, their polarity, genres, years, intents);
an LLM's structured reading (genrec.agent.understanding.llm_reading) decides over them; `apply`
(`genrec.agent.state.apply_reading`) folds it into the state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import cast

from pydantic import Field
from rapidfuzz import fuzz, process

from genrec.agent.preferences import POLARITIES, Polarity, Preferences
from genrec.agent.state import DialogueState, PendingChoice
from genrec.agent.state import apply_reading as apply
from genrec.agent.understanding.acts import act_at, preference_text
from genrec.agent.understanding.genres import GenreVocabulary
from genrec.agent.understanding.polarity import (
    ListReference,
    list_references,
    list_verdicts,
    reference_verdict,
)
from genrec.agent.understanding.questions import ItemQuestion, find_item_questions
from genrec.agent.understanding.text import SENTENCE_END, blank, fold, normalize, tokens
from genrec.agent.understanding.titles import TitleIndex, TitleMention, find_titles, title_index
from genrec.agent.understanding.vocabulary import (
    INJECTION,
    MOOD,
    ORDINAL_REF,
    ORDINALS,
    POLARITY_AFTER,
    POLARITY_BEFORE,
    REPEAT,
    RESET,
    STOP_WORDS,
    VAGUE_WORDS,
    VOCABULARY,
)
from genrec.agent.understanding.years import YEAR_HI, YEAR_LO, read_years
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
    "apply",
    "normalize",
    "title_index",
]

_ITEM_REF = re.compile(
    r"\b(?:item|item id|movie id|film id|id)(?:\s+#?\s*|\s*#\s*)(\d{1,12})\b", re.IGNORECASE
)
"""An explicit id only: "item 4", "item #4", "id 4" (never "ID4" inside a title such as "Independence Day (ID4)")."""
_GENERAL_TASTE = re.compile(
    r"\b(?:tend to|usually|mostly|generally|typically|normally|favou?rites?|soft spot|"
    r"grew up|always|big fan|fan of|enjoy|enjoys|i like|i love|my taste|era)\b",
    re.IGNORECASE,
)
"""Cues of a general taste ("I tend to enjoy the 90s"), as opposed to a hedge on a wish ("the 90s, ideally")."""
_TOO_OLD_OR_NEW = re.compile(
    r"\btoo (?:old|dated|new|recent|modern)\b|\b(?:older|newer) than\b", re.IGNORECASE
)
_WATCHED: frozenset[Polarity] = frozenset({"liked", "disliked", "seen"})
"""Verdicts of someone who has watched the item (not a reaction to an unseen one)."""
_BACK_TO_IT = re.compile(
    r"\b(?:it|its|it's|that|this|that one|this one|them|those)\b", re.IGNORECASE
)
"""Words by which a sentence speaks of the title said just before it ("Alien. Who is in it?")."""
_USER_REF = re.compile(r"\buser(?:\s*id)?\s*#?\s*(\d{1,9})\b", re.IGNORECASE)
_IT_VERDICT = re.compile(
    r"(?:i\s+)?(?:really\s+|absolutely\s+)?(?:(?P<liked>loved|liked|enjoyed|adored) it|"
    r"(?P<disliked>hated|disliked|did ?n[o']?t like) it)\b"
)


def _cue_before(text: str, start: int) -> bool:
    """Is there a polarity cue earlier in the sentence that holds text[start]?"""
    sentence = SENTENCE_END.split(text[:start])[-1].lower()
    return bool(POLARITY_BEFORE.search(sentence))


_MORE_LIKE = re.compile(
    r"(?:\b(?:something|anything|movies?|films?|ones?|stuff|more|others?|similar|one)\s+"
    r"(?:\w+\s+)?(?:like|to)|\bsimilar to|\balong the lines of|\bin the vein of|\bsuch as|"
    r"\bin the spirit of|\bthe likes of|"
    r"^\W*like|\bmore like)\s+(?:the\s+)?$",
    re.IGNORECASE,
)
"""Words that ask for more like a title ("something like", "films similar to"), right before it."""
_YES = re.compile(
    r"^\W*(?:yes|yeah|yep|yup|right|correct|exactly|sure|that one|that's it|thats it|y)\b"
)
_NO = re.compile(r"^\W*(?:no|nope|nah|not that|wrong|neither|n)\b")
_TITLE_CASE = re.compile(
    r"\b[A-Z][\w'’]*(?:(?::\s*|\s+(?:(?:of|the|and|v|vs|in|on|a|an|to|at)\s+)?)[A-Z][\w'’]*)+"
)
"""Several capitalised words in a row ("Infinity War"): a name, read for no genre unless all genre words."""
_TITLE_LINKS = frozenset({"of", "the", "and", "v", "vs", "in", "on", "a", "an", "to", "at"})
_LIST_GLUE = frozenset(
    {
        "and",
        "or",
        "also",
        "maybe",
        "probably",
        "think",
        "i",
        "guess",
        "the",
        "a",
        "an",
        "oh",
        "um",
        "hmm",
        "well",
        "definitely",
        "both",
        "too",
        "plus",
        "lol",
        "lets",
        "see",
        "like",
        "say",
        "ok",
        "okay",
        "so",
        "yes",
        "yeah",
        "sure",
        "etc",
    }
)
"""Words a bare answer of titles may hold besides them ("I think Alien and Heat")."""
_ANSWER_ORDINAL = re.compile(
    r"\s*(?:(\d)|(" + "|".join(VOCABULARY.answer_ordinals) + r"))\W*")


class Extraction(Preferences):
    """What one message says, grounded in the catalog: the Preferences it states (ids, genres of
    the catalog's vocabulary, at most one wish in `wishes`) plus facts about the message itself.

    Within one message an item has one polarity: a later verdict replaces an earlier one.

    >>> ex = Extraction(wanted_genres=["Comedy"]); ex.set_verdict(50, "liked")
    >>> ex.set_verdict(50, "seen"); (ex.liked, ex.seen, ex.is_empty())
    ([], [50], False)
    """

    years_given: bool = Field(default=False, description="The message stated a year range.")
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
    general_taste: bool = Field(
        default=False,
        description=(
            "The message speaks of the user's taste in general ('I tend to enjoy ...', 'my favourites')."
        ),
    )
    decade_demanded: bool = Field(default=False, description=(
        "A decade said because shown items were too old or too new ('too old: the 70s, ideally')."))
    mentioned_titles: list[str] = Field(
        default_factory=list, description="Labels of the items the message named.")
    alternatives: dict[int, list[int]] = Field(default_factory=dict, description=(
        "Items taken for an exact title -> the longer titles the words also begin (for a note)."))
    asked_about: list[int] = Field(default_factory=list, description=(
        "Items named in a question ('who is in Heat?'): mentioned, never kept as preferences."))
    ungrounded_titles: list[str] = Field(default_factory=list, description=(
        "Catalog titles an LLM gave that the message does not name (dropped: a misreading)."))
    anchors: list[int] = Field(default_factory=list, description=(
        "Items the message asks for more like ('something like Toy Story')."))
    chosen: list[int] = Field(
        default_factory=list,
        description=(
            "Items given by id ('item 50') or picked in answer to 'which one did you mean?' (not read from words)."
        ),
    )
    dropped_genres: list[str] = Field(default_factory=list, description=(
        "Genres the message takes back ('forget the kids stuff', 'war is fine again')."))
    item_questions: list[ItemQuestion] = Field(
        default_factory=list,
        description=(
            "Questions about items ('why did you pick the first one?'): answered, never kept as preferences."
        ),
    )

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
        state = apply(state, ex)                                           # a new DialogueState
        extractor.find_titles("like Fargo (1996)")                         # TitleMentions
        extractor.genre_of("cartoons")                                     # 'Animation'
    """

    catalog: Catalog
    index: TitleIndex = field(init=False)
    genres: GenreVocabulary = field(init=False)
    genre_map: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.index = title_index(self.catalog)
        self.genres = GenreVocabulary(self.catalog.genres)
        self.genre_map = self.genres.phrases
        years = self.index.years
        self.year_range = (years[0], years[-1]) if years else (YEAR_LO, YEAR_HI)

    def genre_of(self, term: str) -> str | None:
        """The catalog genre a word or phrase means ("sci-fi", "cartoons" -> Animation), or None."""
        return self.genres.genre_of(term)

    def find_titles(self, text: str) -> list[TitleMention]:
        """Catalog titles named in `text` (genre words are never taken for titles)."""
        return find_titles(self.index, text, not_titles=self.genre_map)

    # ---- the whole message --------------------------------------------------------------
    def extract(self, message: str, state: DialogueState | None = None) -> Extraction:
        """Extract everything one message says. `state` resolves "the first one" and pending choices."""
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
        masked = text
        # questions about items are answered, not read for preferences
        for q in find_item_questions(text, state, self.find_titles):
            ex.item_questions.append(q)
            masked = blank(masked, q.start, q.end)
        said = masked  # the message without its item questions
        # explicit ids: "item 50", "recommend item 999999"
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
        # an answer to "which one did you mean?"
        if state.pending is not None:
            pick = self._resolve_pending(masked, state.pending)
            if pick is not None:
                ex.set_verdict(pick, state.pending.polarity)
                ex.chosen.append(pick)
                ex.mentioned_titles.append(self.catalog[pick].label)
                # the answer's year or ordinal picked the title; it is not a year constraint
                year = self.catalog[pick].year
                for rx in ([re.compile(rf"\b{year}\b")] if year else []) + [ORDINAL_REF]:
                    masked = rx.sub(lambda m: " " * len(m.group(0)), masked)
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
        # acts are read with each title as one plain word ("When Harry Met Sally... was great" asks nothing)
        acts_text = said
        for t in mentions:
            acts_text = acts_text[:t.start] + "X".ljust(t.end - t.start) + acts_text[t.end:]
        # a question changes nothing: its titles are only mentioned, its references only asked about
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
        default = self._default_polarity(masked, spans)
        # titles alone in answer to "is there a film you loved?" are films, however common the word ("Contact")
        answers_title_question = state.asking == "example" and default == "liked"
        read = list_verdicts(masked, spans, default=default)
        for span, pol, listed in zip(spans, read.verdicts, read.listed):
            if isinstance(span, TitleMention):
                span.polarity = self._echo_verdict(masked, span) or pol
                # a list of titles, or a cue before it in its sentence, says a film is meant
                span.weak = (
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
        for t in mentions:
            if t.weak:  # a common word ("Heat") with nothing else saying a film is meant: ask, record nothing
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
                if t.polarity == "liked" and _MORE_LIKE.search(
                    masked[max(0, t.start - 40) : t.start]
                ):
                    ex.anchors.append(t.ids[0])  # "something like Toy Story": more like it
                if t.alternatives:
                    ex.alternatives[t.ids[0]] = list(t.alternatives)
            masked = blank(masked, t.start, t.end)
        # only requests and statements of taste change genres and years; questions and descriptions
        # of a film ("it made me laugh", "is it scary?") do not
        masked = preference_text(masked, acts_text)
        masked = _TITLE_CASE.sub(
            lambda m: m.group(0) if self._genre_words_only(m.group(0)) else " " * len(m.group(0)),
            masked,
        )  # "Avengers: Infinity War" names no genre
        genres = self.genres.read(masked)
        ex.wanted_genres, ex.avoided_genres, ex.preferred_genres = (
            genres.wanted, genres.avoided, genres.taste)
        ex.dropped_genres = genres.dropped
        ex.mood_genres = genres.moods
        years = read_years(masked, latest=self.year_range[1])
        if not years.given:  # a range said in one sentence, a taste in another: the range holds
            given = [
                y
                for y in (
                    read_years(part, latest=self.year_range[1])
                    for part in SENTENCE_END.split(masked)
                )
                if y.given
            ]
            if given:
                years = replace(given[-1], taste_decade=years.taste_decade)
        ex.year_min, ex.year_max, ex.years_given = years.year_min, years.year_max, years.given
        ex.preferred_decades = [years.taste_decade] if years.taste_decade is not None else []
        ex.decade_demanded = bool(ex.preferred_decades and _TOO_OLD_OR_NEW.search(said))
        ex.general_taste = self._decade_as_taste(masked, said)
        masked = MOOD.sub(
            lambda m: " " * len(m.group(0)), masked
        )  # moods lean, they are never searched
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
        return ex

    def _genre_words_only(self, span: str) -> bool:
        words = [fold(w).rstrip("s") for w in re.findall(r"[\w'’-]+", span)]
        return all(w in self.genres.words or w.rstrip("s") in self.genres.words or w in _TITLE_LINKS
                   or w in ("movie", "film", "rom", "com", "i") for w in words)

    @staticmethod
    def _echo_verdict(text: str, t: TitleMention) -> Polarity | None:
        """The verdict on a title said alone as its own sentence: from the next one ("Twelve
        Monkeys? I really liked it."), else liked, as a bare answer is ("Psycho. Any other ideas?"),
        unless it ends in a question mark or the next sentence is about it ("Alien. Who is in it?")."""
        before = SENTENCE_END.split(text[:t.start])[-1]
        after = text[t.end:]
        stop = SENTENCE_END.match(after.lstrip(" )(0123456789"))
        if before.strip(" \"'“”") or not stop:
            return None
        nxt = after.lstrip(" )(0123456789")[1:].lstrip(" ?!.")
        m = POLARITY_AFTER.match(nxt[:60].lower()) or _IT_VERDICT.match(nxt[:60].lower())
        if m and m.lastgroup:
            return cast(Polarity, m.lastgroup)
        if stop.group(0) in ".!" and not _BACK_TO_IT.search(SENTENCE_END.split(nxt)[0]):
            return "liked"
        return None

    @staticmethod
    def _default_polarity(masked: str, spans: list[TitleMention | ListReference]) -> Polarity:
        """The verdict on a title said with no cue: liked when the message is only titles (an
        answer: "Toy Story and Fargo"), else seen (named, not judged: "the last one I saw was X")."""
        rest = masked
        for sp in spans:
            rest = blank(rest, sp.start, sp.end)
        rest = _TITLE_CASE.sub(
            " ", rest
        )  # other titles of the answer ("Elf, Groundhog Day, Home Alone")
        words = [t for t, s, _ in tokens(rest) if t not in _LIST_GLUE and not rest[s].isupper()]
        return "liked" if not words else "seen"

    def _decade_as_taste(self, masked: str, said: str) -> bool:
        """Is the decade said as a general taste? Only when every sentence naming one has a taste
        cue ("#4 is from the 1990s, that usually works for me"); one without ("Tonight a drama,
        ideally from the nineties") wants that decade now, whatever other sentences say."""
        with_decade = [s for s in SENTENCE_END.split(masked)
                       if read_years(s, latest=self.year_range[1]).taste_decade is not None]
        if not with_decade:
            return bool(_GENERAL_TASTE.search(said))
        return all(_GENERAL_TASTE.search(s) for s in with_decade)

    def _resolve_pending(self, text: str, pending: PendingChoice) -> int | None:
        """The option an answer to "which one did you mean?" picks: by year, ordinal or title."""
        low = fold(text)
        if len(pending.options) == 1:  # "Did you mean Heat (1995)?"
            if _YES.match(low):
                return pending.options[0]
            if _NO.match(low):
                return None
        for y in re.findall(r"\b(\d{4})\b", low):
            hit = [o for o in pending.options if self.catalog[o].year == int(y)]
            if hit:
                return hit[0]
        m = ORDINAL_REF.search(text) or _ANSWER_ORDINAL.fullmatch(low)
        if m:
            g1, g2 = m.group(1), m.group(2)
            pos = (
                ORDINALS.get(g1.lower())
                if g1 and not g1.isdigit()
                else (
                    int(g1) - 1
                    if g1
                    else (int(g2) - 1 if g2 and g2.isdigit() else ORDINALS.get(g2 or ""))
                )
            )
            if pos is not None and -len(pending.options) <= pos < len(pending.options):
                return pending.options[pos]
        for mention in self.find_titles(text):
            hits = [i for i in mention.ids if i in pending.options]
            if len(hits) == 1 or (hits and not mention.ambiguous):
                return hits[0]
        names = {o: normalize(self.catalog[o].title) for o in pending.options}
        best = process.extractOne(normalize(text), names, scorer=fuzz.ratio, score_cutoff=85)
        if best:
            return best[2]
        return None

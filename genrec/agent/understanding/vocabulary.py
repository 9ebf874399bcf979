"""The words understanding reads: genre synonyms, polarity, negation and taste cues, ordinals,
decades, year phrases and intents, kept as data in vocabulary.json and compiled here once.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from pydantic import BaseModel, Field

from genrec.agent.understanding.text import SENTENCE_END


class YearBounds(BaseModel):
    """Words that bound a year ("after 1990", "up to 2000", "1995 onwards")."""

    negations: list[str] = Field(description="Words that turn a bound around ('not after 1990').")
    after: list[str] = Field(description="Lower bounds ('since 1990').")
    at: list[str] = Field(description="A year on its own ('from 1995', 'in 1995').")
    before: list[str] = Field(description="Upper bounds ('until 2000').")
    exclusive: list[str] = Field(description="Bounds that leave the year out ('after 1990').")
    and_later: list[str] = Field(description="Suffixes that open a range upwards ('1995 onwards').")
    and_earlier: list[str] = Field(description="Suffixes that open a range downwards ('or older').")


class Vocabulary(BaseModel):
    """Every word table of understanding (the schema of vocabulary.json).

    Cue lists hold regular-expression fragments (``"dislike[sd]?"``); each is matched as a whole
    word.

    >>> v = Vocabulary.load(); v.genre_synonyms["cartoons"], v.ordinals["last"]
    ('Animation', -1)
    """

    articles: list[str] = Field(description="Leading words a title may drop ('The Matrix').")
    genre_synonyms: dict[str, str] = Field(
        description="Phrase -> MovieLens genre; mapped onto the catalog's own genres.")
    common_title_words: list[str] = Field(
        description="One-word titles too common to count as a title when written in lower case.")
    stop_words: list[str] = Field(
        description="Words that are never a title or a wish on their own."
    )
    title_cue_words: list[str] = Field(
        description="Words after which a misspelt title is looked for ('I loved shawshenk ...').")
    polarity_cues_before: dict[str, list[str]] = Field(
        description="Cues before a title, by polarity, in the order they are tried.")
    polarity_cues_after: dict[str, list[str]] = Field(
        description="Verdicts after a title ('... was boring'), by polarity.")
    reference_cues: dict[str, list[str]] = Field(
        description="Verdicts on a list position ('the third one sounds good', "
        "'not the second one'): "
        "disliked, neutral, liked (for items the user has seen: seen cues), interested, rejected."
    )
    plural_references: list[str] = Field(
        description="Words by which a verdict covers a whole list ('liked them').")
    genre_negations: list[str] = Field(description="Cues before a genre that avoid it.")
    genre_dismissals: list[str] = Field(
        description="Endings after a genre that avoid it ('horror is not my thing').")
    genre_turn_offs: list[str] = Field(
        description="Verbs after a genre that avoid it without a 'not' ('fantasy leaves me cold').")
    taste_cues: list[str] = Field(
        description="Cues that make a genre or decade a matter of taste (a boost), not a request.")
    strict_cues: list[str] = Field(description="Cues that keep a genre a request ('only comedy').")
    contrast_words: list[str] = Field(description="Words that end a polarity's reach ('but').")
    injection_phrases: list[str] = Field(description="Prompt-injection attempts (refused).")
    repeat_phrases: list[str] = Field(description="Asks to see the last list again.")
    reset_phrases: list[str] = Field(description="Asks to start the conversation over.")
    ordinals: dict[str, int] = Field(description="Ordinal word -> list position (-1 is the last).")
    ordinal_nouns: list[str] = Field(description="Nouns after an ordinal ('the second film').")
    answer_ordinals: list[str] = Field(
        description="Ordinals that answer 'which one did you mean?' on their own.")
    decade_words: dict[str, int] = Field(description="Decade word -> first year ('sixties').")
    decade_negations: list[str] = Field(description="Cues before a decade that drop it.")
    year_bounds: YearBounds
    recent_words: list[str] = Field(description="Words that ask for recent items ('latest').")
    kids_cues: list[str] = Field(
        description="Phrases that ask for items for children ('for my 6 year old', "
        "'family-friendly')."
    )
    adult_cues: list[str] = Field(
        description="Phrases that ask for grown-up items ('something more adult'): "
        "children's items avoided."
    )
    genre_kinds: list[str] = Field(
        description="Words that make a genre word name one kind of it ('potty humor', 'stupid "
        "comedy'): not liking that kind does not avoid the genre.")
    genre_combos: dict[str, list[str]] = Field(
        description="Phrases that name two genres at once ('rom com': Romance and Comedy).")
    kids_avoid: list[str] = Field(description="Genres left out when the items are for children.")
    mood_words: dict[str, list[str]] = Field(
        description="Mood phrases -> genres they lean to ('something light': Comedy): "
        "a boost, never a "
        "filter, and never searched as title words."
    )
    vague_words: list[str] = Field(
        description="Words of an opener that say nothing about taste ('tonight', 'ideas'): "
        "never a wish."
    )

    @classmethod
    def load(cls) -> Vocabulary:
        """The vocabulary shipped with the package (genrec/agent/vocabulary.json), read once."""
        return _load()


@lru_cache(maxsize=1)
def _load() -> Vocabulary:
    text = (
        resources.files("genrec.agent.understanding")
        .joinpath("vocabulary.json")
        .read_text(encoding="utf-8")
    )
    return Vocabulary.model_validate_json(text)


def any_word(fragments: list[str], flags: int = 0) -> re.Pattern[str]:
    r"""One pattern matching any fragment as a whole word.

    >>> any_word(["start over", "reset"]).pattern
    '\\b(?:start over|reset)\\b'
    """
    return re.compile(r"\b(?:" + "|".join(fragments) + r")\b", flags)


def cue_groups(groups: dict[str, list[str]]) -> re.Pattern[str]:
    r"""One pattern whose named group (``m.lastgroup``) says which list matched.

    >>> cue_groups({"liked": ["loved?"], "seen": ["saw"]}).pattern
    '(?P<liked>\\bloved?\\b)|(?P<seen>\\bsaw\\b)'
    """
    return re.compile("|".join(f"(?P<{name}>" + "|".join(rf"\b{f}\b" for f in frags) + ")"
                               for name, frags in groups.items()))


VOCABULARY = Vocabulary.load()
ARTICLES = frozenset(VOCABULARY.articles)
STOP_WORDS = frozenset(VOCABULARY.stop_words)
COMMON_TITLE_WORDS = frozenset(VOCABULARY.common_title_words)
ORDINALS = VOCABULARY.ordinals
VAGUE_WORDS = frozenset(VOCABULARY.vague_words)
KIDS = any_word(VOCABULARY.kids_cues, re.IGNORECASE)
ADULT = any_word(VOCABULARY.adult_cues, re.IGNORECASE)
MOOD = re.compile(
    r"\b(?:"
    + "|".join(sorted(map(re.escape, VOCABULARY.mood_words), key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)
DECADE_WORDS = VOCABULARY.decade_words

POLARITY_BEFORE = cue_groups(VOCABULARY.polarity_cues_before)
POLARITY_AFTER = cue_groups(VOCABULARY.polarity_cues_after)
VERDICT_AFTER = re.compile(
    r"\s*(?:\(\d{4}\)\s*)?(?:(?:movie|film)\s+)?(?:(?:which|that)\s+)?(?:(?:was|is|were)\s+"
    r"(?:so\s+|really\s+|pretty\s+)?(?:great|good|awesome|amazing|fantastic|excellent|brilliant|"
    r"funny|terrible|awful|boring|bad|meh|ok|okay|one of my|my (?:all time )?favou?rite)\b|"
    + POLARITY_AFTER.pattern
    + ")"
)
"""A verdict right after a title says a film is meant: "alien was great", "Fargo was a very good
movie", "Star Wars which I also enjoyed", "Scream is one of my favorite movies" (every after-cue
of the vocabulary)."""
OTHER_PEOPLE = r"(?:he|she|my (?:wife|husband|kids?|son|daughter|partner|friends?|dad|mom|mum))"
"""Subjects whose verdict is not the writer's ("my dad loved it", "he hated it")."""
PLURAL = any_word(VOCABULARY.plural_references)
REFERENCE_CUES = {
    name: any_word(frags, re.IGNORECASE) for name, frags in VOCABULARY.reference_cues.items()
}
CONTRAST = re.compile(any_word(VOCABULARY.contrast_words).pattern + r"|[.;!?\n]")
TASTE = any_word(VOCABULARY.taste_cues)
STRICT = any_word(VOCABULARY.strict_cues)
INJECTION = re.compile("|".join(VOCABULARY.injection_phrases), re.IGNORECASE)
REPEAT = any_word(VOCABULARY.repeat_phrases, re.IGNORECASE)
RESET = any_word(VOCABULARY.reset_phrases, re.IGNORECASE)
ORDINAL_REF = re.compile(
    r"\b(?:the\s+)(" + "|".join(ORDINALS) + r")(?:\s+(?:" + "|".join(VOCABULARY.ordinal_nouns)
    + r"))?\b|(?:#|\bnumbers?\s+|\bpositions?\s+|\bno\.\s*)(\d{1,2})\b", re.IGNORECASE)
LIST_MORE_REF = re.compile(
    r"\s*(?:,|\band\b|&|\bor\b)\s*(?:,|\band\b)?\s*(?:the\s+)?(?:#|numbers?\s+|"
    r"positions?\s+)?(?:(\d{1,2})\b|("
    + "|".join(o for o in ORDINALS if not o[0].isdigit())
    + r")\b)(?:\s+(?:"
    + "|".join(VOCABULARY.ordinal_nouns)
    + r")s?\b)?",
    re.IGNORECASE,
)
"""A further list position right after a reference: "#5 and 7", "numbers 1, 4 and 9", "the ninth
and the tenth one"."""


def is_taste(text: str, start: int, end: int) -> bool:
    """Is the phrase at text[start:end] said as a matter of taste: its sentence has a taste cue and
    no 'only'/'just'? Sentences end at . ; ! ? or a new line.

    >>> t = "I usually enjoy drama. Tonight only comedy."
    >>> is_taste(t, 16, 21), is_taste(t, 37, 43)
    (True, False)
    """
    stops = list(SENTENCE_END.finditer(text, 0, start))
    lo = stops[-1].end() if stops else 0
    nxt = SENTENCE_END.search(text, end)
    sentence = text[lo: nxt.start() if nxt else len(text)].lower()
    return bool(TASTE.search(sentence)) and not STRICT.search(sentence)

"""The genres and years a message asks for or names as a taste, read from what is left of it once
its titles are taken (names in capitals and lower-case titles name no genre).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from genrec.agent.understanding.answers import TITLE_CASE
from genrec.agent.understanding.genres import GenresSaid, GenreVocabulary
from genrec.agent.understanding.text import SENTENCE_END, blank, fold, tokens
from genrec.agent.understanding.titles import TitleIndex
from genrec.agent.understanding.vocabulary import STOP_WORDS
from genrec.agent.understanding.years import YearsSaid, read_years

_GENERAL_TASTE = re.compile(
    r"\b(?:tend to|usually|mostly|generally|typically|normally|favou?rites?|soft spot|"
    r"grew up|always|big fan|fan of|enjoy|enjoys|i like|i love|my taste|era)\b",
    re.IGNORECASE,
)
"""Cues of a general taste ("I tend to enjoy the 90s"), as opposed to a hedge on a wish ("the 90s,
ideally")."""
_TOO_OLD_OR_NEW = re.compile(
    r"\btoo (?:old|dated|new|recent|modern)\b|\b(?:older|newer) than\b", re.IGNORECASE
)
_FILM_NOUNS = frozenset("story stories tale tales movie film flick show series".split())
"""Words that make a genre phrase, not a title ("a crime story", "a war movie")."""
_TITLE_LINKS = frozenset({"of", "the", "and", "v", "vs", "in", "on", "a", "an", "to", "at"})


@dataclass(frozen=True)
class GenresAndYears:
    """What a message says of genres and years, and the message with the names it skipped
    blanked."""

    genres: GenresSaid
    years: YearsSaid
    decade_demanded: bool
    """A decade said because shown items were too old or too new."""
    general_taste: bool
    """The decade (or the message) speaks of the user's taste in general."""
    masked: str


@dataclass(frozen=True)
class GenreYearReader:
    """Reads genres and years against the catalog's genre words and titles."""

    genres: GenreVocabulary
    index: TitleIndex
    latest: int

    def read(self, masked: str, said: str) -> GenresAndYears:
        """Genres and years of `masked` (titles, ids and questions already blanked); `said` is the
        whole message, for cues."""
        masked = TITLE_CASE.sub(
            lambda m: m.group(0) if self._genre_words_only(m.group(0)) else " " * len(m.group(0)),
            masked,
        )
        genres = self.genres.read(self._title_phrases_out(masked))
        years = read_years(masked, latest=self.latest)
        if not years.given:  # a range said in one sentence, a taste in another: the range holds
            given = [y for y in (read_years(part, latest=self.latest)
                                 for part in SENTENCE_END.split(masked)) if y.given]
            if given:
                years = replace(given[-1], taste_decade=years.taste_decade)
        demanded = bool(years.taste_decade is not None and _TOO_OLD_OR_NEW.search(said))
        return GenresAndYears(genres, years, demanded, self._decade_as_taste(masked, said), masked)

    def _title_phrases_out(self, masked: str) -> str:
        """`masked` without the lower-case titles and franchise names that hold a genre word and a
        word of their own ("a new star wars", "war of the worlds"): they name no genre."""
        toks = tokens(masked)
        i = 0
        while i < len(toks):
            for n in range(min(self.index.max_tokens, len(toks) - i), 1, -1):
                words = [t for t, _, _ in toks[i:i + n]]
                key = " ".join(words)
                genre = [w for w in words if w in self.genres.words
                         or w.rstrip("s") in self.genres.words]
                own = [w for w in words if w not in STOP_WORDS and w not in genre
                       and w not in _FILM_NOUNS]
                if (key in self.index.exact or key in self.index.prefix) and own and genre and (
                        key not in self.genres.phrases):
                    masked = blank(masked, toks[i][1], toks[i + n - 1][2])
                    i += n - 1
                    break
            i += 1
        return masked

    def _genre_words_only(self, span: str) -> bool:
        words = [fold(w).rstrip("s") for w in re.findall(r"[\w'’-]+", span)]
        return all(w in self.genres.words or w.rstrip("s") in self.genres.words or w in _TITLE_LINKS
                   or w in ("movie", "film", "rom", "com", "i") for w in words)

    def _decade_as_taste(self, masked: str, said: str) -> bool:
        """Is the decade said as a general taste? Only when every sentence naming one has a taste
        cue ("#4 is from the 1990s, that usually works for me"); one without ("Tonight a drama,
        ideally from the nineties") wants that decade now, whatever other sentences say."""
        with_decade = [s for s in SENTENCE_END.split(masked)
                       if read_years(s, latest=self.latest).taste_decade is not None]
        if not with_decade:
            return bool(_GENERAL_TASTE.search(said))
        return all(_GENERAL_TASTE.search(s) for s in with_decade)

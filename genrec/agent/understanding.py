"""Catalog-grounded understanding: titles, genres, years, negation and intents from a user message.

Rules first (fuzzy title matching against the catalog with rapidfuzz, genre synonyms, decade and
year phrases, negation cues); an LLM's structured extraction is merged in after validation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, ValidationError
from rapidfuzz import fuzz, process

from genrec.agent.state import DialogueState, PendingChoice
from genrec.data import Catalog

Polarity = Literal["liked", "disliked", "seen", "excluded"]

YEAR_LO, YEAR_HI = 1870, 2035
_ARTICLES = {"the", "a", "an"}

# phrase (normalised) -> canonical MovieLens genre; mapped onto the catalog's own vocabulary
GENRE_SYNONYMS: dict[str, str] = {
    "action": "Action", "action packed": "Action", "explosions": "Action",
    "adventure": "Adventure", "adventures": "Adventure",
    "animation": "Animation", "animated": "Animation", "cartoon": "Animation",
    "cartoons": "Animation", "anime": "Animation",
    "children": "Children's", "childrens": "Children's", "kids": "Children's", "kid": "Children's",
    "family": "Children's", "for children": "Children's",
    "comedy": "Comedy", "comedies": "Comedy", "funny": "Comedy", "humor": "Comedy",
    "humour": "Comedy", "hilarious": "Comedy", "laugh": "Comedy",
    "crime": "Crime", "gangster": "Crime", "gangsters": "Crime", "mafia": "Crime", "heist": "Crime",
    "documentary": "Documentary", "documentaries": "Documentary", "docs": "Documentary",
    "drama": "Drama", "dramas": "Drama", "dramatic": "Drama",
    "fantasy": "Fantasy",
    "film noir": "Film-Noir", "film-noir": "Film-Noir", "noir": "Film-Noir",
    "horror": "Horror", "scary": "Horror", "slasher": "Horror", "frightening": "Horror",
    "creepy": "Horror",
    "musical": "Musical", "musicals": "Musical",
    "mystery": "Mystery", "mysteries": "Mystery", "whodunit": "Mystery",
    "romance": "Romance", "romantic": "Romance", "romances": "Romance", "love story": "Romance",
    "rom com": "Romance", "romcom": "Romance",
    "sci fi": "Sci-Fi", "scifi": "Sci-Fi", "sci-fi": "Sci-Fi", "science fiction": "Sci-Fi",
    "sf": "Sci-Fi", "space": "Sci-Fi",
    "thriller": "Thriller", "thrillers": "Thriller", "suspense": "Thriller",
    "suspenseful": "Thriller",
    "war": "War", "war movie": "War", "war movies": "War", "war film": "War",
    "western": "Western", "westerns": "Western", "cowboy": "Western", "cowboys": "Western",
}

# words that are catalog titles but too common to count as a title when written in lower case
_COMMON = set(
    """contact faithful fallen careful caught loaded reckless twisted nowhere mother michael
    shopping underground unforgettable infinity century powder target heavy naked giant glory
    shine fresh friday touch trust smoke steel speed solo scream psycho fear fall kids boys faces
    jack north safe ghost crash heat babe bean blink bliss bogus bound buddy hush ripe sprung
    squeeze stag stalker tainted amateur phenomenon speechless multiplicity restoration breakdown
    daylight disclosure outbreak turbulence twilight wonderland witness volcano sleepers sleeper
    threesome thinner sirens drunks chasers captives deceiver firestorm fearless homage hideaway
    incognito junior malice mirage persuasion priest ransom commandments anything something
    movies movie films film recommend please thanks thank hello harlem traveller species
    virtuosity spellbound sphere switchback bulletproof boomerang cliffhanger assassins
    """.split()
)
_STOP = set(
    """i me my we you your it its a an the and or but of to in on for with at by from as is are
    was were be been am do did does dont don't not no yes ok okay please some any something
    anything movie movies film films watch watched see seen want would like love liked loved
    really very more much good great nice best recommend recommendation recommendations suggest
    show give me tell about what which that this these those one ones can could should get
    lets let's maybe also too just kind sort type hi hey hello thanks thank so now again other
    another different new but hated hate disliked dislike dislikes enjoyed enjoy adore adored fan
    big am im i'm ive i've id i'd after before since until nothing everything all have has had
    our us they them their there here how why where when who whom will shall might must""".split()
)
_TRIGGERS = re.compile(
    r"\b(?:liked|loved|like|love|enjoyed|enjoy|adore|adored|hated|hate|disliked|dislike|seen|"
    r"watched|saw|than|not|as|about|to|is|was)\s+$"
)

_POLARITY_CUES = re.compile(
    r"(?P<disliked>\bhated?\b|\bhating\b|\bdislike[sd]?\b|\bdid ?n[o']?t like\b|\bdo ?n[o']?t like\b|"
    r"\bdoes ?n[o']?t like\b|\bca ?n[o']?t stand\b|\bcould ?n[o']?t stand\b|\bnot a fan of\b|"
    r"\bwas ?n[o']?t a fan of\b|\bnot into\b|\bbored by\b|\bboring\b|\bterrible\b|\bawful\b|"
    r"\bworst\b|\bdetest(?:ed)?\b|\bnot like\b)"
    r"|(?P<excluded>\bnot\b|\bno\b|\bexcept\b|\bother than\b|\bbesides\b|\bnothing like\b|"
    r"\bwithout\b|\bskip\b|\bavoid\b|\bdo ?n[o']?t (?:show|recommend|suggest)\b|\bexcluding\b)"
    r"|(?P<seen>\balready (?:seen|watched|saw)\b|\b(?:have|i've|ive|i have) (?:already )?"
    r"(?:seen|watched)\b|\bseen\b|\bwatched\b|\bsaw\b)"
    r"|(?P<liked>\blike[sd]?\b|\blove[sd]?\b|\bloving\b|\benjoy(?:ed|s)?\b|\badore[sd]?\b|"
    r"\bfavou?rites?\b|\bfan of\b|\bsimilar to\b|\bsuch as\b|\bgreat\b|\bamazing\b|\bawesome\b)"
)
_POST_CUES = re.compile(
    r"(?P<disliked>\b(?:was|is|were) (?:terrible|awful|boring|bad|horrible|dull|overrated)\b|"
    r"\bsucked\b|\bhated (?:it|them)\b|\bdid ?n[o']?t like (?:it|them)\b|\bpretty bad\b|"
    r"\b(?:a )?let ?down\b|\bnot a fan\b|\bdisappointing\b|\bdisappointed\b)"
    r"|(?P<liked>\b(?:loved|liked|enjoyed) (?:it|them)\b|\b(?:was|is|were) (?:great|amazing|awesome|"
    r"excellent|fantastic|good|brilliant)\b)"
    r"|(?P<seen>\b(?:seen|watched|saw) (?:it|that)\b)"
)
_GENRE_NEG = re.compile(
    r"\b(?:no|not|nothing|without|hate[sd]?|dislike[sd]?|avoid|except|but not|anything but|"
    r"never|less|non|do ?n[o']?t (?:like|want|enjoy)|not too|not into|can ?n[o']?t stand|"
    r"skip|isn't|aren't|nor)\b"
)
# "horror, which is not really my thing" / "westerns are not for me": the negation follows the genre
_GENRE_NEG_AFTER = re.compile(
    r"[\s.]*(?:which|that|they|it)?\s*(?:is|are|s)?\s*(?:not|never) (?:really )?(?:my thing|for me)\b"
)
# a genre or decade said as a matter of taste ("I usually enjoy drama", "most of my favourites are
# from the 90s") is a preference to boost; said as a request ("a comedy from the 80s") a constraint
_TASTE = re.compile(
    r"\b(?:usually|mostly|normally|generally|typically|tend to|big fan|fan of|favou?rites?|"
    r"like most|love most|enjoy|enjoys|i like|i love|also like|open to|fine too|as well|soft spot|"
    r"grew up|my taste|ideally|prefer|preferably|rate highly)\b")
_STRICT = re.compile(r"\b(?:only|just|strictly|must|nothing but|has to be|have to be)\b")
_LIST_GAP = re.compile(r"[\s,\"“”']*(?:and|or|&|,)?[\s\"“”']*")
_CONTRAST = re.compile(r"\b(?:but|however|although|though|whereas|while|yet)\b|[.;!?\n]")
_SENTENCE = re.compile(r"[.;!?\n]")

_INJECTION = re.compile(
    r"ignore (?:all |any |your |the |previous |prior |above )*(?:instructions|rules|prompt)|"
    r"system prompt|your (?:instructions|prompt|rules)|developer mode|jailbreak|"
    r"(?:print|reveal|show|repeat|tell me|output|leak) (?:me )?(?:your|the) (?:hidden |initial |"
    r"original )?(?:prompt|instructions|system)|disregard (?:all |your |previous )*instructions|"
    r"you are now (?:a|an|dan)\b|act as (?:a|an) (?:different|unrestricted)",
    re.IGNORECASE,
)
_REPEAT = re.compile(
    r"\b(?:again|repeat|same (?:ones|list|movies|films)|show (?:me )?(?:those|them|that list)|"
    r"what were (?:they|those))\b", re.IGNORECASE)
_RESET = re.compile(r"\b(?:start over|forget (?:everything|all)|reset|new conversation)\b",
                    re.IGNORECASE)
_ITEM_REF = re.compile(r"\b(?:item|item id|movie id|film id|id)\s*#?\s*(\d{1,12})\b", re.IGNORECASE)
_USER_REF = re.compile(r"\buser(?:\s*id)?\s*#?\s*(\d{1,9})\b", re.IGNORECASE)
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "sixth": 5,
             "seventh": 6, "eighth": 7, "ninth": 8, "tenth": 9, "1st": 0, "2nd": 1, "3rd": 2,
             "4th": 3, "5th": 4, "last": -1}
_ORDINAL_RE = re.compile(
    r"\b(?:the\s+)(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|1st|2nd|"
    r"3rd|4th|5th|last)(?:\s+(?:one|movie|film|suggestion|recommendation|pick))?\b|"
    r"(?:#|\bnumber\s+|\bno\.\s*)(\d{1,2})\b", re.IGNORECASE)
_DECADE_WORDS = {"twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950,
                 "sixties": 1960, "seventies": 1970, "eighties": 1980, "nineties": 1990}


def _is_taste(text: str, start: int, end: int) -> bool:
    """Is the phrase at text[start:end] said as a matter of taste (its sentence has a taste cue
    and no 'only'/'just')? Sentences end at . ; ! ? or a new line."""
    stops = list(_SENTENCE.finditer(text, 0, start))
    lo = stops[-1].end() if stops else 0
    nxt = _SENTENCE.search(text, end)
    sentence = text[lo: nxt.start() if nxt else len(text)].lower()
    return bool(_TASTE.search(sentence)) and not _STRICT.search(sentence)


def normalize(text: str) -> str:
    """Lower case, no accents, '&' -> 'and', punctuation removed, single spaces."""
    return " ".join(tok for tok, _, _ in _tokens(text))


def _tokens(text: str) -> list[tuple[str, int, int]]:
    """(normalised token, start, end) for each word of `text` (offsets into the original)."""
    out = []
    for m in re.finditer(r"[^\W_]+(?:['’][^\W_]+)*|&", text):
        raw = m.group(0)
        tok = "and" if raw == "&" else _fold(raw).replace("'", "").replace("’", "")
        if tok:
            out.append((tok, m.start(), m.end()))
    return out


def _fold(s: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", s.lower()) if not unicodedata.combining(c))


@dataclass
class TitleMention:
    """A stretch of the message that names one catalog item (or several, when ambiguous)."""

    text: str
    start: int
    end: int
    ids: list[int]
    ambiguous: bool = False
    polarity: Polarity = "liked"


class TitleIndex:
    """Normalised catalog titles for exact n-gram lookup, franchise prefixes and fuzzy matching."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.exact: dict[str, list[int]] = {}
        self.prefix: dict[str, set[int]] = {}
        self.key_of: dict[int, str] = {}
        for it in catalog:
            names = [it.title]
            alt = re.match(r"^(.*?)\s*\(([^()]*)\)$", it.title)
            if alt:
                names = [alt.group(1), alt.group(2)]
            for name in names:
                toks = [t for t, _, _ in _tokens(name)]
                if toks and toks[0] in _ARTICLES and len(toks) > 1:
                    toks = toks[1:]
                if not toks:
                    continue
                key = " ".join(toks)
                self.key_of.setdefault(it.item_id, key)
                self.exact.setdefault(key, [])
                if it.item_id not in self.exact[key]:
                    self.exact[key].append(it.item_id)
                for n in range(1, len(toks)):
                    self.prefix.setdefault(" ".join(toks[:n]), set()).add(it.item_id)
        self.keys = list(self.exact)
        self.max_tokens = max((len(k.split()) for k in self.keys), default=1)
        self.years = sorted({it.year for it in catalog if it.year})

    def options(self, key: str) -> list[int]:
        """Every item the normalised `key` could mean: exact titles plus titles it begins."""
        ids = list(self.exact.get(key, []))
        ids += [i for i in sorted(self.prefix.get(key, ())) if i not in ids]
        return ids

    def resolve(self, title: str, *, cutoff: float = 88.0) -> int | None:
        """One item id for a title written by an LLM or a user ("Star Wars (1977)"), or None."""
        year = None
        m = re.search(r"\((\d{4})\)\s*$|\b(\d{4})\s*$", title)
        if m:
            year = int(m.group(1) or m.group(2))
            title = title[: m.start()]
        toks = [t for t, _, _ in _tokens(title)]
        if toks and toks[0] in _ARTICLES and len(toks) > 1:
            toks = toks[1:]
        key = " ".join(toks)
        if not key:
            return None
        ids = self.exact.get(key)
        if not ids:
            best = process.extractOne(key, self.keys, scorer=fuzz.ratio, score_cutoff=cutoff)
            if not best:
                return None
            ids = self.exact[best[0]]
        if year is not None:
            by_year = [i for i in ids if self.catalog[i].year == year]
            if by_year:
                return by_year[0]
        return ids[0] if len(ids) == 1 or year is None else None


@lru_cache(maxsize=8)
def _index_for(catalog_id: int, catalog: Catalog) -> TitleIndex:  # noqa: ARG001 - cache key
    return TitleIndex(catalog)


def title_index(catalog: Catalog) -> TitleIndex:
    """The (cached) title index of a catalog."""
    return _index_for(id(catalog), catalog)


class Extraction(BaseModel):
    """What one message says, grounded in the catalog (ids, genres from its vocabulary)."""

    liked: list[int] = Field(default_factory=list)
    disliked: list[int] = Field(default_factory=list)
    seen: list[int] = Field(default_factory=list)
    excluded: list[int] = Field(default_factory=list)
    wanted_genres: list[str] = Field(default_factory=list)
    avoided_genres: list[str] = Field(default_factory=list)
    year_min: int | None = None
    year_max: int | None = None
    years_given: bool = False
    preferred_genres: list[str] = Field(default_factory=list)
    preferred_decades: list[int] = Field(default_factory=list)
    wish: str | None = None
    ambiguous: list[PendingChoice] = Field(default_factory=list)
    unknown_item_refs: list[int] = Field(default_factory=list)
    user_id: int | None = None
    allow_repeats: bool = False
    reset: bool = False
    injection: bool = False
    mentioned_titles: list[str] = Field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.liked or self.disliked or self.seen or self.excluded or self.wanted_genres
                    or self.avoided_genres or self.years_given or self.preferred_genres
                    or self.preferred_decades or self.wish or self.ambiguous
                    or self.user_id is not None)


class LLMExtraction(BaseModel):
    """The JSON an LLM is asked for; validated and grounded before it touches the state."""

    liked_titles: list[str] = Field(default_factory=list)
    disliked_titles: list[str] = Field(default_factory=list)
    seen_titles: list[str] = Field(default_factory=list)
    wanted_genres: list[str] = Field(default_factory=list)
    avoided_genres: list[str] = Field(default_factory=list)
    year_min: int | None = None
    year_max: int | None = None
    wishes: str | None = None


@dataclass
class CatalogExtractor:
    """Rule-based, catalog-grounded extraction of preferences from one message.

    >>> # ex = CatalogExtractor(catalog); ex.extract("I loved star wars but no horror", state)
    """

    catalog: Catalog
    index: TitleIndex = field(init=False)
    genre_map: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.index = title_index(self.catalog)
        vocab = {g.lower(): g for g in self.catalog.genres}
        self.genre_map = {}
        for phrase, canon in GENRE_SYNONYMS.items():
            g = vocab.get(canon.lower())
            if g:
                self.genre_map[normalize(phrase)] = g
        for low, g in vocab.items():
            self.genre_map[normalize(low)] = g
        self._genre_re = re.compile(
            r"\b(" + "|".join(sorted(map(re.escape, self.genre_map), key=len, reverse=True)) + r")\b"
        ) if self.genre_map else None
        years = self.index.years
        self.year_range = (years[0], years[-1]) if years else (YEAR_LO, YEAR_HI)

    # ---- genres -------------------------------------------------------------------------
    def genre_of(self, term: str) -> str | None:
        """The catalog genre a word or phrase means ("sci-fi", "cartoons" -> Animation), or None."""
        return self.genre_map.get(normalize(term)) or self.genre_map.get(normalize(term).rstrip("s"))

    # ---- titles -------------------------------------------------------------------------
    def find_titles(self, text: str) -> list[TitleMention]:
        """Catalog titles named in `text`: exact n-grams, franchise prefixes, then fuzzy spans."""
        toks = _tokens(text)
        idx = self.index
        out: list[TitleMention] = []
        covered = [False] * len(toks)
        sentence_starts = {0}
        for i in range(1, len(toks)):
            gap = text[toks[i - 1][2]:toks[i][1]]
            if _SENTENCE.search(gap):
                sentence_starts.add(i)
        for m in self._quoted_titles(text):
            out.append(m)
            for j, (_, s, e) in enumerate(toks):
                if s >= m.start and e <= m.end:
                    covered[j] = True
        i = 0
        while i < len(toks):
            if covered[i]:
                i += 1
                continue
            found = None
            free = 0
            while i + free < len(toks) and not covered[i + free]:
                free += 1
            for n in range(min(idx.max_tokens, free), 0, -1):
                key = " ".join(t for t, _, _ in toks[i:i + n])
                if key in _STOP or key in self.genre_map:
                    continue
                exact = idx.exact.get(key)
                if exact and n == 1 and not self._single_ok(text, toks, i, sentence_starts):
                    continue
                if exact:
                    found = (n, key)
                    break
                # a franchise prefix ("indiana jones"), never one that starts or ends in a
                # function word ("looking for" is not "Looking for Richard")
                if n >= 2 and key in idx.prefix and toks[i][0] not in _STOP and (
                        toks[i + n - 1][0] not in _STOP):
                    shortest = min(len(self.index.key_of[o].split()) for o in idx.prefix[key])
                    if n / shortest >= 0.5:
                        found = (n, key)
                        break
            if not found:
                i += 1
                continue
            n, key = found
            options = idx.options(key)
            end = toks[i + n - 1][2]
            # a year right after the title picks among same-name or franchise titles
            if i + n < len(toks) and re.fullmatch(r"\d{4}", toks[i + n][0]):
                year = int(toks[i + n][0])
                by_year = [o for o in options if self.catalog[o].year == year]
                if by_year:
                    options = by_year[:1]
                    end = toks[i + n][2]
                    n += 1
                    if i + n <= len(toks) and text[end:end + 1] == ")":
                        end += 1
            ambiguous = len(options) > 1
            if ambiguous and not idx.exact.get(key) and len(options) > 8:
                options = sorted(options, key=lambda o: self.catalog[o].year or 0)[:8]
            out.append(TitleMention(text[toks[i][1]:end], toks[i][1], end, options[:8], ambiguous))
            for j in range(i, min(i + n, len(toks))):
                covered[j] = True
            i += n
        out += self._fuzzy_titles(text, toks, covered)
        out.sort(key=lambda m: m.start)
        return out

    def _quoted_titles(self, text: str) -> list[TitleMention]:
        """Titles written in quotes ('I loved "The Godfather" (1972)'): the whole quoted text is
        looked up, so an exact title is not mistaken for the start of a longer one."""
        out = []
        for q in re.finditer(r"[\"“]([^\"“”\n]{1,150})[\"”]", text):
            inner = q.group(1)
            year = None
            ym = re.search(r"\s*\((\d{4})\)\s*$", inner)
            if ym:
                year, inner = int(ym.group(1)), inner[: ym.start()]
            end = q.end()
            after = re.match(r"\s*\((\d{4})\)", text[end:])
            if year is None and after:
                year, end = int(after.group(1)), end + after.end()
            toks = [t for t, _, _ in _tokens(inner)]
            if toks and toks[0] in _ARTICLES and len(toks) > 1:
                toks = toks[1:]
            key = " ".join(toks)
            ids = list(self.index.exact.get(key, []))
            if not ids and len(key) >= 8:
                hit = process.extractOne(key, self.index.keys, scorer=fuzz.ratio, score_cutoff=90)
                ids = list(self.index.exact[hit[0]]) if hit else []
            if year is not None:
                ids = [i for i in ids if self.catalog[i].year == year] or ids
            if ids:
                out.append(TitleMention(text[q.start():end], q.start(), end, ids[:8], len(ids) > 1))
        return out

    def _single_ok(self, text: str, toks: list, i: int, sentence_starts: set[int]) -> bool:
        tok, s, e = toks[i]
        raw = text[s:e]
        if len(tok) < 2:
            return False
        quoted = s > 0 and text[s - 1] in "\"'“‘«" and e < len(text) and text[e] in "\"'”’»"
        if quoted:
            return True
        if raw[0].isupper() and i not in sentence_starts and not raw.isupper():
            return True
        if raw[0].isupper() and raw.isupper() and len(raw) > 1 and i not in sentence_starts:
            return True
        return len(tok) >= 6 and tok not in _COMMON and not tok.isdigit()

    def _fuzzy_titles(self, text: str, toks: list, covered: list[bool]) -> list[TitleMention]:
        """Typos ("shawshenk redemption"): spans of 2-6 words after a cue word, ratio >= 88."""
        out = []
        i = 0
        while i < len(toks):
            if covered[i] or not _TRIGGERS.search(text[max(0, toks[i][1] - 12):toks[i][1]].lower()):
                i += 1
                continue
            start = i + 1 if toks[i][0] in _ARTICLES else i
            best = None
            for n in range(6, 1, -1):
                span = toks[start:start + n]
                if len(span) < n or any(covered[start:start + n]):
                    continue
                key = " ".join(t for t, _, _ in span)
                if len(key) < 8:
                    continue
                hit = process.extractOne(key, self.index.keys, scorer=fuzz.ratio, score_cutoff=88)
                if hit and (best is None or hit[1] > best[1]):
                    best = (hit[0], hit[1], n)
            if best:
                key, _, n = best
                s, e = toks[i][1], toks[start + n - 1][2]
                opts = self.index.options(key)
                out.append(TitleMention(text[s:e], s, e, opts[:8], len(opts) > 1))
                for j in range(i, start + n):
                    covered[j] = True
                i = start + n
            else:
                i += 1
        return out

    def _polarities(self, text: str, mentions: list[TitleMention]) -> None:
        low = text.lower()
        prev: TitleMention | None = None
        plural: set[int] = set()  # mentions followed by a verdict on several ("liked them")
        for k, m in enumerate(mentions):
            gap_start = prev.end if prev else 0
            gap = low[gap_start:m.start]
            sent = list(_SENTENCE.finditer(gap))
            if sent:
                gap = gap[sent[-1].end():]
                same_sentence = False
            else:
                same_sentence = prev is not None
            cues = list(_POLARITY_CUES.finditer(gap))
            if cues:
                pol = cues[-1].lastgroup
            elif same_sentence and prev is not None and not _CONTRAST.search(gap):
                pol = prev.polarity
            else:
                pol = "liked"
            nxt = mentions[k + 1].start if k + 1 < len(mentions) else len(text)
            tail = low[m.end:nxt]
            stop = _SENTENCE.search(tail)
            tail = tail[: stop.start()] if stop else tail
            post = list(_POST_CUES.finditer(tail[:60]))
            if post:
                pol = post[0].lastgroup
                if re.search(r"\b(?:them|they|those|both|all)\b", tail[:60]):
                    plural.add(k)
            m.polarity = pol  # type: ignore[assignment]
            prev = m
        # a list of titles shares the verdict after its last one ("seen A, B and C and liked them")
        group: list[int] = []
        for k in [*range(len(mentions)), None]:
            if k is not None and group and _LIST_GAP.fullmatch(
                    low[mentions[group[-1]].end:mentions[k].start]):
                group.append(k)
                continue
            if len(group) > 1 and group[-1] in plural:
                for g in group[:-1]:
                    mentions[g].polarity = mentions[group[-1]].polarity
            group = [k] if k is not None else []

    # ---- genres and years ---------------------------------------------------------------
    def _genres(self, masked: str) -> tuple[list[str], list[str], list[str]]:
        """(asked for, avoided, of the user's taste) genres named in the message."""
        wanted: list[str] = []
        avoided: list[str] = []
        taste: list[str] = []
        if self._genre_re is None:
            return wanted, avoided, taste
        norm = _fold(masked).replace("'", "").replace("’", "")
        norm = " " + re.sub(r"[^\w\s]", " . ", re.sub(r"[-_/]", " ", norm)) + " "
        prev_end, prev_neg = 0, None
        for m in self._genre_re.finditer(norm):
            g = self.genre_map[m.group(1)]
            window = norm[prev_end:m.start()]
            clause = re.split(r"\bbut\b|\bhowever\b|\.|;|!|\?", window)[-1]
            tail = " ".join(clause.split()[-4:])
            if _GENRE_NEG.search(tail) or _GENRE_NEG_AFTER.match(norm, m.end()):
                neg = True
            elif prev_neg is not None and re.fullmatch(r"\s*(?:,|or|and|nor|/|\s)*\s*", clause):
                neg = prev_neg
            else:
                neg = False
            if neg:
                avoided.append(g)
            else:
                (taste if _is_taste(norm, m.start(), m.end()) else wanted).append(g)
            prev_end, prev_neg = m.end(), neg
        wanted = [g for g in dict.fromkeys(wanted) if g not in avoided]
        taste = [g for g in dict.fromkeys(taste) if g not in avoided and g not in wanted]
        return wanted, list(dict.fromkeys(avoided)), taste

    def _years(self, masked: str) -> tuple[int | None, int | None, bool, int | None]:
        """(year_min, year_max, whether years were given, a decade of the user's taste)."""
        t = " " + _fold(masked) + " "
        lo: int | None = None
        hi: int | None = None
        given = False
        taste_decade: int | None = None

        def ok(y: int) -> bool:
            return YEAR_LO <= y <= YEAR_HI

        for m in re.finditer(r"\b(?:between|from)?\s*(\d{4})\s*(?:-|–|to|and|until|through)\s*"
                             r"(\d{4})\b", t):
            a, b = int(m.group(1)), int(m.group(2))
            if ok(a) and ok(b) and a <= b and ("between" in m.group(0) or "from" in m.group(0)
                                               or re.search(r"-|–|to|through", m.group(0))):
                return a, b, True, None
        decade = re.search(r"\b(?:(early|mid|late)[\s-]+)?(?:the\s+)?['’]?(\d{2}|\d{4})['’]?s\b", t)
        word = re.search(r"\b(?:(early|mid|late)[\s-]+)?(" + "|".join(_DECADE_WORDS) + r")\b", t)
        start = None
        part = None
        if decade:
            d = decade.group(2)
            if len(d) == 4 and d.endswith("0"):
                start = int(d)
            elif len(d) == 2 and d.endswith("0"):
                start = (1900 if int(d) >= 20 else 2000) + int(d)
            part = decade.group(1)
        elif word:
            start, part = _DECADE_WORDS[word.group(2)], word.group(1)
        if start is not None and ok(start):
            hit = decade or word
            neg = re.search(r"\b(?:no|not|nothing|except|avoid)\b[^.]{0,20}$",
                            t[: hit.start()])  # type: ignore[union-attr]
            if not neg and part is None and _is_taste(t, hit.start(), hit.end()):  # type: ignore[union-attr]
                taste_decade = start
            elif not neg:
                lo, hi = start, start + 9
                if part == "early":
                    hi = start + 4
                elif part == "late":
                    lo = start + 5
                elif part == "mid":
                    lo, hi = start + 3, start + 7
                return lo, hi, True, None
        for m in re.finditer(r"\b(nothing |not |no )?(after|since|newer than|later than|post|"
                             r"from|before|until|till|older than|earlier than|pre|prior to|up to|"
                             r"in)[\s-]+(\d{4})(\s+(?:on|onwards|or later|and later|or newer|"
                             r"and up|or earlier|and earlier|or older))?\b", t):
            neg, word_, y, suffix = m.group(1), m.group(2), int(m.group(3)), (m.group(4) or "")
            if not ok(y):
                continue
            given = True
            after_words = ("after", "since", "newer than", "later than", "post")
            before_words = ("before", "until", "till", "older than", "earlier than", "pre",
                            "prior to", "up to")
            if word_ in ("from", "in") and not suffix.strip():
                lo, hi = y, y
                if "on" in suffix:
                    hi = None
                continue
            if word_ in ("from", "in") or suffix.strip() in ("on", "onwards", "or later",
                                                            "and later", "or newer", "and up"):
                if "earlier" in suffix or "older" in suffix:
                    hi = y
                else:
                    lo = y
                continue
            if word_ in after_words:
                if neg:
                    hi = y
                else:
                    lo = y + 1 if word_ in ("after", "newer than", "later than", "post") else y
            elif word_ in before_words:
                if neg:
                    lo = y
                else:
                    hi = y - 1 if word_ in ("before", "older than", "earlier than", "pre",
                                            "prior to") else y
        if re.search(r"\b(?:recent|latest|newest)\b", t) and lo is None:
            lo, given = self.year_range[1] - 3, True
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        return lo, hi, given, taste_decade

    # ---- the whole message --------------------------------------------------------------
    def extract(self, message: str, state: DialogueState | None = None) -> Extraction:
        """Extract everything one message says. `state` resolves "the first one" and pending choices."""
        state = state or DialogueState()
        ex = Extraction()
        text = message.strip()
        if not text:
            return ex
        ex.injection = bool(_INJECTION.search(text))
        ex.allow_repeats = bool(_REPEAT.search(text))
        ex.reset = bool(_RESET.search(text))
        masked = text
        # explicit ids: "item 50", "recommend item 999999"
        for m in _ITEM_REF.finditer(text):
            iid = int(m.group(1))
            if iid in self.catalog:
                ex.liked.append(iid)
                ex.mentioned_titles.append(self.catalog[iid].label)
            else:
                ex.unknown_item_refs.append(iid)
            masked = masked[: m.start()] + " " * (m.end() - m.start()) + masked[m.end():]
        for m in _USER_REF.finditer(masked):
            ex.user_id = int(m.group(1))
            masked = masked[: m.start()] + " " * (m.end() - m.start()) + masked[m.end():]
        # an answer to "which one did you mean?"
        if state.pending is not None:
            pick = self._resolve_pending(masked, state.pending)
            if pick is not None:
                self._add(ex, pick, state.pending.polarity)
                ex.mentioned_titles.append(self.catalog[pick].label)
                # the answer's year or ordinal picked the title; it is not a year constraint
                year = self.catalog[pick].year
                for rx in ([re.compile(rf"\b{year}\b")] if year else []) + [_ORDINAL_RE]:
                    masked = rx.sub(lambda m: " " * len(m.group(0)), masked)
        # "the first one", "#2" -> the last list shown
        if state.last_recommended:
            for m in _ORDINAL_RE.finditer(masked):
                pos = _ORDINALS.get((m.group(1) or "").lower()) if m.group(1) else (
                    int(m.group(2)) - 1)
                if pos is None or not (-len(state.last_recommended) <= pos
                                       < len(state.last_recommended)):
                    continue
                iid = state.last_recommended[pos]
                before = masked[:m.start()].lower()
                cut = list(_CONTRAST.finditer(before))
                before = before[cut[-1].end():] if cut else before
                after = masked[m.end():].lower()
                stop = _CONTRAST.search(after)
                after = after[: stop.start()] if stop else after
                cues = list(_POLARITY_CUES.finditer(before)) or list(_POST_CUES.finditer(after))
                pol = cues[-1].lastgroup if cues else "liked"
                self._add(ex, iid, "disliked" if pol in ("disliked", "excluded") else pol)
                masked = masked[: m.start()] + " " * (m.end() - m.start()) + masked[m.end():]
        mentions = self.find_titles(masked)
        if state.pending is not None and ex.liked + ex.disliked + ex.seen:
            # the title that answered the question is already recorded
            answered = [m for m in mentions if set(m.ids) & set(state.pending.options)]
            mentions = [m for m in mentions if m not in answered]
            for m in answered:
                masked = masked[: m.start] + " " * (m.end - m.start) + masked[m.end:]
        self._polarities(masked, mentions)
        for m in mentions:
            if m.ambiguous:
                ex.ambiguous.append(PendingChoice(mention=m.text, options=m.ids, polarity=m.polarity))
            else:
                self._add(ex, m.ids[0], m.polarity)
                ex.mentioned_titles.append(self.catalog[m.ids[0]].label)
            masked = masked[: m.start] + " " * (m.end - m.start) + masked[m.end:]
        ex.wanted_genres, ex.avoided_genres, ex.preferred_genres = self._genres(masked)
        ex.year_min, ex.year_max, ex.years_given, decade = self._years(masked)
        ex.preferred_decades = [decade] if decade is not None else []
        genre_words = {w for k in self.genre_map for w in k.split()}
        content = [t for t, _, _ in _tokens(masked)
                   if t not in _STOP and t not in genre_words and not t.isdigit()
                   and t.rstrip("s") not in self.genre_map and len(t) > 2]
        if content and not ex.injection:
            ex.wish = " ".join(text.split())[:200]
        return ex

    def _resolve_pending(self, text: str, pending: PendingChoice) -> int | None:
        low = _fold(text)
        for y in re.findall(r"\b(\d{4})\b", low):
            hit = [o for o in pending.options if self.catalog[o].year == int(y)]
            if hit:
                return hit[0]
        m = _ORDINAL_RE.search(text) or re.fullmatch(r"\s*(?:(\d)|(first|second|third|fourth|"
                                                     r"fifth|last))\W*", low)
        if m:
            g1, g2 = m.group(1), m.group(2)
            pos = _ORDINALS.get(g1.lower()) if g1 and not g1.isdigit() else (
                int(g1) - 1 if g1 else (int(g2) - 1 if g2 and g2.isdigit() else _ORDINALS.get(g2 or "")))
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

    @staticmethod
    def _add(ex: Extraction, item_id: int, polarity: str) -> None:
        for lst in (ex.liked, ex.disliked, ex.seen, ex.excluded):
            if item_id in lst:
                lst.remove(item_id)
        getattr(ex, polarity).append(item_id)

    # ---- LLM extraction -----------------------------------------------------------------
    def ground_llm(self, raw: dict | str, message: str) -> Extraction:
        """Validate an LLM's JSON extraction: titles must be catalog items named in the message,
        genres must map onto the catalog's vocabulary, years must be plausible. Invalid parts drop."""
        try:
            data = LLMExtraction.model_validate_json(raw) if isinstance(raw, str) else (
                LLMExtraction.model_validate(raw))
        except ValidationError:
            return Extraction()
        ex = Extraction()
        norm_msg = normalize(message)
        for pol, titles in (("liked", data.liked_titles), ("disliked", data.disliked_titles),
                            ("seen", data.seen_titles)):
            for title in titles[:10]:
                if not isinstance(title, str):
                    continue
                iid = self.index.resolve(title)
                if iid is None:
                    continue
                name = normalize(re.sub(r"\(\d{4}\)", "", self.catalog[iid].title))
                if fuzz.partial_ratio(name, norm_msg) < 85:
                    continue  # not grounded in what the user wrote
                self._add(ex, iid, pol)
        for g in data.wanted_genres[:10]:
            cg = self.genre_of(str(g))
            if cg and cg not in ex.wanted_genres:
                ex.wanted_genres.append(cg)
        for g in data.avoided_genres[:10]:
            cg = self.genre_of(str(g))
            if cg and cg not in ex.avoided_genres:
                ex.avoided_genres.append(cg)
        ex.wanted_genres = [g for g in ex.wanted_genres if g not in ex.avoided_genres]
        lo, hi = data.year_min, data.year_max
        lo = lo if lo is not None and YEAR_LO <= lo <= YEAR_HI else None
        hi = hi if hi is not None and YEAR_LO <= hi <= YEAR_HI else None
        if lo is not None and hi is not None and lo > hi:
            lo = hi = None
        ex.year_min, ex.year_max, ex.years_given = lo, hi, lo is not None or hi is not None
        if data.wishes and isinstance(data.wishes, str) and data.wishes.strip():
            ex.wish = data.wishes.strip()[:200]
        return ex


def merge(rules: Extraction, llm: Extraction) -> Extraction:
    """Rules win on conflicts; the LLM adds items, genres and years the rules did not find."""
    out = rules.model_copy(deep=True)
    known = set(out.liked) | set(out.disliked) | set(out.seen) | set(out.excluded)
    for pol in ("liked", "disliked", "seen"):
        for iid in getattr(llm, pol):
            if iid not in known and not any(iid in a.options for a in out.ambiguous):
                getattr(out, pol).append(iid)
                known.add(iid)
    for g in llm.wanted_genres:
        if g not in out.avoided_genres and g not in out.wanted_genres and g not in out.preferred_genres:
            out.wanted_genres.append(g)
    for g in llm.avoided_genres:
        if g not in out.wanted_genres and g not in out.avoided_genres:
            out.avoided_genres.append(g)
    if not out.years_given and llm.years_given:
        out.year_min, out.year_max, out.years_given = llm.year_min, llm.year_max, True
    if not out.wish and llm.wish:
        out.wish = llm.wish
    return out


def apply(state: DialogueState, ex: Extraction, *, max_wishes: int = 3) -> DialogueState:
    """A new state with the extraction applied (the input state is not changed)."""
    new = DialogueState(turns=state.turns, recommended=list(state.recommended),
                        feedback=list(state.feedback)) if ex.reset else state.model_copy(deep=True)
    if state.pending is not None:
        new.pending = None
    for pol in ("liked", "disliked", "seen", "excluded"):
        for iid in getattr(ex, pol):
            new.add_item(iid, pol)
    for g in ex.wanted_genres:
        new.want_genre(g, True)
    for g in ex.avoided_genres:
        new.want_genre(g, False)
    for g in ex.preferred_genres:
        if g not in new.wanted_genres:
            new.prefer_genre(g)
    for d in ex.preferred_decades:
        if d not in new.preferred_decades:
            new.preferred_decades.append(d)
    if ex.years_given:
        if ex.year_min is not None and ex.year_max is not None:
            new.year_min, new.year_max = ex.year_min, ex.year_max
        elif ex.year_min is not None:
            new.year_min = ex.year_min
            if new.year_max is not None and new.year_max < ex.year_min:
                new.year_max = None
        elif ex.year_max is not None:
            new.year_max = ex.year_max
            if new.year_min is not None and new.year_min > ex.year_max:
                new.year_min = None
    if ex.wish:
        new.wishes = (new.wishes + [ex.wish])[-max_wishes:]
    if ex.user_id is not None:
        new.user_id = ex.user_id
    if ex.ambiguous:
        new.pending = ex.ambiguous[0]
    return new


def unique(ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(ids))

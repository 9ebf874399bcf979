"""The stretches of a message that name catalog titles: quoted titles, exact n-grams, franchise
prefixes and typos after a cue, each read as a TitleMention with what makes it weak or ambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from genrec.agent.preferences import Polarity
from genrec.agent.understanding.text import SENTENCE_END, fold, tokens
from genrec.agent.understanding.title_typos import Typo, find_typos
from genrec.agent.understanding.titles import NO_PRIOR, TitleIndex, TitlePrior, title_key
from genrec.agent.understanding.vocabulary import (
    ARTICLES,
    COMMON_TITLE_WORDS,
    STOP_WORDS,
    VERDICT_AFTER,
)

_TITLE_PUNCT = re.compile(r"[.!?…]+$")
_QUOTED = re.compile(r"[\"“]([^\"“”\n]{1,150})[\"”]")
Token = tuple[str, int, int]


@dataclass
class TitleMention:
    """A stretch of the message that names one catalog item (or several, when ambiguous)."""

    text: str
    start: int
    end: int
    ids: list[int]
    ambiguous: bool = False
    polarity: Polarity = "liked"
    alternatives: tuple[int, ...] = ()
    """Longer titles the words also begin ("Alien" -> Alien 3), when the exact title was taken."""
    weak: bool = False
    """Only a common word names it ("Heat", capitalised, no cue): ask before recording."""
    compared: bool = False
    """Named to describe another film ("it's like X"): mentioned, not judged."""
    rare: bool = False
    """A film few people know, named by one word ("I saw Parasite" when the catalog's Parasite is
    a 1982 film rated twice): asked about whatever the cues say."""


FindTitles = Callable[[str], list[TitleMention]]
"""Finds the catalog titles a text names (`CatalogExtractor.find_titles`)."""


def find_titles(
    index: TitleIndex,
    text: str,
    *,
    not_titles: Collection[str] = (),
    prior: TitlePrior = NO_PRIOR,
) -> list[TitleMention]:
    """Catalog titles named in `text`: quoted titles, exact n-grams, franchise prefixes, then fuzzy
    spans after a cue word. Keys in `not_titles` (genre words) are never taken for a title.

    Returns the mentions in text order; a year right after a title picks among same-name titles,
    else the `prior` does when one film of the name is far better known ("The Thing" is 1982's).
    """
    toks = tokens(text)
    out: list[TitleMention] = []
    covered = [False] * len(toks)
    sentence_starts = _sentence_starts(text, toks)
    for m in _quoted_titles(index, text, prior):
        out.append(m)
        for j, (_, s, e) in enumerate(toks):
            if s >= m.start and e <= m.end:
                covered[j] = True
    i = 0
    while i < len(toks):
        if covered[i]:
            i += 1
            continue
        found = _title_at(index, text, toks, i, covered, sentence_starts, not_titles, prior)
        if not found:
            i += 1
            continue
        mention, n = _mention_at(index, text, toks, i, *found, prior=prior)
        if mention is not None:
            out.append(mention)
            for j in range(i, min(i + n, len(toks))):
                covered[j] = True
        i += n
    for j in _listed_before(index, text, toks, covered):
        mention, _ = _mention_at(index, text, toks, j, 1, toks[j][0], prior=prior)
        if mention is not None:
            out.append(mention)
            covered[j] = True
    out += [_typo_mention(index, text, toks, t)
            for t in find_typos(index, text, toks, covered, not_titles, prior)]
    out.sort(key=lambda m: m.start)
    return out


def _sentence_starts(text: str, toks: list[Token]) -> set[int]:
    """The indexes of the tokens that open a sentence."""
    sentence_starts = {0}
    for i in range(1, len(toks)):
        if SENTENCE_END.search(text[toks[i - 1][2]:toks[i][1]]):
            sentence_starts.add(i)
    return sentence_starts


def _title_at(
    index: TitleIndex,
    text: str,
    toks: list[Token],
    i: int,
    covered: list[bool],
    sentence_starts: set[int],
    not_titles: Collection[str],
    prior: TitlePrior = NO_PRIOR,
) -> tuple[int, str] | None:
    """The longest exact title or franchise prefix that starts at toks[i] (its length in tokens
    and its key), within the tokens not yet covered by another mention; None when there is none."""
    free = 0
    while i + free < len(toks) and not covered[i + free]:
        free += 1
    for n in range(min(index.max_tokens, free), 0, -1):
        key = " ".join(t for t, _, _ in toks[i:i + n])
        if key in STOP_WORDS or key in not_titles:
            continue
        exact = index.exact.get(key)
        if exact and n == 1 and not _single_word_ok(
                text, toks, i, sentence_starts, covered, any(map(prior.well_known, exact))):
            continue
        if exact and not _whole_mention(text, toks[i][1], toks[i + n - 1][2], key, quoted=False):
            # a shorter title may be whole: "The Rock, The Silence of the Lambs" is not "Rock, The"
            continue
        if exact:
            return n, key
        # a franchise prefix ("indiana jones"), never one that starts or ends in a
        # function word ("looking for" is not "Looking for Richard")
        if n >= 2 and key in index.prefix and toks[i][0] not in STOP_WORDS and (
                toks[i + n - 1][0] not in STOP_WORDS):
            shortest = min(len(index.key_of[o].split()) for o in index.prefix[key])
            if n / shortest >= 0.5:
                return n, key
    return None


def _mention_at(
    index: TitleIndex, text: str, toks: list[Token], i: int, n: int, key: str,
    prior: TitlePrior = NO_PRIOR,
) -> tuple[TitleMention | None, int]:
    """The mention of the title `key` found at toks[i:i + n], with the number of tokens it takes
    (a year after it included); None, with the tokens to skip, when the words mean no catalog
    film."""
    catalog = index.catalog
    options = index.options(key)
    end = toks[i + n - 1][2]
    start = toks[i][1]
    if not _whole_mention(text, start, end, key, quoted=False):
        # a word of a longer title ("Friday Night Lights", "The Wolf of Wall Street")
        return None, n
    # a year right after the title picks among same-name or franchise titles; a year no
    # catalog item of that name has, or a sequel number, means another film ("The Blob (1988)")
    nxt = toks[i + n][0] if i + n < len(toks) else None
    if (
        nxt is not None
        and re.fullmatch(r"\d{4}", nxt)
        and re.match(r"\s*\(?\s*\d{4}", text[end:])
    ):
        year = int(nxt)
        by_year = [o for o in options if catalog[o].year == year]
        if not by_year:
            return None, n + 1
        options = by_year[:1]
        end = toks[i + n][2]
        n += 1
        if i + n <= len(toks) and text[end:end + 1] == ")":
            end += 1
    elif (
        nxt is not None
        and re.fullmatch(r"[2-9]|ii|iii|iv|v|vi|part", nxt)
        and re.match(r"\s+\w", text[end:])
    ):
        # "Terminator 2", "Alien part 2": a sequel the catalog does not have by that name
        return None, n + 1
    if _is_a_date(text, start, key):
        return None, n  # "Happy Friday!", "getting ready for Halloween", "Merry Christmas"
    if _LATER_FILM_BEFORE.search(text[max(0, start - 30):start]):
        # "the new Lion King", "the second Alien": not the catalog's film of that name
        return None, n
    weak = False
    if not _cased_or_cued(text, start, end, key):
        if n > 1 and not _phrase_ok(text, start, key):
            return None, n  # "my family", "good morning": everyday words, no sign a film is meant
        weak = n == 1
    alternatives: tuple[int, ...] = ()
    exact_ids = [o for o in index.exact.get(key, []) if o in options]
    known = prior.dominant(exact_ids)
    if known is not None:  # "The Thing" is the 1982 film; the note names the others
        options, alternatives = [known], tuple(o for o in options if o != known)[:7]
    elif len(options) > 1 and len(exact_ids) == 1 and options[0] == exact_ids[0]:
        # the exact title is that title ("Alien" is Alien (1979)); the note names the others
        options, alternatives = exact_ids[:1], tuple(options[1:8])
    ambiguous = len(options) > 1
    if ambiguous and not exact_ids and len(options) > 8:
        options = sorted(options, key=lambda o: catalog[o].year or 0)[:8]
    rare = prior.rare(options[0]) and len(key.split()) == 1
    weak = weak or (
        n == 1
        and key in COMMON_TITLE_WORDS
        and not _CUED_BEFORE.search(text[:start].lower())
        and not VERDICT_AFTER.match(text[end:].lower())
    )
    closing = _TITLE_PUNCT.search(catalog[options[0]].title)
    if closing and text.startswith(closing.group(0), end):
        end += len(closing.group(0))  # "When Harry Met Sally...", "Airplane!": the title's own stop
    mention = TitleMention(text[toks[i][1]:end], toks[i][1], end, options[:8], ambiguous,
                           alternatives=alternatives, weak=(weak or rare) and not ambiguous,
                           rare=rare and not ambiguous)
    return mention, n


def _quoted_titles(
    index: TitleIndex, text: str, prior: TitlePrior = NO_PRIOR
) -> list[TitleMention]:
    """Titles written in quotes ('I loved "The Godfather" (1972)'): the whole quoted text is
    looked up, so an exact title is not mistaken for the start of a longer one."""
    out = []
    for q in _QUOTED.finditer(text):
        inner = q.group(1)
        year = None
        ym = re.search(r"\s*\((\d{4})\)\s*$", inner)
        if ym:
            year, inner = int(ym.group(1)), inner[: ym.start()]
        end = q.end()
        after = re.match(r"\s*\((\d{4})\)", text[end:])
        if year is None and after:
            year, end = int(after.group(1)), end + after.end()
        key = title_key(inner)
        ids = list(index.exact.get(key, []))
        if not ids and len(key) >= 8:
            hit = process.extractOne(key, index.keys, scorer=fuzz.ratio, score_cutoff=90)
            ids = list(index.exact[hit[0]]) if hit else []
        if year is not None:
            ids = [i for i in ids if index.catalog[i].year == year] or ids
        known = prior.dominant(ids)
        if known is not None:  # '"Saw"' is the 2004 film (a short of 2003 shares the name)
            ids = [known, *(i for i in ids if i != known)]
        if ids:
            out.append(TitleMention(text[q.start():end], q.start(), end, ids[:8],
                                    len(ids) > 1 and known is None,
                                    alternatives=tuple(ids[1:8]) if known else ()))
    return out


_CUED_BEFORE = re.compile(
    r"\b(?:loved?|liked?|enjoyed|enjoy|hated?|disliked?|saw|watched|seen|adored?|rewatch(?:ed)?|"
    r"(?:re)?watching|(?:favou?rite|fave?) (?:is|was)|fan of|like|than|as good as|similar to|"
    r"such as|along the lines of|in the vein of|get through|finish|asleep during)\s+(?:the\s+)?$"
)
_ASKS_ABOUT_BEFORE = re.compile(r"\b(?:is|was|seen|heard of|about|watched|watch|in)\s+(?:the\s+)?$")
"""Question words right before a lower-case title in a question ("is fargo any good?")."""
_LATER_FILM_BEFORE = re.compile(
    r"\b(?:new|newer|newest|latest|upcoming|remake of|remake of the|second|third|fourth|"
    r"2nd|3rd|4th|next|live action|live-action)\s+$",
    re.IGNORECASE,
)
_DATES = frozenset({
    "christmas", "xmas", "halloween", "thanksgiving", "easter", "holidays", "holiday", "new year",
    "new years", "valentines", "valentines day", "mothers day", "fathers day", "monday", "tuesday",
    "wednesday", "thursday", "friday", "saturday", "sunday", "weekend", "birthday", "summer",
    "winter", "spring"})
"""Days, seasons and holidays: with a word of time before them they are dates, not titles."""
_DATE_BEFORE = re.compile(
    r"\b(?:happy|merry|ready for|on|over|this|next|last|until|till|since|during|around|before|"
    r"after|every|each)\s+$",
    re.IGNORECASE,
)


def _is_a_date(text: str, start: int, key: str) -> bool:
    """Is the title at text[start] a day or holiday said as one ("Happy Friday", "on Friday",
    "ready for Halloween"), or a holiday greeting ("Merry Christmas!")?"""
    words = key.split()
    if words[0] in ("merry", "happy") and " ".join(words[1:]) in _DATES:
        return not re.search(r"\w", text[:start])  # "Merry Christmas!" opening a message
    return key in _DATES and bool(_DATE_BEFORE.search(text[max(0, start - 20):start]))


_CONNECTOR = r"(?:of|the|v|vs|versus|in|on|at|to|from|with|for|a|an|&)"
_LONGER_AFTER = re.compile(r"(?::\s*|\s+(?:" + _CONNECTOR + r"\s+)*)(?!I\b)[A-Z][\w'’]*")
_LONGER_BEFORE = re.compile(
    r"(?<![.!?]\s)(?<!^)\b(?!I\b|The\b|A\b|An\b)[A-Z][\w'’]*:?\s+(?:" + _CONNECTOR + r"\s+)?$"
)


def _whole_mention(text: str, start: int, end: int, key: str, *, quoted: bool) -> bool:
    """Is text[start:end] the whole of what names a film, not a word of a longer title that starts
    or goes on in capitals ("Friday Night Lights", "Batman v Superman", "Avengers: Infinity
    War")?"""
    if quoted or not text[start:start + 1].isupper():
        return True
    after = _LONGER_AFTER.match(text, end)
    if after and not _STOP_AFTER.match(after.group(0).strip(" :").split()[-1]):
        return False
    before = text[max(0, start - 40):start]
    return not (_LONGER_BEFORE.search(before) and not _SENTENCE_START.search(before))


_STOP_AFTER = re.compile(
    r"^(?:And|Or|But|So|Then|Also|Yes|No|Lol|Haha|Thanks|Netflix|Hulu|Prime|Amazon|Disney\+?|HBO|"
    r"Max|TV|DVD|VHS|YouTube|Redbox|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|"
    r"January|February|March|April|June|July|August|September|October|November|December|"
    r"Christmas|Halloween|Thanksgiving|Easter)$"
)
"""Capitalised words after a title that start no longer title ("Heat on Netflix", "Halloween on
Friday")."""
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n)\W*[A-Z][\w'’]*:?\s+$")


def _cased_or_cued(text: str, start: int, end: int, key: str) -> bool:
    """Does the message show that a film is meant: the title written in capitals as a title, in
    quotes, or right after a cue ("loved", "saw") or before a verdict ("... was great")?"""
    span = text[start:end]
    significant = [
        w
        for w in re.findall(r"[\w'’]+", span)
        if w.lower() not in STOP_WORDS or w == span.split()[0]
    ]
    if significant and all(w[0].isupper() or w[0].isdigit() for w in significant):
        return True
    if start > 0 and text[start - 1] in "\"'“‘«":
        return True
    return bool(_CUED_BEFORE.search(fold(text[:start])) or VERDICT_AFTER.match(fold(text[end:])))


def _phrase_ok(text: str, start: int, key: str) -> bool:
    """May a lower-case title of several words stand without a cue? When two of its words are not
    everyday words ("the empire strikes back"), or one is and the writer writes all in lower case
    ("i want pulp fiction vibes"); never when all are everyday words ("my family", "good
    morning")."""
    distinctive = [
        w
        for w in key.split()
        if w not in STOP_WORDS and w not in COMMON_TITLE_WORDS and w not in _EVERYDAY
    ]
    if len(distinctive) >= 2:
        return True
    return len(distinctive) == 1 and not re.search(r"[A-Z]", re.sub(r"\bI\b", "", text))



_EVERYDAY = frozenset(
    "family kids good morning night day time life love home man woman world people "
    "friends house school last first next old new big little great best top story game "
    "party war boys girls dead end way out up down back together alone away real true "
    "stories happy things thing girl boy friend year years week weekend today tonight "
    "movie film show part two one three right wrong kind sort guys guy fun funny nice bad "
    "sure times heart mind something everything }"
    .split()
)
"""Words of everyday talk that a lower-case title made only of them needs a cue to be taken as."""


def _single_word_ok(text: str, toks: list[Token], i: int, sentence_starts: set[int],
                    covered: list[bool] | None = None, well_known: bool = True) -> bool:
    """May the one word toks[i] be a title? Quoted, the whole message, capitalised mid-sentence,
    after a cue ("loved alien") or a question word (only for a `well_known` film), before a
    verdict, or listed after a title ("the matrix and inception")."""
    tok, s, e = toks[i]
    raw = text[s:e]
    if len(tok) < 2:
        return False
    quoted = s > 0 and text[s - 1] in "\"'“‘«" and e < len(text) and text[e] in "\"'”’»"
    if quoted or fold(text).strip(" .!?\"'“”") == tok:  # quoted, or the whole message ("Alien")
        return True
    if not raw[0].isupper() and re.match(
        r"\s+(?:movies|films|flicks|ones|stuff|genre|type|kind)\b", text[e:].lower()
    ):
        return False  # "i love zombie movies": a kind of film, not the film "Zombie"
    if tok not in STOP_WORDS and tok not in COMMON_TITLE_WORDS and len(tok) >= 3:
        if _CUED_BEFORE.search(fold(text[:s])):
            return True  # "i loved alien"
        if well_known and _ASKS_ABOUT_BEFORE.search(fold(text[:s])) and "?" in text[e:e + 40]:
            return True  # "is fargo any good?", "have you seen alien?" (not "as in vacation?")
        if VERDICT_AFTER.match(fold(text[e:])):
            return True  # "Titanic was boring", "alien was great"
        if (
            covered
            and i >= 2
            and covered[i - 2]
            and toks[i - 1][0] in ("and", "or")
            or (
                covered
                and i >= 1
                and covered[i - 1]
                and re.fullmatch(r"\s*,\s*", text[toks[i - 1][2] : s])
            )
        ):
            return True  # "the matrix and inception": listed after a title
    if raw[0].isupper() and i not in sentence_starts and not raw.isupper():
        return True
    if raw[0].isupper() and VERDICT_AFTER.match(fold(text[e:])):
        # "Contact is my favorite movie", "Fargo was a very good movie.": a verdict on a film
        return True
    if raw[0].isupper() and raw.isupper() and len(raw) > 1 and i not in sentence_starts:
        return True
    # a lower-case word with no cue is a word ("enjoy your weekend", "a chance"), however rare
    return False


def _typo_mention(index: TitleIndex, text: str, toks: list[Token], typo: Typo) -> TitleMention:
    """The mention of a misspelt title: its exact film when the key has one ("incidious" is
    Insidious, not its chapters), else every film it could mean."""
    s, e = toks[typo.start][1], toks[typo.start + typo.n - 1][2]
    opts = index.options(typo.key)
    exact = index.exact.get(typo.key, [])
    alternatives: tuple[int, ...] = ()
    if len(exact) == 1 and len(opts) > 1:
        opts, alternatives = exact, tuple(o for o in opts if o != exact[0])[:7]
    return TitleMention(text[s:e], s, e, opts[:8], len(opts) > 1, alternatives=alternatives)


def _listed_before(
    index: TitleIndex, text: str, toks: list[Token], covered: list[bool]
) -> list[int]:
    """Capitalised one-word titles that open a list of titles found ("Elf, Groundhog Day, Home
    Alone"; "Heat and The Rock"): the tokens, not yet covered, that name them."""
    out = []
    for i, (tok, s, e) in enumerate(toks[:-1]):
        if covered[i] or tok in STOP_WORDS or tok not in index.exact or not text[s].isupper():
            continue
        k = i + 1
        if re.fullmatch(r"\s*[,&]\s*", text[e:toks[k][1]]) is None:
            if toks[k][0] != "and":
                continue
            k += 1
        if k < len(toks) and toks[k][0] in ARTICLES:
            k += 1
        if k < len(toks) and covered[k]:
            out.append(i)
    return out
